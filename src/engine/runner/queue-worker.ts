/**
 * A queue worker (`pipeline worker`): takes stage tasks queued by coordinators (../host/queue.ts),
 * pulls their inputs from the remote store, computes them as a local run would, and pushes the
 * results back. A job comes from another machine: untrusted input.
 */
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { Worker, type Job } from 'bullmq';
import { PipelineError } from '../../errors.js';
import { pullRun, pushRun, type RemoteStore, type Store } from '../../store/index.js';
import { lookupStage } from '../definition/stage.js';
import { connectionOf, QUEUE_NAME } from '../host/queue.js';
import type { QueueJob } from '../protocol.js';
import { computeStage } from './compute.js';

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
          { ...d, moduleFile: resolve(opts.projectRoot, d.module), def, inline: false },
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
