/**
 * Slurm benchmark (issue #21): a 200-stage DAG of trivial stages (bench/engine-gen.ts's sweep: 2
 * sources, a 7 x 7 grid of train -> evaluate per source, 2 aggregates) submitted to the same
 * Slurm cluster by our executor and by Snakemake, one after the other in one invocation.
 *
 *   SLURM_CONF=/tmp/lth-slurm/slurm.conf node --import tsx bench/slurm.ts [--rounds N] [--markdown]
 *
 * (`test/slurm/cluster.sh start` brings up the one-node cluster, as root.) Snakemake 7.21's
 * built-in `--slurm` refuses to run without slurmdbd accounting, so it submits through its generic
 * `--cluster "sbatch --parsable ..."`, the way most of its users on such clusters do; its job cap
 * (`--jobs`) is our `slurm.maxPending` (both 200, all at once). Measured per round, the order
 * alternating: wall time from the command to the last job's end (the attached command ends then),
 * the coordinator's CPU time (user + system of the command and what it forks locally, from
 * /usr/bin/time; the jobs run under slurmd), and our no-op rerun, which must submit nothing.
 * Targets: our wall time at most half of Snakemake's, the no-op rerun under 1 s.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stageCount, sweepPipeline, sweepSnakefile, type SweepShape } from './engine-gen.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(REPO, 'bin', 'pipeline.js');
const API = join(REPO, 'src', 'index.ts');
const SHAPE: SweepShape = { sources: 2, lrs: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1], widths: [8, 16, 32, 64, 128, 256, 512] };
const argv = process.argv.slice(2);
const ROUNDS = Number(argv[argv.indexOf('--rounds') + 1] ?? 1) || 1;
const MARKDOWN = argv.includes('--markdown');

interface Sample {
  wallS: number;
  cpuS: number;
  out: string;
}

/** `cmd args` in `cwd` under /usr/bin/time: wall and CPU seconds. */
function measure(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Sample {
  const timeFile = join(cwd, '.time');
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S', '-o', timeFile, cmd, ...args], { cwd, env, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const out = `${r.stdout}\n${r.stderr}`;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${out.slice(-3000)}`);
  const [wall, user, sys] = readFileSync(timeFile, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number);
  return { wallS: wall!, cpuS: user! + sys!, out };
}

function ours(dir: string): { run: Sample; noop: Sample } {
  rmSync(join(dir, 'cache'), { recursive: true, force: true });
  rmSync(join(dir, 'dvc-like.lock'), { force: true });
  const env = { ...process.env, PIPELINE_SLURM_MAX_PENDING: '200' };
  const run = measure(process.execPath, [CLI, 'run', 'sweep.ts', '--executor', 'slurm', '--no-typecheck'], dir, env);
  if (!/200 ran, 0 from cache/.test(run.out)) throw new Error(`our run did not run 200 stages:\n${run.out.slice(-2000)}`);
  const noop = measure(process.execPath, [CLI, 'run', 'sweep.ts', '--executor', 'slurm', '--no-typecheck'], dir, env);
  if (!/0 ran, 200 from cache/.test(noop.out)) throw new Error(`the rerun was not a no-op:\n${noop.out.slice(-2000)}`);
  return { run, noop };
}

function snakemake(dir: string): Sample {
  for (const d of ['src', 'train', 'eval', 'agg', '.snakemake', 'logs']) rmSync(join(dir, d), { recursive: true, force: true });
  const s = measure('snakemake', ['--cluster', 'sbatch --parsable -c 1 -o logs/%j.out', '--jobs', '200', '--latency-wait', '30', '-s', 'Snakefile', '--quiet'], dir);
  return s;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

const dir = mkdtempSync(join(tmpdir(), 'lth-bench-slurm-'));
try {
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  writeFileSync(join(dir, 'sweep.ts'), sweepPipeline(API, SHAPE));
  writeFileSync(join(dir, 'Snakefile'), `localrules: all\n\n${sweepSnakefile(SHAPE)}`);
  const n = stageCount(SHAPE);
  const snakeVersion = spawnSync('snakemake', ['--version'], { encoding: 'utf8' }).stdout.trim();
  const slurmVersion = spawnSync('sinfo', ['--version'], { encoding: 'utf8' }).stdout.trim();
  process.stderr.write(`machine: ${cpus().length} cores; node ${process.version}; snakemake ${snakeVersion}; ${slurmVersion}; ${n} stages; ${ROUNDS} round(s)\n`);
  // Compile the engine once, outside the measurements.
  spawnSync(process.execPath, [CLI, 'status', 'sweep.ts'], { cwd: dir });
  const samples = { ours: [] as Sample[], noop: [] as Sample[], snake: [] as Sample[], load: [] as number[] };
  for (let round = 0; round < ROUNDS; round++) {
    samples.load.push(loadavg()[0]!);
    const order = round % 2 === 0 ? (['ours', 'snake'] as const) : (['snake', 'ours'] as const);
    for (const who of order) {
      if (who === 'ours') {
        const { run, noop } = ours(dir);
        samples.ours.push(run);
        samples.noop.push(noop);
        process.stderr.write(`round ${round + 1}: ours ${run.wallS.toFixed(1)} s wall, ${run.cpuS.toFixed(1)} s CPU; no-op rerun ${noop.wallS.toFixed(2)} s\n`);
      } else {
        const s = snakemake(dir);
        samples.snake.push(s);
        process.stderr.write(`round ${round + 1}: snakemake ${s.wallS.toFixed(1)} s wall, ${s.cpuS.toFixed(1)} s CPU\n`);
      }
    }
  }
  const o = median(samples.ours.map((s) => s.wallS));
  const sn = median(samples.snake.map((s) => s.wallS));
  const rows = [
    ['', 'wall (command to last job)', 'coordinator CPU', 'ours / snakemake (wall)'],
    [`lth-pipeline --executor slurm (${n} jobs, arrays)`, `${o.toFixed(1)} s`, `${median(samples.ours.map((s) => s.cpuS)).toFixed(1)} s`, `${(o / sn).toFixed(2)}x`],
    [`snakemake --cluster sbatch (${n} jobs)`, `${sn.toFixed(1)} s`, `${median(samples.snake.map((s) => s.cpuS)).toFixed(1)} s`, '1.00x'],
    ['no-op rerun (submits nothing)', `${median(samples.noop.map((s) => s.wallS)).toFixed(2)} s`, `${median(samples.noop.map((s) => s.cpuS)).toFixed(2)} s`, ''],
    ['targets', `<= 0.5x snakemake: ${o <= sn / 2 ? 'met' : 'NOT met'}`, '', `no-op < 1 s: ${median(samples.noop.map((s) => s.wallS)) < 1 ? 'met' : 'NOT met'}`],
  ];
  if (MARKDOWN) {
    console.log(`| ${rows[0]!.join(' | ')} |\n|${rows[0]!.map(() => ' --- ').join('|')}|`);
    for (const r of rows.slice(1)) console.log(`| ${r.join(' | ')} |`);
  } else for (const r of rows) console.log(r.map((c, i) => c.padEnd(i === 0 ? 48 : 30)).join(''));
  console.log(`load average at each round's start: ${samples.load.map((l) => l.toFixed(2)).join(', ')}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
