/**
 * `pipeline pull [pipeline.ts]`: fetch from the remote store the run records and objects that the
 * lock file references (every pipeline's, or the given pipeline's section) and, with a pipeline
 * file, every stage of its current plan the remote holds, as `dvc pull` does. Every object is
 * re-hashed and every record checked (src/store/remote/untrusted.ts); a bad entry is a warning and
 * is left out. Afterwards `table`, `status` and `run` find the results here: nothing is computed.
 */
import { METRICS_OUTPUT, loadPipeline } from '../../engine/index.js';
import { pullPipeline } from '../../engine/host/sync.js';
import { readLock, type LockStage } from '../../store/index.js';
import { expectationOfLockStage, pullRuns } from '../../store/remote/index.js';
import { formatBytes, writeJson } from '../format.js';
import { openWorkspace, type WorkspaceOptions } from '../workspace.js';
import { requireRemote, transferProgress, type TransferCommandOptions } from './remote-transfer.js';

export interface PullCommandOptions extends WorkspaceOptions, TransferCommandOptions {
  set: string[];
}

export async function pullCommand(file: string | undefined, opts: PullCommandOptions): Promise<number> {
  const ws = openWorkspace(opts, file);
  const progress = await transferProgress('pull');
  const remote = await requireRemote('pull', opts, progress.warn);
  const transfer = { ...(opts.transfers ? { concurrency: opts.transfers } : {}), onProgress: progress.update };
  try {
    const lock = await readLock(ws.lockPath, ws.store.layout);
    const pipeline = file ? await loadPipeline(file, opts.set) : undefined;
    const sections = pipeline ? [lock.pipelines[pipeline.definition.name]].filter((s) => s !== undefined) : Object.values(lock.pipelines);
    const entries: LockStage[] = sections.flatMap((s) => Object.values(s.stages));
    // What the lock file records, checked against it (it is committed: the outputs must be its own).
    const fromLock = await pullRuns(remote, ws.store, entries.map((e) => expectationOfLockStage(e, METRICS_OUTPUT)), transfer);
    let bytes = fromLock.bytesPulled;
    let pulled = fromLock.pulled.length;
    let present = fromLock.present.length;
    let missing: string[] = fromLock.missing.map((k) => `${k.slice(0, 12)} (${entries.find((e) => e.key === k)?.stage ?? '?'})`);
    if (pipeline) {
      // Then the current plan, in dependency order: keys after a pulled stage become known.
      const walk = await pullPipeline(pipeline, ws.store, ws.fingerprinter, remote, transfer);
      const pulledByLock = new Set(fromLock.pulled);
      const pulledIds = new Set([...walk.pulled, ...walk.present.filter((id) => pulledByLock.has(walk.keys[id] ?? ''))]);
      pulled = pulledIds.size;
      present = walk.present.length - (pulledIds.size - walk.pulled.length);
      missing = walk.missing.map((m) => `${m.id} (${m.reason})`);
      bytes += walk.bytesPulled;
      progress.stop();
      if (opts.json) {
        writeJson({ remote: remote.url, pipeline: pipeline.definition.name, pulled: [...pulledIds], present: walk.present.filter((id) => !pulledIds.has(id)), missing: walk.missing, bytesPulled: bytes });
        return 0;
      }
    } else {
      progress.stop();
      if (opts.json) {
        writeJson({ remote: remote.url, pulled: fromLock.pulled, present: fromLock.present, missing: fromLock.missing, bytesPulled: bytes });
        return 0;
      }
      if (entries.length === 0) {
        process.stdout.write(`nothing to pull: the lock file ${ws.lockPath} references no results (give a pipeline file to pull its current plan)\n`);
        return 0;
      }
    }
    process.stdout.write(`pulled ${pulled} stage result(s) from ${remote.url} (${formatBytes(bytes)}); ${present} already here\n`);
    if (missing.length > 0) {
      process.stdout.write(`${missing.length} not available from the remote (a run computes them): ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', ...' : ''}\n`);
    }
    return 0;
  } finally {
    progress.stop();
    await remote.close();
  }
}
