/**
 * Distributed execution on a real queue (BullMQ on Redis), the coordinator's side (the worker's:
 * ../runner/queue-worker.ts). The coordinator (`pipeline run --queue`) enqueues each stage whose inputs are ready, with the stage key as job id, so a key is
 * computed once however many coordinators ask for it; workers (`pipeline worker`) run the same
 * project code, take inputs from the remote store and put results there. The remote store is how
 * artifacts travel; Redis only carries small job descriptions and states.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { relative } from 'node:path';
import { Queue, type ConnectionOptions } from 'bullmq';
import { PipelineError } from '../../errors.js';
import type { RemoteStore } from '../../store/index.js';
import type { StageProgress } from '../definition/stage.js';
import type { QueueJob, StageTask } from '../protocol.js';

export const QUEUE_NAME = 'lth-pipeline-stages';

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
  dispatch(task: StageTask, hooks: { progress(p: StageProgress): void; signal: AbortSignal }): Promise<void>;
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
