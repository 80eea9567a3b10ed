/**
 * A queue worker (`pipeline worker`): takes stage tasks queued by coordinators (../host/queue.ts),
 * pulls their inputs from the remote store, computes them as a local run would, and pushes the
 * results back. A job comes from another machine: untrusted input, admitted by ./job-check.ts
 * before anything is imported.
 */
import { stat } from 'node:fs/promises';
import { Worker, type Job } from 'bullmq';
import { PipelineError } from '../../errors.js';
import type { Store } from '../../store/index.js';
import { pullRun, pushRun, type RemoteStore } from '../../store/remote/index.js';
import { lookupStage } from '../definition/stage.js';
import { connectionOf, QUEUE_NAME, watchConnection } from '../host/queue.js';
import type { SignedQueueJob } from '../protocol.js';
import { remoteExpectation } from '../host/sync.js';
import { computeStage, inputDigestsOf } from './compute.js';
import { admitJob, checkAgainstStage, JobRefused } from './job-check.js';
import { importModule } from '../typescript.js';

export interface WorkerOptions {
  queueUrl: string;
  remote: RemoteStore;
  store: Store;
  projectRoot: string;
  concurrency: number;
  /** PIPELINE_QUEUE_SECRET: when set, only jobs signed with it run. */
  secret: string | undefined;
  /** How long Redis may be unreachable before the worker gives up (exit 1). */
  queueTimeoutMs: number;
  log(line: string): void;
}

/** A value from a job, fit for one log line (a refused job's fields may be anything). */
const shown = (v: unknown): string => JSON.stringify(String(v ?? '?').slice(0, 80));

/**
 * Runs queued stages until `signal` aborts (then finishes the running stages), or until Redis has
 * been unreachable for `queueTimeoutMs` (then the running stages finish too, their results go to
 * the remote store, which needs no Redis, and the returned promise rejects: exit 1).
 */
export async function runWorker(opts: WorkerOptions, signal: AbortSignal): Promise<void> {
  const controller = new AbortController();
  const running = new Set<Promise<unknown>>();
  const watch = watchConnection(opts.queueUrl, { timeoutMs: opts.queueTimeoutMs, say: opts.log, who: 'worker' });

  const handle = async (job: Job<SignedQueueJob>): Promise<string> => {
    const admitted = await admitJob(job.data, job.id, { projectRoot: opts.projectRoot, secret: opts.secret });
    const d = admitted.job;
    for (const file of admitted.preload) await importModule(file);
    await importModule(admitted.moduleFile);
    const params = await checkAgainstStage(admitted, lookupStage(d.stage));
    // A remote record of the key counts only if it is this job's result (src/store/remote/untrusted.ts).
    const expect = remoteExpectation({ stage: d.stage, codeFingerprint: d.codeFingerprint, inputs: inputDigestsOf(d.bindings), params: params.effective, outputs: d.outputs });
    if (await pullRun(opts.remote, d.key, opts.store, expect)) return 'present';
    const lease = await opts.store.acquireKey(d.key, {
      signal: controller.signal,
      // A coordinator using this same cache holds the key's lease while the job is queued: a deadlock.
      onWait: (owner) => opts.log(`[wait]   ${d.id}: its key's lease in ${opts.store.root} is held by ${owner} (a coordinator sharing this worker's cache? give the worker a --cache of its own)`),
    });
    try {
      if (await pullRun(opts.remote, d.key, opts.store, expect)) return 'present';
      for (const b of Object.values(d.bindings)) {
        for (const item of b.items) {
          if (item.path === undefined) await opts.remote.pull(item.digest, opts.store.objects);
          // A regular file with the digest the job names, or nothing: a job can only point a stage at bytes its sender knows already.
          else if (!(await stat(item.path).then((s) => s.isFile(), () => false)) || (await opts.store.fileDigests.digest(item.path)) !== item.digest) {
            throw new PipelineError('INPUT_MISSING', `input file ${item.path} is missing here or differs from the coordinator's`, { where: `stage ${d.id}` });
          }
        }
      }
      const def = lookupStage(d.stage)!;
      opts.log(`[start]  ${d.id} (${d.key.slice(0, 12)})`);
      const record = await computeStage(
        opts.store,
        { ...d, params: params.effective, moduleFile: admitted.moduleFile, preload: admitted.preload, def, inline: false },
        { progress: (p) => void job.updateProgress({ ...p }).catch(() => undefined), log: (m) => opts.log(`  ${d.id} | ${m}`), signal: controller.signal },
      );
      await pushRun(opts.remote, record, opts.store.objects);
      opts.log(`[done]   ${d.id} ${record.durationMs}ms`);
      return 'computed';
    } finally {
      await lease.release();
    }
  };

  const worker = new Worker<SignedQueueJob>(
    QUEUE_NAME,
    (job) => {
      const p = handle(job);
      running.add(p);
      return p.finally(() => running.delete(p));
    },
    { connection: connectionOf(opts.queueUrl), concurrency: opts.concurrency },
  );
  worker.on('failed', (job, err) => {
    if (err instanceof JobRefused) opts.log(`[refused] job ${shown(job?.id)}: ${err.message}`);
    else opts.log(`[failed] ${typeof job?.data?.id === 'string' ? shown(job.data.id) : shown(job?.id)}: ${err.message}`);
  });
  // Connection errors repeat on every reconnection attempt: the watch reports them, with a countdown.
  worker.on('error', (err) => {
    if (!watch.down) opts.log(`[error]  ${err.message}`);
  });

  const stopped = new Promise<void>((resolveStop) => signal.addEventListener('abort', () => resolveStop(), { once: true }));
  try {
    await Promise.race([stopped, watch.failed]);
  } finally {
    if (watch.error) {
      // Take no more jobs; what is running finishes and reaches the remote store (no Redis needed).
      if (running.size > 0) opts.log(`worker: finishing ${running.size} running stage(s), then exiting`);
      // Forced: BullMQ then drops its connections instead of waiting for Redis to say goodbye.
      const closing = worker.close(true).catch(() => undefined);
      await Promise.allSettled([...running]);
      await Promise.race([closing, new Promise((r) => setTimeout(r, 2_000).unref())]);
    } else {
      // Finish the stages in progress (their results go to the remote store), then stop.
      await worker.close();
    }
    controller.abort();
    await watch.close();
  }
}
