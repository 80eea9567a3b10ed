/**
 * The child-process side of stage execution (started by `bin/stage-worker.js`). It receives one
 * job over IPC, imports the module that defines the stage, runs it and reports back. The parent
 * owns the store: the child only reads input objects and writes files into its output folder.
 */
import { importModule } from '../typescript.js';
import { executeStageJob } from './execute.js';
import type { ChildMessage, ParentMessage } from '../protocol.js';
import { lookupStage } from '../definition/stage.js';

const controller = new AbortController();
const send = (m: ChildMessage): void => {
  process.send?.(m);
};

// The scheduler went away (it was killed): do not outlive it.
process.on('disconnect', () => process.exit(1));
process.on('SIGTERM', () => controller.abort());
process.on('SIGINT', () => controller.abort());

process.once('message', (msg: ParentMessage) => {
  void (async () => {
    try {
      // First the modules that register what the params name (a network of defineModel), then the stage's.
      for (const file of msg.job.preload ?? []) await importModule(file);
      await importModule(msg.job.moduleFile);
      const def = lookupStage(msg.job.stage);
      if (!def) throw new Error(`module ${msg.job.moduleFile} does not define stage '${msg.job.stage}'`);
      const result = await executeStageJob(def, msg.job, {
        progress: (p) => send({ type: 'progress', ...p }),
        log: (message) => send({ type: 'log', message }),
        signal: controller.signal,
      });
      send({ type: 'done', result });
    } catch (e) {
      const err = e as Error & { code?: string };
      send({ type: 'error', message: err?.message ?? String(e), ...(err?.stack ? { stack: err.stack } : {}), ...(typeof err?.code === 'string' ? { code: err.code } : {}) });
    } finally {
      process.disconnect?.();
    }
  })();
});
