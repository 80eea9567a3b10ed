/** The `pipeline` command line. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENGINE_ROOT, keepCompiledTreeInUse } from '../install.js';
import { Argument, Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { isPipelineError } from '../errors.js';
import { EXIT, exitCodeOf } from './exit-codes.js';

/**
 * Commands are imported when they run: `plot` and `report` pull in vega and a PNG renderer, and
 * `run` must start fast (a fully cached run is mostly start-up time).
 */
const commands = {
  run: () => import('./commands/run.js'),
  status: () => import('./commands/status.js'),
  dag: () => import('./commands/dag.js'),
  show: () => import('./commands/show.js'),
  table: () => import('./commands/table.js'),
  plot: () => import('./commands/plot.js'),
  report: () => import('./commands/report.js'),
  diff: () => import('./commands/diff.js'),
  gc: () => import('./commands/gc.js'),
  verify: () => import('./commands/verify.js'),
  worker: () => import('./commands/worker.js'),
  setup: () => import('./commands/setup.js'),
  init: () => import('./commands/init.js'),
  config: () => import('./commands/config.js'),
  get: () => import('./commands/get.js'),
  push: () => import('./commands/push.js'),
  pull: () => import('./commands/pull.js'),
  cancel: () => import('./commands/cancel.js'),
  slurmJob: () => import('./commands/slurm-job.js'),
};

