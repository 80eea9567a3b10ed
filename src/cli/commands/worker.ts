/** `pipeline worker`: runs stages that `pipeline run --queue` coordinators put on the queue. */
import { PipelineError } from '../../errors.js';
import { queueSecret, queueTimeoutMs, shownUrl } from '../../engine/host/queue.js';
import { runWorker } from '../../engine/runner/queue-worker.js';
import { openRemote } from '../../store/remote/index.js';
import { openWorkspace, type WorkspaceOptions } from '../workspace.js';

export interface WorkerCommandOptions extends WorkspaceOptions {
  queue?: string;
  remote?: string;
  concurrency: number;
  /** How long Redis may be unreachable before the worker gives up (default: PIPELINE_QUEUE_TIMEOUT, else 60 s). */
  queueTimeout?: string;
}

export async function workerCommand(opts: WorkerCommandOptions): Promise<number> {
  const queueUrl = opts.queue ?? process.env.PIPELINE_QUEUE;
  const remoteLocation = opts.remote ?? process.env.PIPELINE_REMOTE;
  if (!queueUrl || !remoteLocation) {
    throw new PipelineError('USAGE', 'pipeline worker needs --queue <redis://host:port> and --remote <shared store>', {
      hint: 'the same two options as the coordinating `pipeline run`; run it in a checkout of the same project',
    });
  }
  const timeoutMs = queueTimeoutMs(opts.queueTimeout);
  const secret = queueSecret();
  const ws = openWorkspace(opts);
  const controller = new AbortController();
  let signals = 0;
  const stop = (): void => {
    if (++signals > 1) process.exit(130);
    process.stderr.write('worker: finishing the stages in progress (Ctrl-C again to quit at once)\n');
    controller.abort();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const signing = secret ? 'only jobs signed with PIPELINE_QUEUE_SECRET' : 'unsigned jobs (set PIPELINE_QUEUE_SECRET to require signed ones)';
  process.stderr.write(`worker: ${shownUrl(queueUrl)}, remote ${remoteLocation}, cache ${ws.store.root}, ${opts.concurrency} at a time; runs ${signing} and stage modules of ${ws.root} only\n`);
  await runWorker(
    {
      queueUrl,
      remote: openRemote(remoteLocation),
      store: ws.store,
      projectRoot: ws.root,
      concurrency: opts.concurrency,
      secret,
      queueTimeoutMs: timeoutMs,
      log: (l) => process.stderr.write(`${l}\n`),
    },
    controller.signal,
  );
  return 0;
}
