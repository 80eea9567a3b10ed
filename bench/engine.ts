/**
 * Engine benchmark (issue #2): planning overhead of lth-pipeline against Snakemake.
 *
 *   node --import tsx bench/engine.ts [--rounds N] [--skip-10k] [--keep] [--markdown] [--workdir DIR]
 *
 * --snake-fill write: instead of Snakemake's own first run, write its outputs directly (same bytes,
 * dependency order; see writeSnakeOutputs). Its dry run then finds no metadata in .snakemake/.
 * --workdir DIR: work in DIR (kept) instead of a fresh temp dir; a cache or Snakemake outputs
 * already filled there by an earlier invocation are reused (the fills are not part of the
 * comparison, and a 1,000-stage fill takes minutes in both tools on a busy 2-core machine).
 *
 * 1. Generates in a temp dir a 1,000-stage sweep DAG of trivial inline stages (bench/engine-gen.ts)
 *    as a pipeline file, and the equivalent 1,000-job Snakemake workflow.
 * 2. Fills both caches once (a real run of each; timed once for information), then times,
 *    interleaved over N rounds (the order rotates every round), a fully cached no-op
 *    `pipeline run`, `pipeline status`, and `snakemake -n` (dry run). Reports medians.
 * 3. Plans a 10,000-stage DAG: `pipeline status` and `pipeline run --dry-run` on an empty cache
 *    (every stage "not computed yet"): wall time and peak RSS.
 * 4. Prints a table with the ratios ours / Snakemake and the targets: no-op run < 1 s, and at
 *    most a quarter of Snakemake's time.
 *
 * Peak RSS of our CLI is the child's own `process.resourceUsage().maxRSS`, written at exit by a
 * preloaded data: module; Snakemake's comes from /usr/bin/time when it is installed.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dirname } from 'node:path';
import { SWEEP_10K, SWEEP_1K, stageCount, sweepPipeline, sweepSnakefile, writeSnakeOutputs, type SweepShape } from './engine-gen.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(REPO, 'bin', 'pipeline.js');
const API = join(REPO, 'src', 'index.ts');
const TIME = '/usr/bin/time';

const argv = process.argv.slice(2);
const flag = (name: string): boolean => argv.includes(name);
const option = (name: string): string | undefined => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const ROUNDS = Number(option('--rounds') ?? process.env.BENCH_ROUNDS ?? 5);
const SKIP_10K = flag('--skip-10k');
const WORKDIR = option('--workdir');
const KEEP = flag('--keep') || WORKDIR !== undefined;
const MARKDOWN = flag('--markdown');
const SNAKE_FILL = option('--snake-fill') ?? 'run';
if (SNAKE_FILL !== 'run' && SNAKE_FILL !== 'write') throw new Error('--snake-fill: run or write');
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error('--rounds: expected a positive integer');

// ---------------------------------------------------------------------------------------------
// Measuring one command

interface Sample {
  ms: number;
  /** Peak resident set of the measured process, KiB; undefined when unknown. */
  rssKb: number | undefined;
  out: SpawnSyncReturns<string>;
}

/** Preloaded into our CLI: writes the process's own peak RSS (KiB) to $BENCH_RSS_FILE at exit. */
const RSS_PRELOAD = `data:text/javascript,${encodeURIComponent(
  'import{writeFileSync}from"node:fs";process.on("exit",()=>{try{writeFileSync(process.env.BENCH_RSS_FILE,String(process.resourceUsage().maxRSS))}catch{}});',
)}`;

function timed(cmd: string, args: string[], cwd: string, rssFile?: string, env: Record<string, string> = {}): Sample {
  // stdout goes to a file, not a pipe: the CLI ends with process.exit(), which cuts a large
  // output short when stdout is a pipe (see bench/RESULTS.md).
  const stdoutFile = join(cwd, `.stdout-${process.pid}`);
  const fd = openSync(stdoutFile, 'w');
  const t0 = process.hrtime.bigint();
  const out = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env }, stdio: ['ignore', fd, 'pipe'], maxBuffer: 256 * 1024 * 1024 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  closeSync(fd);
  out.stdout = readFileSync(stdoutFile, 'utf8');
  rmSync(stdoutFile, { force: true });
  let rssKb: number | undefined;
  if (rssFile && existsSync(rssFile)) {
    const n = Number.parseInt(readFileSync(rssFile, 'utf8').trim().split('\n').pop() ?? '', 10);
    rssKb = Number.isFinite(n) ? n : undefined;
    rmSync(rssFile, { force: true });
  }
  if (out.error) throw out.error;
  return { ms, rssKb, out };
}