/** The engine's version, from its package.json. */
function engineVersion(): string {
  return (JSON.parse(readFileSync(join(ENGINE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}
const collect = (v: string, prev: string[]): string[] => [...prev, v];

const cacheOption = () => new Option('--cache <dir>', 'cache directory (default: $PIPELINE_CACHE or <project>/cache)');
const lockOption = () => new Option('--lock <file>', 'lock file (default: $PIPELINE_LOCK or <project>/dvc-like.lock)');
const dataDirOption = () => new Option('--data-dir <folder>', 'where datasets are (sets PIPELINE_DATA_DIR; default: ../shared/data beside the project, else the loader\'s folder)');
const queueTimeoutOption = () => new Option('--queue-timeout <duration>', 'how long to wait for a lost Redis before failing (exit 1), e.g. 60, 90s, 5m (default: $PIPELINE_QUEUE_TIMEOUT or 60 s)');
const setOption = () => new Option('-s, --set <key=value>', 'override a pipeline param, or <stage id>.<param> (repeatable)').argParser(collect).default([]);

export function buildProgram(done: (code: number) => void): Command {
  const program = new Command('pipeline')
    .description('Run, inspect and maintain lth-pipeline experiment DAGs')
    .version(engineVersion(), '-V, --version', 'the engine\'s version')
    .showHelpAfterError()
    .exitOverride();
  // Settings (flags > environment > pipeline.config.local.yaml > pipeline.config.yaml) become the
  // command's option values here, so that every command reads one resolved value. --data-dir is an
  // environment setting, not a param: the pipeline's build function and every stage process
  // (children inherit the environment) find the data through it.
  program.hook('preAction', async (_program, action) => {
    const { applySettings } = await import('./config.js');
    applySettings(action);
  });
  const wrap =
    <A extends unknown[]>(fn: (...args: A) => Promise<number>) =>
    async (...args: A): Promise<void> => {
      done(await fn(...args));
    };

  program
    .command('run <pipeline>')
    .description('run the stages whose results are not in the cache')
    .addOption(setOption())
    .addOption(dataDirOption())
    .option('-j, --jobs <n>', 'stages run at once (default: as many as the cores and the stages\' declared cpu allow)', positiveInt)
    .option('-f, --force <stage>', 'execute this stage id (or name, or glob) even if cached (repeatable)', collect, [])
    .option('-k, --keep-going', 'after a failure, go on with the stages that do not depend on it', false)
    .option('-n, --dry-run', 'show what would run and why, run nothing', false)
    .option('--inline', 'run every stage inside this process (debugging)', false)
    .option('--no-typecheck', 'run without type-checking the pipeline file first')
    .option('--remote <location>', 'a shared store to read results from and write them to: a directory or s3://bucket/prefix (default: $PIPELINE_REMOTE)')
    .option('--queue <redis-url>', 'send stages to `pipeline worker`s through this Redis (default: $PIPELINE_QUEUE; needs --remote)')
    .addOption(queueTimeoutOption())
    .option('--executor <name>', 'where stages compute: local (child processes) or slurm (one Slurm job each, the cache on a shared file system) (default: $PIPELINE_EXECUTOR, the config, else local)')
    .option('--detach', 'with --executor slurm: submit every remaining stage, each job after its inputs\' jobs, print the job ids and exit', false)
    .option('-v, --verbose', 'print the stages\' output', false)
    .option('--json', 'machine-readable output (one JSON document on stdout)', false)
    .addOption(cacheOption())
    .addOption(lockOption())
    .action(wrap(async (file: string, o) => (await commands.run()).runCommand(file, o)));

  program
    .command('cancel <pipeline>')
    .description('cancel the Slurm jobs of a pipeline that are pending or running (`run --executor slurm --detach`)')
    .option('--json', 'machine-readable output (one JSON document on stdout)', false)
    .addOption(cacheOption())
    .action(wrap(async (file: string, o) => (await commands.cancel()).cancelCommand(file, o)));

  // What a Slurm job runs on its node (src/engine/host/slurm/node-job.ts): not for people.
  program
    .command('slurm-job <manifest> <index>', { hidden: true })
    .description('compute one stage of a Slurm job manifest (run by the jobs that `run --executor slurm` submits)')
    .action(wrap(async (manifest: string, index: string) => (await commands.slurmJob()).slurmJobCommand(manifest, Number(index))));

  program
    .command('status <pipeline>')
    .description('list the stages that are stale, and why')
    .addOption(setOption())
    .addOption(dataDirOption())
    .option('--json', 'machine-readable output', false)
    .addOption(cacheOption())
    .addOption(lockOption())
    .action(wrap(async (file: string, o) => (await commands.status()).statusCommand(file, o)));

  program
    .command('dag <pipeline>')
    .description('print the stage graph (text tree, or --mermaid)')
    .addOption(setOption())
    .addOption(dataDirOption())
    .option('--mermaid', 'Mermaid flowchart', false)
    .option('--json', 'machine-readable output (one JSON document on stdout)', false)
    .action(wrap(async (file: string, o) => (await commands.dag()).dagCommand(file, o)));

  program
    .command('show <pipeline>')
    .description('experiments table: one row per stage instance with the params that vary, metrics, state, when and where computed')
    .addOption(setOption())
    .addOption(dataDirOption())
    .option('--json', 'machine-readable output', false)
    .option('--md', 'Markdown table', false)
    .option('--csv', 'CSV', false)
    .option('--only-changed', 'only the param and metric columns whose values differ between rows', false)
    .option('--all-params', 'every param as a column (default: the params that vary)', false)
    .option('--sort-by <column>', 'sort rows by a column: id, stage, state, duration, when, host, a param or a metric')
    .option('--sort-order <order>', 'asc or desc', 'asc')
    .option('--stage <name>', 'only instances of this stage definition (repeatable)', collect, [])
    .option('--all', 'one wide table of every stage kind and every metric (default: a table per stage kind, scalar metrics)', false)
    .addOption(cacheOption())
    .addOption(lockOption())
    .action(wrap(async (file: string, o) => (await commands.show()).showCommand(file, o)));

  const reportSourceOptions = (c: Command): Command =>
    c
      .addOption(setOption())
      .addOption(dataDirOption())
      .option('--replicates <key=v1,v2,...>', 'load the pipeline once per value (e.g. seed=0,1,2) and aggregate: mean [min, max]')
      .option('--run', 'compute missing results first (as `pipeline run`) instead of failing', false)
      .option('-j, --jobs <n>', 'with --run: stages run at once (default: as the cores allow)', positiveInt)
      .addOption(cacheOption())
      .addOption(lockOption());

  reportSourceOptions(
    program
      .command('table <pipeline>')
      .description('the tables the pipeline declares, from the cache: Markdown, CSV, LaTeX (booktabs) or JSON')
      .option('-f, --format <format>', 'md, csv, latex or json', 'md')
      .option('--json', 'the same as --format json', false)
      .option('-t, --table <name>', 'only this table (repeatable)', collect, [])
      .option('-o, --output <file>', 'write to a file instead of stdout'),
  ).action(wrap(async (file: string, o) => (await commands.table()).tableCommand(file, o)));

  reportSourceOptions(
    program
      .command('plot <pipeline>')
      .description('the figures the pipeline declares, from the cache: Vega-Lite specs rendered to SVG and PNG')
      .option('-o, --out <dir>', 'output folder (default: <project>/reports/<pipeline>)')
      .option('-p, --plot <name>', 'only this figure (repeatable)', collect, [])
      .option('-f, --format <list>', 'comma-separated: svg, png, vl (the Vega-Lite spec)', 'svg,png')
      .option('--png-width <px>', 'width of the PNG images in pixels (default: twice the SVG size)', positiveInt)
      .option('--json', 'list the written files as JSON', false),
  ).action(wrap(async (file: string, o) => (await commands.plot()).plotCommand(file, o)));

  reportSourceOptions(
    program
      .command('report <pipeline>')
      .description('one self-contained HTML file: tables, figures and the DAG with each stage\'s state')
      .option('-o, --output <file>', 'HTML file (default: <project>/reports/<pipeline>/report.html)')
      .option('-t, --table <name>', 'only this table (repeatable)', collect, [])
      .option('-p, --plot <name>', 'only this figure (repeatable)', collect, [])
      .option('--title <text>', 'page title')
      .option('--json', 'the written file as JSON', false),
  ).action(wrap(async (file: string, o) => (await commands.report()).reportCommand(file, o)));

  program
    .command('get <pipeline> <stage-id> [output]')
    .description('copy a stage\'s output (default: its first) out of the cache, verified; --format torch: a checkpoint or mask as a PyTorch state dict')
    .requiredOption('-o, --output <path>', 'where to write it')
    .addOption(new Option('--format <format>', 'raw (the cached bytes) or torch (weight/bias, (out, in[, kh, kw]), torch.nn.utils.prune\'s weight_orig/weight_mask)').choices(['raw', 'torch']).default('raw'))
    .addOption(setOption())
    .addOption(dataDirOption())
    .option('--json', 'machine-readable output (one JSON document on stdout)', false)
    .addOption(cacheOption())
    .addOption(lockOption())
    .action(wrap(async (file: string, id: string, output: string | undefined, o) => (await commands.get()).getCommand(file, id, output, o)));

  program
    .command('diff [a] [b]')
    .description('params and metrics that differ between two lock files or git revisions (REV, REV:path, or a file; default: HEAD vs the working copy)')
    .option('--lock <file>', 'lock file path used with bare revisions (default: dvc-like.lock)')
    .option('--pipeline <name>', 'only this pipeline (repeatable)', collect, [])
    .option('--all', 'also list stages whose params and metrics are equal', false)
    .option('--md', 'Markdown table', false)
    .option('--json', 'machine-readable output', false)
    .action(wrap(async (a: string | undefined, b: string | undefined, o) => (await commands.diff()).diffCommand(a, b, o)));

  program
    .command('worker')
    .description('run stages queued by `pipeline run --queue` (on any machine with a checkout of the project)')
    .option('--queue <redis-url>', 'the Redis of the queue (default: $PIPELINE_QUEUE)')
    .addOption(queueTimeoutOption())
    .option('--remote <location>', 'the shared store: a directory or s3://bucket/prefix (default: $PIPELINE_REMOTE)')
    .option('-c, --concurrency <n>', 'stages at once', positiveInt, 1)
    .addOption(dataDirOption())
    .addOption(cacheOption())
    .action(wrap(async (o) => (await commands.worker()).workerCommand(o)));

  // dvc push / pull: the lock file's results (and a pipeline's current plan) to and from the remote.
  for (const [name, what] of [
    ['push', 'send the results the lock file references (or the pipeline\'s, with its current plan\'s) to the remote store; only what it lacks'],
    ['pull', 'fetch the results the lock file references (or the pipeline\'s, with its current plan\'s) from the remote store, re-hashed; then tables and runs compute nothing'],
  ] as const) {
    program
      .command(`${name} [pipeline]`)
      .description(what)
      .option('--remote <location>', 'the shared store: a directory or s3://bucket/prefix (default: $PIPELINE_REMOTE, then pipeline.config.yaml)')
      .option('--transfers <n>', 'stage results moved at once', positiveInt, 8)
      .option('--json', 'machine-readable output (one JSON document on stdout)', false)
      .addOption(setOption())
      .addOption(dataDirOption())
      .addOption(cacheOption())
      .addOption(lockOption())
      .action(wrap(async (file: string | undefined, o) => (name === 'push' ? (await commands.push()).pushCommand(file, o) : (await commands.pull()).pullCommand(file, o))));
  }

  program
    .command('setup')
    .description('build an optional part of the engine: `native`, the native TensorFlow backend from TensorFlow\'s own wheel')
    .addArgument(new Argument('<target>', 'what to build').choices(['native']))
    .option('--gpu', 'the CUDA build: the tensorflow wheel and its nvidia-* CUDA wheels (a CUDA 12 machine)', false)
    .option('--tf-version <version>', 'TensorFlow release to build against (default: 2.21.0)')
    .option('--remove', 'remove the native build (the WASM backend is used again)', false)
    .option('--json', 'machine-readable output (one JSON document on stdout)', false)
    .action(wrap(async (_target: string, o) => (await commands.setup()).setupCommand(o)));

  program
    .command('init')
    .description('set up this project (its package.json\'s folder) for pipelines: scripts, tsconfig.json, pipeline.config.yaml, .gitignore, pipelines/example.ts, README.md; never overwrites')
    .action(wrap(async () => (await commands.init()).initCommand()));

  program
    .command('config [pipeline]')
    .description('the effective settings (flags > environment > pipeline.config.local.yaml > pipeline.config.yaml) and where each came from')
    .option('--json', 'machine-readable output (one JSON document on stdout)', false)
    .action(wrap(async (file: string | undefined, o) => (await commands.config()).configCommand(file, o)));

  program
    .command('gc')
    .description('remove cached results that neither the lock file nor recent runs reference')
    .option('-n, --dry-run', 'list what would be removed', false)
    .option('--json', 'machine-readable output (one JSON document on stdout)', false)
    .option('--keep-last <n>', 'run records kept per stage instance besides the lock file\'s', (v) => Number(v), 5)
    .addOption(cacheOption())
    .addOption(lockOption())
    .action(wrap(async (o) => (await commands.gc()).gcCommand(o)));

  program
    .command('verify')
    .description('re-hash every cached object; quarantine corrupt ones')
    .option('--json', 'machine-readable output (one JSON document on stdout)', false)
    .addOption(cacheOption())
    .addOption(lockOption())
    .action(wrap(async (o) => (await commands.verify()).verifyCommand(o)));

  return program;
}

export async function main(argv: string[]): Promise<number> {
  keepCompiledTreeInUse();
  let code: number = EXIT.ok;
  const program = buildProgram((c) => (code = c));
  try {
    if (argv.length <= 2) {
      program.outputHelp();
      return EXIT.usage;
    }
    await program.parseAsync(argv);
    return code;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (!isPipelineError(e)) e = (await import('./permissions.js')).permissionError(e) ?? e;
    if (isPipelineError(e)) {
      process.stderr.write(`error: ${e.format()}\n`);
      if (process.env.PIPELINE_DEBUG && e.cause) process.stderr.write(`${String((e.cause as Error).stack ?? e.cause)}\n`);
    } else {
      process.stderr.write(`internal error: ${(e as Error)?.stack ?? String(e)}\nThis is a bug in lth-pipeline; please report it with the command you ran.\n`);
    }
    return exitCodeOf(e);
  }
}

const code = await main(process.argv);
// Let piped output drain before exiting (process.exit would cut a large `status` short); exit
// explicitly so that no stray handle keeps the command alive.
await Promise.all([process.stdout, process.stderr].map((s) => new Promise<void>((resolve) => s.write('', () => resolve()))));
process.exit(code);
