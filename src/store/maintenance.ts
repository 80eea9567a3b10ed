/**
 * Cache maintenance: `gc` (drop what nothing references) and `verify` (re-hash every object).
 */
import type { LockDoc } from './lockfile.js';
import type { Store } from './store.js';

export interface GcOptions {
  /** Run records kept per stage instance id, newest first, besides those the lock files name. */
  keepLast: number;
  dryRun: boolean;
}

export interface GcReport {
  keptRuns: number;
  removedRuns: string[];
  keptObjects: number;
  removedObjects: Array<{ digest: string; size: number }>;
  /** Working folders and temp files that dead processes left (paths relative to the cache). */
  removedTmp: string[];
  /** Leases whose owner is dead (this host) or silent past the staleness limit (other hosts). */
  removedLeases: string[];
}

/**
 * Keeps every run record and object that a lock file references, plus the `keepLast` newest run
 * records of each stage instance (so switching a param back restores without recomputing); drops
 * the rest. What dead processes left goes too: working directories, temp files, stale leases (a
 * process of this host whose pid is dead; of another host sharing the cache, once silent for the
 * lease staleness limit).
 */
export async function collectGarbage(store: Store, locks: readonly LockDoc[], opts: GcOptions): Promise<GcReport> {
  const keepKeys = new Set<string>();
  const keepObjects = new Set<string>();
  for (const lock of locks) {
    for (const p of Object.values(lock.pipelines)) {
      for (const s of Object.values(p.stages)) {
        keepKeys.add(s.key);
        for (const o of Object.values(s.outputs)) keepObjects.add(o.digest);
      }
    }
  }
  const perId = new Map<string, number>();
  const removedRuns: string[] = [];
  let keptRuns = 0;
  for (const { record } of await store.runs.list()) {
    // The lock file's records are kept anyway; keepLast counts the others, newest first.
    const n = keepKeys.has(record.key) ? 0 : (perId.get(record.id) ?? 0);
    if (!keepKeys.has(record.key)) perId.set(record.id, n + 1);
    if (keepKeys.has(record.key) || n < opts.keepLast) {
      keptRuns++;
      for (const o of Object.values(record.outputs)) keepObjects.add(o.digest);
    } else {
      removedRuns.push(record.key);
      if (!opts.dryRun) await store.runs.remove(record.key);
    }
  }
  const removedObjects: GcReport['removedObjects'] = [];
  let keptObjects = 0;
  for (const digest of await store.objects.list()) {
    if (keepObjects.has(digest)) {
      keptObjects++;
      continue;
    }
    removedObjects.push({ digest, size: await store.objects.size(digest) });
    if (!opts.dryRun) await store.objects.remove(digest);
  }
  const sweep = { dryRun: opts.dryRun };
  const removedTmp = [...(await store.sweepDeadWorkDirs(sweep)), ...(await store.sweepStrayTempFiles(sweep))];
  const removedLeases = await store.sweepStaleLeases(sweep);
  return { keptRuns, removedRuns, keptObjects, removedObjects, removedTmp, removedLeases };
}

export interface VerifyReport {
  checked: number;
  corrupt: Array<{ digest: string; movedTo: string }>;
}

/** Re-hashes every object; corrupt ones are moved to quarantine so that runs recompute them. */
export async function verifyObjects(store: Store, onProgress?: (done: number, total: number) => void): Promise<VerifyReport> {
  const digests = await store.objects.list();
  const corrupt: VerifyReport['corrupt'] = [];
  let done = 0;
  for (const digest of digests) {
    // (One that another process removed or quarantined meanwhile is no longer this verify's.)
    const c = await store.objects.check(digest);
    if (c.state === 'corrupt' && c.movedTo !== undefined) corrupt.push({ digest, movedTo: c.movedTo });
    onProgress?.(++done, digests.length);
  }
  return { checked: digests.length, corrupt };
}
