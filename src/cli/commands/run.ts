/** `pipeline run`: bring every stage up to date, computing only what the cache does not have. */
import { PipelineError } from '../../errors.js';
import { loadPipeline, runPipeline, typecheckPipeline } from '../../engine/index.js';
import { createReporter } from '../reporter.js';
import { resolve } from 'node:path';
import type { LoadedPipeline } from '../../engine/index.js';
import { openWorkspace, planInWorkspace, type Workspace, type WorkspaceOptions } from '../workspace.js';
import { writeJson } from '../format.js';
import { planJson, printPlan } from './status.js';

export interface RunCommandOptions extends WorkspaceOptions {
  remote?: string;
  queue?: string;
  /** How long a lost Redis is waited for (default: PIPELINE_QUEUE_TIMEOUT, else 60 s). */
  queueTimeout?: string;
  set: string[];
  /** Default: as many as the cores and the stages' declared cpu allow. */
  jobs?: number;
  force: string[];
  keepGoing: boolean;
  dryRun: boolean;
  inline: boolean;
  verbose: boolean;
  /** false with --no-typecheck. */
  typecheck: boolean;
  /** One JSON summary on stdout (the progress stays on stderr). */
  json: boolean;
  /** `local` (default) or `slurm`. */
  executor?: string;
  /** With the Slurm executor: submit the whole remaining DAG and exit. */
  detach?: boolean;
}

