/**
 * The Slurm executor, the coordinator's side of an attached run (`pipeline run --executor slurm`):
 * the scheduler hands it each stage whose inputs are ready; it submits the stage as a Slurm job
 * (ready stages of one resource shape together, as a job array), follows every job of the run with
 * one `squeue` call per poll, reports Slurm's state in the progress display, and resolves with the
 * run record the job wrote to the shared cache. Jobs lost to the machine (NODE_FAIL, PREEMPTED)
 * are resubmitted, jobs that ran out of time or memory are resubmitted with more; Ctrl-C cancels
 * every unfinished job and waits until Slurm confirms.
 */
import { PipelineError } from '../../../errors.js';
import type { RunRecord, Store } from '../../../store/index.js';
import type { StageNode } from '../../definition/pipeline.js';
import type { StageHooks, StageTask } from '../../protocol.js';
import { FINAL_STATES, SlurmCommands, SlurmUnreachable, type JobId, type JobState } from './commands.js';
import { grown, shapeKey, shapeOf, type JobShape, type SlurmOptions } from './options.js';
import { SlurmFiles } from './records.js';
import { submitTasks, type SubmitContext } from './submit.js';

/** Where a run sends its stages instead of computing them here (the scheduler's `cluster`). */
export interface ClusterExecutor {
  /** `force`: compute it even though the cache has its key (`run --force`). */
  run(node: StageNode, task: StageTask, hooks: StageHooks, force: boolean): Promise<RunRecord>;
  /**
   * Set once the run cannot go on: the checks before the first submission failed, or the
   * cluster's controller stopped answering for longer than the timeout.
   */
  readonly lost: PipelineError | undefined;
  /** Jobs this run cancelled after Ctrl-C. */
  readonly cancelled: readonly JobId[];
  close(): Promise<void>;
}

export interface SlurmExecutorContext extends Omit<SubmitContext, 'commands' | 'files'> {
  store: Store;
  options: SlurmOptions;
  /** Checks made once, before the first submission; a failure stops the run (the executor is `lost`). */
  preflight?(): Promise<void>;
  commands?: SlurmCommands;
  /** Lines for the user that belong to no stage (a controller that does not answer). */
  say(line: string): void;
  warn(id: string, message: string): void;
}

/** States after which a job is resubmitted as it was: the machine failed, not the stage. */
const LOST_TO_THE_MACHINE = new Set(['NODE_FAIL', 'PREEMPTED', 'BOOT_FAIL']);
/** States after which a job may be resubmitted with more of what it ran out of. */
const OUT_OF_RESOURCES = new Set(['TIMEOUT', 'OUT_OF_MEMORY']);
/** While the controller does not answer, how often the countdown line is repeated. */
const COUNTDOWN_EVERY_MS = 5_000;
/** Stages that become ready within this long of each other are submitted together. */
const BATCH_WINDOW_MS = 50;
/** After Ctrl-C, how long to wait for Slurm to confirm the cancellations. */
const CANCEL_WAIT_MS = 60_000;

interface Tracked {
  node: StageNode;
  task: StageTask;
  hooks: StageHooks;
  shape: JobShape;
  force: boolean;
  machineRetries: number;
  resourceRetries: number;
  jobId?: JobId;
  shown?: string;
  resolve(record: RunRecord): void;
  reject(error: unknown): void;
}

