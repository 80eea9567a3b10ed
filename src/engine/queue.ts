/**
 * Distributed execution on a real queue (BullMQ on Redis). The coordinator (`pipeline run
 * --queue`) enqueues each stage whose inputs are ready, with the stage key as job id, so a key is
 * computed once however many coordinators ask for it; workers (`pipeline worker`) run the same
 * project code, take inputs from the remote store and put results there. The remote store is how
 * artifacts travel; Redis only carries small job descriptions and states.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { relative, resolve } from 'node:path';
import { Queue, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { PipelineError } from '../errors.js';
import { pullRun, pushRun, type RemoteStore, type Store } from '../store/index.js';
import { computeStage, type BoundInput } from './compute.js';
import { lookupStage, type StageProgress } from './stage.js';

export const QUEUE_NAME = 'lth-pipeline-stages';

/** What crosses the queue: plain data, the stage module relative to the project root. */
export interface QueueJob {
  key: string;
  id: string;
  stage: string;
  module: string;
  params: Record<string, unknown>;
  bindings: Record<string, BoundInput>;
  outputs: string[];
  codeFingerprint: string;
}

export function connectionOf(url: string): ConnectionOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new PipelineError('USAGE', `--queue ${url}: expected redis://host:port`, { hint: 'e.g. --queue redis://127.0.0.1:6379' });
  }
  if (u.protocol !== 'redis:') throw new PipelineError('USAGE', `--queue ${url}: expected redis://host:port`);
  return {
    host: u.hostname || '127.0.0.1',
    port: Number(u.port || 6379),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.pathname.length > 1 ? { db: Number(u.pathname.slice(1)) } : {}),
    // BullMQ's blocking commands need this; fail fast on a dead server instead of hanging.
    maxRetriesPerRequest: null,
  };
}

export interface Dispatcher {
  /** Resolves once the remote store holds the key's record and objects. */
  dispatch(job: Omit<QueueJob, 'module'> & { moduleFile: string }, hooks: { progress(p: StageProgress): void; signal: AbortSignal }): Promise<void>;
  close(): Promise<void>;
}

export function createDispatcher(queueUrl: string, remote: RemoteStore, projectRoot: string, pollMs = 200): Dispatcher {
  const queue = new Queue<QueueJob>(QUEUE_NAME, { connection: connectionOf(queueUrl) });
  let reported = false;
  queue.on('error', (e) => {
    if (!reported) process.stderr.write(`queue ${queueUrl}: ${e.message}\n`);
    reported = true;
  });
  const done = async (key: string): Promise<boolean> => {
    const rec = await remote.getRun(key);
    if (!rec) return false;
    for (const o of Object.values(rec.outputs)) if (!(await remote.hasObject(o.digest))) return false;
    return true;
  };
  const enqueue = async (job: QueueJob): Promise<void> => {
    const existing = await queue.getJob(job.key);
    if (existing) {
      const state = await existing.getState();
      if (state === 'waiting' || state === 'active' || state === 'delayed' || state === 'prioritized') return; // someone asked already
      await existing.remove(); // finished earlier (failed, or completed and since collected): ask again
    }
    await queue.add('stage', job, { jobId: job.key, removeOnComplete: true, removeOnFail: { age: 24 * 3600 } });
  };
  return {
    async dispatch({ moduleFile, ...rest }, hooks) {
      const job: QueueJob = { ...rest, module: relative(projectRoot, moduleFile) };
      if (await done(job.key)) return;
      await enqueue(job);
      for (;;) {
        if (hooks.signal.aborted) throw new PipelineError('INTERRUPTED', `stage '${job.id}' was interrupted (its job stays queued)`);
        if (await done(job.key)) return;
        const j = await queue.getJob(job.key);
        if (j) {
          const state = await j.getState();
          if (state === 'failed') {
            throw new PipelineError('STAGE_FAILED', `${j.failedReason ?? 'the job failed'} (on a worker)`, { where: `stage ${job.id}` });
          }
          if (j.progress && typeof j.progress === 'object') hooks.progress(j.progress as StageProgress);
        } else if (!(await done(job.key))) {
          await enqueue(job); // collected without a result (its worker was lost): ask again
        }
        await sleep(pollMs);
      }
    },
    close: () => queue.close(),
  };
}

export interface WorkerOptions {
  queueUrl: string;
  remote: RemoteStore;
  store: Store;
  projectRoot: string;
  concurrency: number;
  log(line: string): void;
}

/** Runs queued stages until `signal` aborts. */
export async function runWorker(opts: WorkerOptions, signal: AbortSignal): Promise<void> {
  const controller = new AbortController();
  const worker = new Worker<QueueJob>(
    QUEUE_NAME,
    async (job: Job<QueueJob>) => {
      const d = job.data;
      if (await pullRun(opts.remote, d.key, opts.store)) return 'present';
      const lease = await opts.store.acquireKey(d.key, { signal: controller.signal });
      try {
        if (await pullRun(opts.remote, d.key, opts.store)) return 'present';
        for (const b of Object.values(d.bindings)) {
          for (const item of b.items) {
            if (item.path === undefined) await opts.remote.pull(item.digest, opts.store.objects);
            else if ((await opts.store.fileDigests.digest(item.path)) !== item.digest) {
              throw new PipelineError('INPUT_MISSING', `input file ${item.path} is missing here or differs from the coordinator's`, { where: `stage ${d.id}` });
            }
          }
        }
        await import(pathToFileURL(resolve(opts.projectRoot, d.module)).href);
        const def = lookupStage(d.stage);
        if (!def) throw new PipelineError('STAGE_FAILED', `this worker's ${d.module} defines no stage '${d.stage}' (another version of the project?)`, { where: `stage ${d.id}` });
        opts.log(`[start]  ${d.id} (${d.key.slice(0, 12)})`);
        const record = await computeStage(
          opts.store,
          { id: d.id, key: d.key, def, params: d.params, bindings: d.bindings, outputs: d.outputs, codeFingerprint: d.codeFingerprint, inline: false },
          { progress: (p) => void job.updateProgress({ ...p }).catch(() => undefined), log: (m) => opts.log(`  ${d.id} | ${m}`), signal: controller.signal },
        );
        await pushRun(opts.remote, record, opts.store.objects);
        opts.log(`[done]   ${d.id} ${record.durationMs}ms`);
        return 'computed';
      } finally {
        await lease.release();
      }
    },
    { connection: connectionOf(opts.queueUrl), concurrency: opts.concurrency },
  );
  worker.on('failed', (job, err) => opts.log(`[failed] ${job?.data.id ?? '?'}: ${err.message}`));
  worker.on('error', (err) => opts.log(`[error]  ${err.message}`));
  await new Promise<void>((resolveStop) => signal.addEventListener('abort', () => resolveStop(), { once: true }));
  // Finish the stages in progress (their results go to the remote store), then stop.
  await worker.close();
  controller.abort();
}