/** `node bin/pipeline.js <args>` with its peak RSS. */
function ours(args: string[], cwd: string): Sample {
  const rssFile = join(cwd, `.rss-${process.pid}`);
  return timed(process.execPath, ['--import', RSS_PRELOAD, CLI, ...args], cwd, rssFile, { BENCH_RSS_FILE: rssFile });
}

const hasTime = existsSync(TIME);

/** `snakemake <args>`, under /usr/bin/time for its peak RSS when available. */
function snake(args: string[], cwd: string): Sample {
  if (!hasTime) return timed('snakemake', args, cwd);
  const rssFile = join(cwd, `.rss-snake-${process.pid}`);
  return timed(TIME, ['-f', '%M', '-o', rssFile, 'snakemake', ...args], cwd, rssFile);
}

function check(s: Sample, what: string, expect: RegExp): void {
  const text = `${s.out.stdout}\n${s.out.stderr}`;
  if (s.out.status !== 0 || !expect.test(text)) {
    throw new Error(`${what}: unexpected result (exit ${s.out.status}, expected ${expect}):\n${text.slice(-3000)}`);
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmtS = (ms: number | undefined): string => (ms === undefined ? 'n/a' : `${(ms / 1000).toFixed(2)} s`);
const fmtMb = (kb: number | undefined): string => (kb === undefined ? 'n/a' : `${(kb / 1024).toFixed(0)} MiB`);
const log = (s: string): void => void process.stderr.write(`${s}\n`);

// ---------------------------------------------------------------------------------------------
// Workspace

function snakemakeVersion(): string | undefined {
  const r = spawnSync('snakemake', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

interface Project {
  dir: string;
  pipeline: string;
  cacheArgs: string[];
  snakeDir: string;
}

function makeProject(root: string, name: string, shape: SweepShape, withSnake: boolean): Project {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  const pipeline = join(dir, 'sweep.ts');
  writeFileSync(pipeline, sweepPipeline(API, shape));
  const snakeDir = join(dir, 'snake');
  if (withSnake) {
    mkdirSync(snakeDir, { recursive: true });
    writeFileSync(join(snakeDir, 'Snakefile'), sweepSnakefile(shape));
  }
  return { dir, pipeline, cacheArgs: ['--cache', join(dir, 'cache'), '--lock', join(dir, 'dvc-like.lock')], snakeDir };
}

// ---------------------------------------------------------------------------------------------

const SNAKE_ARGS = ['--cores', '1', '--quiet', 'all', '--scheduler', 'greedy'];

async function main(): Promise<void> {
  const root = WORKDIR ?? mkdtempSync(join(tmpdir(), 'lth-bench-engine-'));
  mkdirSync(root, { recursive: true });
  const version = snakemakeVersion();
  const n1k = stageCount(SWEEP_1K);
  log(`bench/engine: temp dir ${root}`);
  log(`machine: ${cpus().length} cores, ${cpus()[0]?.model ?? '?'}; node ${process.version}; snakemake ${version ?? 'NOT INSTALLED (apt-get install -y snakemake)'}`);
  try {
    // --- 1K: fill both caches (not part of the comparison; timed once for information)
    const p1k = makeProject(root, 'sweep-1k', SWEEP_1K, version !== undefined);
    let fill: Sample | undefined;
    if (existsSync(join(p1k.dir, 'dvc-like.lock'))) log(`reusing the filled cache in ${p1k.dir}`);
    else {
      log(`filling the cache: pipeline run (${n1k} stages) ...`);
      fill = ours(['run', p1k.pipeline, ...p1k.cacheArgs], p1k.dir);
      check(fill, 'first pipeline run', new RegExp(`${n1k} ran, 0 from cache`));
      log(`  ${fmtS(fill.ms)}`);
    }
    let snakeFill: Sample | undefined;
    if (version && existsSync(join(p1k.snakeDir, 'agg', `s${SWEEP_1K.sources - 1}.txt`))) log(`reusing Snakemake's outputs in ${p1k.snakeDir}`);
    else if (version && SNAKE_FILL === 'write') {
      log(`writing Snakemake's outputs directly (--snake-fill write) ...`);
      rmSync(join(p1k.snakeDir, '.snakemake'), { recursive: true, force: true });
      writeSnakeOutputs(p1k.snakeDir, SWEEP_1K, (rel, text) => {
        mkdirSync(dirname(join(p1k.snakeDir, rel)), { recursive: true });
        writeFileSync(join(p1k.snakeDir, rel), text);
      });
    } else if (version) {
      log(`filling Snakemake's outputs: snakemake ${SNAKE_ARGS.join(' ')} (${n1k} jobs + all) ...`);
      snakeFill = snake(SNAKE_ARGS, p1k.snakeDir);
      check(snakeFill, 'first snakemake run', /$/);
      log(`  ${fmtS(snakeFill.ms)}`);
    }

    // --- 1K: interleaved rounds
    type Label = 'run' | 'status' | 'snakemake -n';
    const commands: Array<{ label: Label; go: () => Sample }> = [
      {
        label: 'run',
        go: () => {
          const s = ours(['run', p1k.pipeline, ...p1k.cacheArgs], p1k.dir);
          check(s, 'no-op pipeline run', new RegExp(`0 ran, ${n1k} from cache`));
          return s;
        },
      },
      {
        label: 'status',
        go: () => {
          const s = ours(['status', p1k.pipeline, ...p1k.cacheArgs], p1k.dir);
          check(s, 'pipeline status', new RegExp(`all ${n1k} stages up to date`));
          return s;
        },
      },
    ];
    if (version) {
      commands.push({
        label: 'snakemake -n',
        go: () => {
          const s = snake(['-n', '--cores', '1'], p1k.snakeDir);
          check(s, 'snakemake -n', /Nothing to be done/);
          return s;
        },
      });
    }
    // One untimed round: warms the OS file cache and tsx's compile cache, and (after --workdir
    // moved things) lets the planner caches settle.
    for (const c of commands) c.go();
    const samples = new Map<Label, Sample[]>(commands.map((c) => [c.label, []]));
    for (let r = 0; r < ROUNDS; r++) {
      const line: string[] = [];
      for (let i = 0; i < commands.length; i++) {
        const c = commands[(i + r) % commands.length]!; // rotate the order every round
        const s = c.go();
        samples.get(c.label)!.push(s);
        line.push(`${c.label} ${fmtS(s.ms)}`);
      }
      log(`round ${r + 1}/${ROUNDS}: ${line.join(', ')}`);
    }
    const med = (l: Label): { ms: number; rssKb: number | undefined } | undefined => {
      const xs = samples.get(l);
      if (!xs || xs.length === 0) return undefined;
      const rss = xs.map((s) => s.rssKb).filter((x): x is number => x !== undefined);
      return { ms: median(xs.map((s) => s.ms)), rssKb: rss.length ? median(rss) : undefined };
    };
    const mRun = med('run')!;
    const mStatus = med('status')!;
    const mSnake = med('snakemake -n');

    // --- 10K: planning on an empty cache
    let plan10k: { status: Sample; dry: Sample; n: number } | undefined;
    if (!SKIP_10K) {
      const n = stageCount(SWEEP_10K);
      const p10k = makeProject(root, 'sweep-10k', SWEEP_10K, false);
      log(`planning ${n} stages (empty cache): pipeline status, pipeline run --dry-run ...`);
      // One untimed call first so that tsx's compile cache holds the generated file, as it does for the 1K rounds.
      ours(['dag', p10k.pipeline], p10k.dir);
      const status = ours(['status', p10k.pipeline, ...p10k.cacheArgs], p10k.dir);
      check(status, 'pipeline status (10K)', new RegExp(`${n} stale`));
      const dry = ours(['run', '--dry-run', p10k.pipeline, ...p10k.cacheArgs], p10k.dir);
      check(dry, 'pipeline run --dry-run (10K)', new RegExp(`${n} would run`));
      plan10k = { status, dry, n };
      log(`  status ${fmtS(status.ms)} ${fmtMb(status.rssKb)}, run --dry-run ${fmtS(dry.ms)} ${fmtMb(dry.rssKb)}`);
    }

    // --- report
    const ratio = (a: number, b: number | undefined): string => (b === undefined ? 'n/a' : `${(a / b).toFixed(2)}x`);
    const verdict = (ok: boolean | undefined): string => (ok === undefined ? 'n/a' : ok ? 'MET' : 'NOT MET');
    const rows: string[][] = [
      ['measure (1K stages, median of ' + ROUNDS + ')', 'time', 'peak RSS', 'ours / snakemake -n'],
      ['pipeline run (no-op, all cached)', fmtS(mRun.ms), fmtMb(mRun.rssKb), ratio(mRun.ms, mSnake?.ms)],
      ['pipeline status', fmtS(mStatus.ms), fmtMb(mStatus.rssKb), ratio(mStatus.ms, mSnake?.ms)],
      ['snakemake -n (dry run, all present)', mSnake ? fmtS(mSnake.ms) : 'n/a (not installed)', fmtMb(mSnake?.rssKb), '1.00x'],
      ['first pipeline run (fill, once)', fill ? fmtS(fill.ms) : 'n/a (reused)', fmtMb(fill?.rssKb), fill ? ratio(fill.ms, snakeFill?.ms) : ''],
      ['first snakemake run (fill, once)', snakeFill ? fmtS(snakeFill.ms) : 'n/a (reused)', fmtMb(snakeFill?.rssKb), ''],
    ];
    if (plan10k) {
      rows.push([`pipeline status, ${plan10k.n} stages, empty cache`, fmtS(plan10k.status.ms), fmtMb(plan10k.status.rssKb), '']);
      rows.push([`pipeline run --dry-run, ${plan10k.n} stages, empty cache`, fmtS(plan10k.dry.ms), fmtMb(plan10k.dry.rssKb), '']);
    }
    const targets: string[][] = [
      ['target', 'measured', 'verdict'],
      ['no-op run < 1 s', fmtS(mRun.ms), verdict(mRun.ms < 1000)],
      ['no-op run <= 1/4 of snakemake -n', ratio(mRun.ms, mSnake?.ms), verdict(mSnake ? mRun.ms <= mSnake.ms / 4 : undefined)],
      ['status <= 1/4 of snakemake -n', ratio(mStatus.ms, mSnake?.ms), verdict(mSnake ? mStatus.ms <= mSnake.ms / 4 : undefined)],
    ];
    const table = (t: string[][]): string => {
      const w = t[0]!.map((_, i) => Math.max(...t.map((r) => (r[i] ?? '').length)));
      const line = (r: string[]): string => `| ${r.map((c, i) => c.padEnd(w[i]!)).join(' | ')} |`;
      return [line(t[0]!), `|${w.map((x) => '-'.repeat(x + 2)).join('|')}|`, ...t.slice(1).map(line)].join('\n');
    };
    if (!version) process.stdout.write('\nsnakemake is not installed (apt-get install -y snakemake): only our own figures below.\n');
    process.stdout.write(`\n${table(rows)}\n\n${table(targets)}\n`);
    if (MARKDOWN) {
      const per = (l: Label): string => (samples.get(l) ?? []).map((s) => (s.ms / 1000).toFixed(2)).join(', ');
      process.stdout.write(
        `\nrounds (s): run [${per('run')}]; status [${per('status')}]${version ? `; snakemake -n [${per('snakemake -n')}]` : ''}\n` +
          `machine: ${cpus().length} cores, ${cpus()[0]?.model ?? '?'}; node ${process.version}; snakemake ${version ?? 'not installed'}; ${new Date().toISOString().slice(0, 10)}\n`,
      );
    }
  } finally {
    if (KEEP) log(`kept ${root}`);
    else rmSync(root, { recursive: true, force: true });
  }
}

await main();