export async function runCommand(file: string, opts: RunCommandOptions): Promise<number> {
  // A local run does not load the Slurm side (it spawns nothing of Slurm's, and start-up counts).
  const slurmWanted = (opts.executor ?? 'local') !== 'local' || opts.detach || opts.set.some((s) => s.startsWith('slurm.'));
  const slurmCli = slurmWanted ? await import('../slurm.js') : undefined;
  const executor = slurmCli ? slurmCli.executorOf(opts.executor) : 'local';
  const sets = slurmCli ? slurmCli.splitSets(opts.set) : { pipeline: opts.set, slurm: [] };
  if (executor !== 'slurm' && (opts.detach || sets.slurm.length > 0)) {
    throw new PipelineError('USAGE', `${opts.detach ? '--detach' : `--set ${opts.set.find((s) => s.startsWith('slurm.'))}`} needs --executor slurm`, { hint: 'e.g. pipeline run <pipeline> --executor slurm --detach (or executor: slurm in pipeline.config.yaml)' });
  }
  opts = { ...opts, set: sets.pipeline };
  if (opts.dryRun) {
    const { plan } = await planInWorkspace(file, opts);
    if (opts.json) writeJson({ dryRun: true, ...planJson(plan) });
    else printPlan(plan, { dryRun: true });
    return 0;
  }
  const ws = openWorkspace(opts, file);
  if (opts.typecheck) {
    // On a terminal, a transient line while the (uncached) check runs; nothing in logs.
    let shown = false;
    const say = process.stderr.isTTY ? (line: string) => ((shown = true), process.stderr.write(`${line}...`)) : undefined;
    try {
      await typecheckPipeline(file, ws.store.layout.metaPath('typecheck.json'), ws.store.fileDigests, say);
    } finally {
      if (shown) process.stderr.write('\r\x1b[K');
    }
  }
  const pipeline = await loadPipeline(file, opts.set);
  await ws.store.sweepDeadWorkDirs();
  const remoteLocation = opts.remote ?? process.env.PIPELINE_REMOTE;
  const queueUrl = opts.queue ?? process.env.PIPELINE_QUEUE;
  const slurm = executor === 'slurm' ? await prepareSlurm(ws, pipeline, opts, sets.slurm, file) : undefined;
  if (slurm && queueUrl) throw new PipelineError('USAGE', '--executor slurm and --queue are two ways to run elsewhere: pick one');
  if (slurm && opts.detach) return detach(ws, pipeline, slurm, opts);
  if (queueUrl && !remoteLocation) {
    throw new PipelineError('USAGE', '--queue needs --remote: workers and this run exchange artifacts through a remote store', {
      hint: 'e.g. --remote /shared/lth-cache --queue redis://127.0.0.1:6379 (workers: pipeline worker with the same two options)',
    });
  }
  // A bad remote entry is a warning; once the run's display exists, it goes through it.
  let warn = (m: string): void => void process.stderr.write(`warning: ${m}\n`);
  // Imported only when used: the remotes (the S3 one included) are 5 modules a plain run does not need.
  const remote = remoteLocation ? (await import('../../store/remote/index.js')).openRemote(remoteLocation, { warn: (m) => warn(m) }) : undefined;
  const queueing = queueUrl && remote ? await import('../../engine/host/queue.js') : undefined;
  const dispatcher =
    queueing && queueUrl && remote
      ? queueing.createDispatcher(queueUrl, remote, ws.root, { timeoutMs: queueing.queueTimeoutMs(opts.queueTimeout), secret: queueing.queueSecret(), say: (m) => warn(m) })
      : undefined;

  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = (): void => {
    interrupts++;
    if (interrupts === 1) {
      process.stderr.write(
        slurm
          ? '\nstopping: cancelling this run\'s Slurm jobs and waiting for Slurm to confirm; finished results stay cached (Ctrl-C again to quit at once)\n'
          : '\nstopping: running stages are being stopped; finished results stay cached (Ctrl-C again to quit at once)\n',
      );
      controller.abort();
    } else process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const reporter = await createReporter(process.stderr, { verbose: opts.verbose, total: pipeline.order.length });
  warn = (m) => reporter.warning(undefined, m);
  const cluster = slurm
    ? (await import('../../engine/host/slurm/executor.js')).createSlurmExecutor({
        ...slurm.submit,
        store: ws.store,
        options: slurm.options,
        preflight: slurm.preflight,
        say: (m) => reporter.warning(undefined, m),
        warn: (id, m) => reporter.warning(id, m),
      })
    : undefined;
  const started = Date.now();
  let summary;
  try {
    summary = await runPipeline(pipeline, ws.store, ws.fingerprinter, ws.lockPath, {
      ...(opts.jobs !== undefined ? { jobs: opts.jobs } : {}),
      force: opts.force,
      keepGoing: opts.keepGoing,
      inline: opts.inline,
      signal: controller.signal,
      reporter,
      ...(remote ? { remote } : {}),
      ...(dispatcher ? { dispatcher } : {}),
      ...(cluster ? { cluster } : {}),
    });
  } finally {
    await cluster?.close();
    if (slurm && summary) {
      const done = new Set([...summary.ran, ...summary.cached]);
      slurm.submit.files.collect(pipeline.definition.name, (id) => done.has(id), slurm.options.keepLogs);
    }
    await dispatcher?.close();
    await remote?.close();
    reporter.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  const parts = [`${summary.ran.length} ran`, `${summary.cached.length} from cache`];
  if (summary.failed.length) parts.push(`${summary.failed.length} failed`);
  if (summary.stopped.length) parts.push(`${summary.stopped.length} stopped`);
  if (summary.skipped.length) parts.push(`${summary.skipped.length} not run`);
  process.stderr.write(`${pipeline.definition.name}: ${parts.join(', ')} in ${secs}s\n`);
  if (opts.json) {
    const { ran, cached, skipped, stopped, interrupted } = summary;
    const failed = summary.failed.map(({ id, error }) => ({ id, code: error.code, message: error.message }));
    writeJson({ pipeline: pipeline.definition.name, seconds: Number(secs), ran, cached, failed, stopped, notStarted: skipped, interrupted });
  }
  // Losing Redis fails every stage that waited on it: said once, below, not once per stage.
  const lostQueue = dispatcher?.lost ?? cluster?.lost;
  for (const { id, error } of summary.failed) {
    if (error === lostQueue) continue;
    process.stderr.write(`\nstage '${id}' failed: ${error.format()}\n`);
    const tail = reporter.tail(id);
    if (tail?.length) process.stderr.write(`  last output of '${id}':\n${tail.map((l) => `    ${l}`).join('\n')}\n`);
    const cause = error.cause;
    if (opts.verbose && typeof cause === 'string') process.stderr.write(`${cause}\n`);
  }
  if (lostQueue) throw lostQueue;
  if (summary.interrupted) {
    const stopped = summary.stopped.length > 0 ? `stopped ${summary.stopped.join(', ')} while running; ` : '';
    const notStarted = summary.skipped.length > 0 ? `${summary.skipped.length} stage(s) did not start; ` : '';
    const cancelled = cluster?.cancelled.length ? `cancelled Slurm job(s) ${cluster.cancelled.join(' ')} (squeue lists none of them now); ` : '';
    throw new PipelineError('INTERRUPTED', `interrupted: ${stopped}${cancelled}${notStarted}finished stages are cached; run again to continue`);
  }
  if (summary.failed.length > 0) {
    const userError = summary.failed.find((f) => f.error.isUserError);
    if (userError && summary.failed.length === 1) throw userError.error;
    return 1;
  }
  return 0;
}

interface PreparedSlurm {
  options: import('../../engine/host/slurm/options.js').SlurmOptions;
  /** The checks made before the first submission (exit 2 on a mistake). */
  preflight(): Promise<void>;
  submit: import('../../engine/host/slurm/submit.js').SubmitContext;
}

/** The Slurm executor's settings and the checks made before anything is submitted (exit 2 on a mistake). */
async function prepareSlurm(ws: Workspace, pipeline: LoadedPipeline, opts: RunCommandOptions, overrides: Parameters<typeof import('../slurm.js').slurmOptions>[0], file: string): Promise<PreparedSlurm> {
  const [{ slurmOptions, preflight, checkPatterns }, { SlurmCommands, SlurmUnreachable }, { SlurmFiles }] = await Promise.all([
    import('../slurm.js'),
    import('../../engine/host/slurm/commands.js'),
    import('../../engine/host/slurm/records.js'),
  ]);
  const options = slurmOptions(overrides);
  await checkPatterns(pipeline.order, options);
  const commands = new SlurmCommands();
  return {
    options,
    preflight: () =>
      preflight(commands, pipeline.order, options).catch((e: unknown) => {
        if (e instanceof SlurmUnreachable) throw new PipelineError('REMOTE_UNAVAILABLE', `the Slurm controller does not answer: ${e.message}`, { hint: 'check `sinfo`; nothing was submitted' });
        throw e;
      }),
    submit: { commands, files: new SlurmFiles(ws.store.root), pipelineName: pipeline.definition.name, pipelineFile: resolve(file), set: opts.set, cacheRoot: ws.store.root, projectRoot: ws.root },
  };
}

/** `--detach`: the remaining DAG submitted with dependencies; the job ids printed; exit 0. */
async function detach(ws: Workspace, pipeline: LoadedPipeline, slurm: PreparedSlurm, opts: RunCommandOptions): Promise<number> {
  const [{ submitDetached }, { planPipeline, matchesForce }, { readLock }] = await Promise.all([
    import('../../engine/host/slurm/detach.js'),
    import('../../engine/index.js'),
    import('../../store/index.js'),
  ]);
  const lock = await readLock(ws.lockPath, ws.store.layout);
  const plan = await planPipeline(pipeline, ws.store, ws.fingerprinter, lock.pipelines[pipeline.definition.name]);
  const forced = (id: string): boolean => opts.force.length > 0 && matchesForce(pipeline.nodes.get(id)!, opts.force);
  if ([...plan.stages.values()].some((s) => !s.record || forced(s.node.id))) await slurm.preflight();
  const jobs = await submitDetached(slurm.submit, plan, slurm.options, forced);
  const cached = pipeline.order.length - jobs.length;
  if (opts.json) {
    writeJson({ pipeline: pipeline.definition.name, detached: true, cached, jobs });
    return 0;
  }
  const out = (line: string): void => void process.stdout.write(`${line}\n`);
  for (const j of jobs) out(`${j.jobId.padEnd(12)} ${j.id}${j.earlier ? '  (submitted earlier, still live)' : j.after.length > 0 ? `  after ${j.after.join(' ')}` : ''}`);
  const fresh = jobs.filter((j) => !j.earlier).length;
  process.stderr.write(
    `${pipeline.definition.name}: ${fresh} Slurm job(s) submitted, ${jobs.length - fresh} already live, ${cached} stage(s) from cache\n` +
      (jobs.length > 0 ? `  follow: pipeline status ${opts.set.length ? '... ' : ''}<pipeline>; collect: pipeline run <pipeline> --executor slurm; stop: pipeline cancel <pipeline>\n` : ''),
  );
  return 0;
}
