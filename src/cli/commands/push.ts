/**
 * `pipeline push [pipeline.ts]`: send to the remote store the run records and objects that the
 * lock file references (every pipeline's, or the given pipeline's section and its current plan's
 * cached keys), as `dvc push` does. Only what the remote lacks (or holds a bad copy of) is sent.
 */
import { loadPipeline, planPipeline } from '../../engine/index.js';
import { readLock } from '../../store/index.js';
import { pushRuns } from '../../store/remote/index.js';
import { formatBytes, writeJson } from '../format.js';
import { openWorkspace, type WorkspaceOptions } from '../workspace.js';
import { requireRemote, transferProgress, type TransferCommandOptions } from './remote-transfer.js';

export interface PushCommandOptions extends WorkspaceOptions, TransferCommandOptions {
  set: string[];
}

export async function pushCommand(file: string | undefined, opts: PushCommandOptions): Promise<number> {
  const ws = openWorkspace(opts, file);
  const progress = await transferProgress('push');
  const remote = await requireRemote('push', opts, progress.warn);
  try {
    const lock = await readLock(ws.lockPath, ws.store.layout);
    const keys: string[] = [];
    let scope = `the lock file ${ws.lockPath}`;
    if (file) {
      const pipeline = await loadPipeline(file, opts.set);
      const section = lock.pipelines[pipeline.definition.name];
      for (const e of Object.values(section?.stages ?? {})) keys.push(e.key);
      const plan = await planPipeline(pipeline, ws.store, ws.fingerprinter, section);
      for (const s of plan.stages.values()) if (s.record && s.key) keys.push(s.key);
      scope = `pipeline ${pipeline.definition.name}`;
    } else {
      for (const section of Object.values(lock.pipelines)) for (const e of Object.values(section.stages)) keys.push(e.key);
    }
    const report = await pushRuns(remote, ws.store, keys, { ...(opts.transfers ? { concurrency: opts.transfers } : {}), onProgress: progress.update });
    progress.stop();
    if (opts.json) {
      writeJson({ remote: remote.url, sent: report.sent, present: report.present, notInCache: report.missing, objectsSent: report.objectsSent, objectsPresent: report.objectsPresent, bytesSent: report.bytesSent });
      return 0;
    }
    const total = report.sent.length + report.present.length + report.missing.length;
    if (total === 0) {
      process.stdout.write(`nothing to push: ${scope} references no results (run a pipeline first)\n`);
      return 0;
    }
    process.stdout.write(
      `pushed ${report.sent.length} stage result(s) to ${remote.url} (${report.objectsSent} object(s), ${formatBytes(report.bytesSent)}); ` +
        `${report.present.length} already there\n`,
    );
    if (report.missing.length > 0) {
      process.stdout.write(`${report.missing.length} result(s) that ${scope} references are not in the local cache ${ws.store.root}: run the pipeline to compute them, then push\n`);
    }
    return 0;
  } finally {
    progress.stop();
    await remote.close();
  }
}