export function createSlurmExecutor(ctx: SlurmExecutorContext): ClusterExecutor {
  const o = ctx.options;
  const commands = ctx.commands ?? new SlurmCommands();
  const files = new SlurmFiles(ctx.cacheRoot);
  const submitCtx: SubmitContext = { ...ctx, commands, files };
  const waiting: Tracked[] = [];
  const live = new Map<JobId, Tracked>();
  const cancelled: JobId[] = [];
  let lost: PipelineError | undefined;
  let interrupted = false;
  let flushTimer: NodeJS.Timeout | undefined;
  let pollTimer: NodeJS.Timeout | undefined;
  let busy = false;
  let downSince: number | undefined;
  let lastSaid = 0;

  const settle = (t: Tracked): void => {
    if (t.jobId) live.delete(t.jobId);
  };

  const fail = (t: Tracked, st: JobState & { exitCode?: string }): void => {
    settle(t);
    const tail = files.tail(t.jobId!);
    for (const line of tail) t.hooks.log(line);
    const last = [...tail].reverse().find((l) => !l.startsWith('progress:'));
    const exit = st.exitCode && st.exitCode !== '0:0' ? ` (exit ${st.exitCode})` : '';
    t.reject(
      new PipelineError('STAGE_FAILED', `Slurm job ${t.jobId} ${st.state}${exit}${st.node ? ` on ${st.node}` : ''}${last ? `: ${last}` : ''}`, {
        where: `stage ${t.node.id}`,
        hint: `its output: ${files.logOf(t.jobId!)}`,
      }),
    );
  };

  const finish = async (t: Tracked, st: JobState & { exitCode?: string }): Promise<void> => {
    const id = t.jobId!;
    if (interrupted) {
      settle(t);
      const record = ctx.store.runs.getComplete(t.task.key);
      if (record) t.resolve(record);
      else t.reject(new PipelineError('INTERRUPTED', `stage '${t.node.id}' was interrupted (Slurm job ${id} ${st.state})`));
      return;
    }
    if (st.state === 'COMPLETED') {
      const record = ctx.store.runs.getComplete(t.task.key);
      if (!record) {
        return fail(t, { ...st, state: 'COMPLETED without a result', node: `${st.node}: the job's result is not in ${ctx.cacheRoot}; does the node write to another cache?` });
      }
      settle(t);
      t.resolve(record);
      return;
    }
    const again = (why: string, shape: JobShape): void => {
      settle(t);
      t.hooks.log(`Slurm job ${id} ended ${st.state}: ${why}`);
      ctx.warn(t.node.id, `Slurm job ${id} ended ${st.state}: ${why}`);
      delete t.jobId;
      delete t.shown;
      t.shape = shape;
      waiting.unshift(t);
    };
    if (LOST_TO_THE_MACHINE.has(st.state) && t.machineRetries < o.retries) {
      t.machineRetries++;
      return again(`resubmitted (try ${t.machineRetries + 1} of ${o.retries + 1})`, t.shape);
    }
    if (OUT_OF_RESOURCES.has(st.state) && t.resourceRetries < o.resourceRetries) {
      const memory = st.state === 'OUT_OF_MEMORY' ? await currentMemoryMb(commands, id) : undefined;
      const shape = grown(t.shape, st.state, o.growth, memory);
      if (shapeKey(shape) !== shapeKey(t.shape)) {
        t.resourceRetries++;
        const what = st.state === 'TIMEOUT' ? `time ${Math.round(t.shape.timeMs / 1000)} s -> ${Math.round(shape.timeMs / 1000)} s` : `memory ${t.shape.memoryMb ?? memory} MiB -> ${shape.memoryMb} MiB`;
        return again(`resubmitted with more ${what} (slurm.growth ${o.growth}; try ${t.resourceRetries + 1} of ${o.resourceRetries + 1})`, shape);
      }
    }
    fail(t, st);
  };

  const controllerDown = (why: string): void => {
    downSince ??= Date.now();
    const waited = Date.now() - downSince;
    const left = o.timeoutMs - waited;
    if (left <= 0) {
      lost = new PipelineError('REMOTE_UNAVAILABLE', `the Slurm controller has not answered for ${Math.round(waited / 1000)} s (${why}): giving up; the jobs already submitted go on`, {
        hint: 'run the pipeline again once Slurm answers: it takes what the jobs finished from the cache, waits for the jobs still running and submits the rest (slurm.timeout sets how long to wait)',
      });
      for (const t of [...live.values(), ...waiting.splice(0)]) {
        settle(t);
        t.reject(lost);
      }
      return;
    }
    if (lastSaid === 0 || Date.now() - lastSaid >= COUNTDOWN_EVERY_MS) {
      lastSaid = Date.now();
      ctx.say(`slurm: the controller does not answer (${why}); retrying, giving up in ${Math.ceil(left / 1000)} s`);
    }
  };
  const controllerUp = (): void => {
    if (downSince !== undefined && lastSaid > 0) ctx.say('slurm: the controller answers again');
    downSince = undefined;
    lastSaid = 0;
  };

  let checked: Promise<void> | undefined;

  /** Submits what waits, as far as `maxPending` allows: a live job of an earlier run is followed, not submitted again. */
  const flush = async (): Promise<void> => {
    if (waiting.length === 0) return;
    checked ??= ctx.preflight?.() ?? Promise.resolve();
    try {
      await checked;
    } catch (e) {
      // Nothing was submitted: every stage of the run fails with this one error (exit 2 for a mistake).
      lost = e instanceof PipelineError ? e : new PipelineError('STAGE_FAILED', String((e as Error)?.message ?? e));
      for (const t of waiting.splice(0)) t.reject(lost);
      return;
    }
    const batch = waiting.splice(0, Math.max(0, o.maxPending - live.size));
    if (batch.length === 0) return;
    const earlier = new Map<Tracked, JobId>();
    for (const t of batch) {
      const r = files.record(ctx.pipelineName, t.node.id);
      if (r && !t.force && (r.key === null || r.key === t.task.key)) earlier.set(t, r.jobId);
    }
    const states = earlier.size > 0 ? await commands.states([...earlier.values()]) : new Map<JobId, JobState>();
    const byShape = new Map<string, Tracked[]>();
    for (const t of batch) {
      const jobId = earlier.get(t);
      const st = jobId ? states.get(jobId) : undefined;
      if (jobId && st && !FINAL_STATES.has(st.state)) {
        t.jobId = jobId;
        live.set(jobId, t);
        t.hooks.log(`following Slurm job ${jobId}, submitted earlier`);
        continue;
      }
      const k = shapeKey(t.shape);
      byShape.set(k, [...(byShape.get(k) ?? []), t]);
    }
    for (const group of byShape.values()) {
      for (let i = 0; i < group.length; i += o.arraySize) {
        const chunk = group.slice(i, i + o.arraySize);
        let submitted;
        try {
          submitted = await submitTasks(submitCtx, chunk.map((t) => ({ id: t.node.id, key: t.task.key, ...(t.force ? { force: true } : {}) })), chunk[0]!.shape);
        } catch (e) {
          if (e instanceof SlurmUnreachable) {
            waiting.unshift(...chunk);
            throw e;
          }
          for (const t of chunk) t.reject(e);
          continue;
        }
        const submittedAt = new Date().toISOString();
        chunk.forEach((t, j) => {
          t.jobId = submitted.ids[j]!;
          live.set(t.jobId, t);
          t.hooks.progress({ message: `Slurm job ${t.jobId} submitted` });
        });
        await files.writeRecords(
          ctx.pipelineName,
          chunk.map((t) => ({ id: t.node.id, jobId: t.jobId!, key: t.task.key, log: files.logOf(t.jobId!), manifest: submitted.manifest, submittedAt })),
        );
      }
    }
  };

  const poll = async (): Promise<void> => {
    if (live.size === 0) return;
    const states = await commands.states([...live.keys()]);
    for (const [id, t] of [...live]) {
      let st: (JobState & { exitCode?: string }) | undefined = states.get(id);
      if (!st || FINAL_STATES.has(st.state)) {
        // squeue's line has no exit code; scontrol has, for the jobs that ended (one call each, once).
        st = (await commands.detail(id)) ?? st;
      }
      if (!st) {
        // Gone from the controller's memory (past MinJobAge) without our seeing its end.
        st = ctx.store.runs.getComplete(t.task.key) ? { id, state: 'COMPLETED', reason: '', node: '' } : { id, state: 'VANISHED', reason: '', node: '' };
      }
      if (st.state === 'VANISHED' || FINAL_STATES.has(st.state)) {
        await finish(t, st);
        continue;
      }
      const shown = st.state === 'PENDING' ? `Slurm job ${id}: pending (${st.reason})` : st.state === 'RUNNING' ? `Slurm job ${id}: running on ${st.node}` : `Slurm job ${id}: ${st.state.toLowerCase()}`;
      if (shown !== t.shown) {
        t.shown = shown;
        t.hooks.progress({ message: shown });
      }
    }
  };

  /** One step of the loop: submit, then ask for the states, at most once per `pollMs` (and per batch window). */
  const tick = async (): Promise<void> => {
    if (busy || lost) return;
    busy = true;
    try {
      if (!interrupted) await flush();
      await poll();
      controllerUp();
    } catch (e) {
      if (e instanceof SlurmUnreachable) controllerDown(e.message);
      else for (const t of [...live.values(), ...waiting.splice(0)]) (settle(t), t.reject(e));
    } finally {
      busy = false;
    }
    if (!lost && (live.size > 0 || waiting.length > 0)) {
      clearTimeout(pollTimer);
      pollTimer = setTimeout(() => void tick(), o.pollMs);
    }
  };

  const interrupt = async (): Promise<void> => {
    if (interrupted) return;
    interrupted = true;
    for (const t of waiting.splice(0)) t.reject(new PipelineError('INTERRUPTED', `stage '${t.node.id}' was not submitted`));
    const ids = [...live.keys()];
    if (ids.length === 0) return;
    cancelled.push(...ids);
    ctx.say(`slurm: cancelling ${ids.length} job(s): ${ids.join(' ')}`);
    const deadline = Date.now() + CANCEL_WAIT_MS;
    try {
      await commands.cancel(ids);
      // Wait until Slurm says each job ended (or forgot it), so that nothing of this run is left in squeue.
      while (live.size > 0 && Date.now() < deadline) {
        while (busy) await new Promise((r) => setTimeout(r, 50));
        busy = true;
        try {
          await poll();
        } finally {
          busy = false;
        }
        if (live.size > 0) await new Promise((r) => setTimeout(r, 250));
      }
    } catch (e) {
      ctx.say(`slurm: could not confirm the cancellations (${(e as Error).message}): check squeue`);
    }
    for (const t of [...live.values()]) {
      settle(t);
      t.reject(new PipelineError('INTERRUPTED', `stage '${t.node.id}' was interrupted (Slurm job ${t.jobId} cancelled)`));
    }
  };

  const watched = new WeakSet<AbortSignal>();
  return {
    run(node, task, hooks, force) {
      if (lost) return Promise.reject(lost);
      if (!watched.has(hooks.signal)) {
        watched.add(hooks.signal);
        hooks.signal.addEventListener('abort', () => void interrupt(), { once: true });
      }
      return new Promise<RunRecord>((resolve, reject) => {
        waiting.push({ node, task, hooks, force, shape: shapeOf(node, o), machineRetries: 0, resourceRetries: 0, resolve, reject });
        if (!flushTimer) {
          flushTimer = setTimeout(() => {
            flushTimer = undefined;
            void tick();
          }, BATCH_WINDOW_MS);
        }
      });
    },
    get lost() {
      return lost;
    },
    get cancelled() {
      return cancelled;
    },
    async close() {
      clearTimeout(flushTimer);
      clearTimeout(pollTimer);
    },
  };
}

/** The memory a job had (from `scontrol`'s TRES), for growing it after OUT_OF_MEMORY. */
async function currentMemoryMb(commands: SlurmCommands, id: JobId): Promise<number | undefined> {
  const tres = await commands.field(id, 'TRES').catch(() => undefined);
  const m = /mem=(\d+(?:\.\d+)?)([KMGT])/.exec(tres ?? '');
  if (!m) return undefined;
  return Math.ceil(Number(m[1]) * { K: 1 / 1024, M: 1, G: 1024, T: 1024 * 1024 }[m[2] as 'K' | 'M' | 'G' | 'T']);
}
