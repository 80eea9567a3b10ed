/**
 * Moving run records and their objects between the local store and a remote, one key at a time
 * (read-through and write-through during runs) or many at once (`pipeline push` / `pull`, with
 * bounded parallelism). Objects go up before the record that names them, so a remote record
 * never points at objects that are not there yet.
 */
import { readFile } from 'node:fs/promises';
import { isDeepStrictEqual } from 'node:util';
import PQueue from 'p-queue';
import type { LockStage } from '../lockfile.js';
import type { ObjectStore } from '../objects.js';
import type { RunCache, RunRecord } from '../run-cache.js';
import type { RemoteStore } from './checked.js';
import { expectationProblem, metricsAgree, type RecordExpectation } from './untrusted.js';

export interface LocalStore {
  objects: ObjectStore;
  runs: RunCache;
}

/**
 * Pulls the record of `key` and its objects into the local store, if the remote has all of them
 * and they pass every check (./untrusted.ts) against `expect`: what the asking side knows of the
 * key. Undefined otherwise (a bad entry is reported once by the remote); nothing local is removed.
 */
export async function pullRun(remote: RemoteStore, key: string, local: LocalStore, expect: Omit<RecordExpectation, 'key'> = {}): Promise<RunRecord | undefined> {
  const record = await remote.getRun(key);
  if (!record) return undefined;
  const problem = expectationProblem(record, { ...expect, key });
  if (problem) {
    remote.reportBadRun(key, problem);
    return undefined;
  }
  const results = await Promise.all(Object.values(record.outputs).map((o) => remote.fetchObject(o.digest, local.objects, o.size)));
  if (results.some((r) => r === 'missing' || r === 'refused')) return undefined;
  if (expect.metricsOutput !== undefined) {
    const metrics = record.outputs[expect.metricsOutput]!;
    if (!metricsAgree(record, await readFile(local.objects.path(metrics.digest), 'utf8'))) {
      remote.reportBadRun(key, `its metrics are not the content of its '${expect.metricsOutput}' object`);
      return undefined;
    }
  }
  await local.runs.put(record);
  return record;
}

export interface PushRunResult {
  record: 'sent' | 'present';
  objectsSent: number;
  objectsPresent: number;
  bytesSent: number;
}

/**
 * Pushes a run's objects that the remote lacks (or holds a bad copy of), then its record, unless
 * the remote holds a good record of the key that says the same.
 */
export async function pushRun(remote: RemoteStore, record: RunRecord, local: ObjectStore): Promise<PushRunResult> {
  const result: PushRunResult = { record: 'present', objectsSent: 0, objectsPresent: 0, bytesSent: 0 };
  await Promise.all(
    Object.values(record.outputs).map(async (o) => {
      if ((await remote.push(o.digest, local)) === 'sent') {
        result.objectsSent++;
        result.bytesSent += o.size;
      } else result.objectsPresent++;
    }),
  );
  // The remote's record stays if it says what ours says (times and hosts aside); a bad or
  // different one is replaced.
  const there = await remote.getRun(record.key);
  const gist = (r: RunRecord) => [r.stage, r.codeFingerprint, r.params, r.inputs, r.outputs, r.metrics];
  if (!there || !isDeepStrictEqual(gist(there), gist(record))) {
    await remote.putRun(record);
    result.record = 'sent';
  }
  return result;
}

/** Progress of a bulk transfer: records done out of the total, bytes moved so far. */
export type TransferProgress = (p: { done: number; total: number; bytes: number }) => void;

export interface TransferOptions {
  /** Records transferred at once (each moves its objects in parallel); default 8. */
  concurrency?: number;
  onProgress?: TransferProgress;
}

/** Runs `work` for every item with bounded parallelism; the first error stops what has not started. */
async function forEachBounded<T>(items: readonly T[], opts: TransferOptions, work: (item: T) => Promise<number>): Promise<void> {
  const queue = new PQueue({ concurrency: opts.concurrency ?? 8 });
  let done = 0;
  let bytes = 0;
  opts.onProgress?.({ done, total: items.length, bytes });
  try {
    await Promise.all(
      items.map((item) =>
        queue.add(async () => {
          const moved = await work(item); // (not `bytes += await ...`: that would add to a stale total)
          bytes += moved;
          opts.onProgress?.({ done: ++done, total: items.length, bytes });
        }),
      ),
    );
  } finally {
    queue.clear();
  }
}

export interface PushReport {
  /** Keys whose record or some object was sent. */
  sent: string[];
  /** Keys the remote held already, record and objects. */
  present: string[];
  /** Keys the local run cache lacks (or lacks some object of): nothing to push. */
  missing: string[];
  objectsSent: number;
  objectsPresent: number;
  bytesSent: number;
}

export async function pushRuns(remote: RemoteStore, local: LocalStore, keys: readonly string[], opts: TransferOptions = {}): Promise<PushReport> {
  const report: PushReport = { sent: [], present: [], missing: [], objectsSent: 0, objectsPresent: 0, bytesSent: 0 };
  await forEachBounded([...new Set(keys)], opts, async (key) => {
    const record = local.runs.getComplete(key);
    if (!record) {
      report.missing.push(key);
      return 0;
    }
    const r = await pushRun(remote, record, local.objects);
    report.objectsSent += r.objectsSent;
    report.objectsPresent += r.objectsPresent;
    report.bytesSent += r.bytesSent;
    (r.record === 'sent' || r.objectsSent > 0 ? report.sent : report.present).push(key);
    return r.bytesSent;
  });
  for (const list of [report.sent, report.present, report.missing]) list.sort();
  return report;
}

export interface PullReport {
  /** Keys pulled from the remote. */
  pulled: string[];
  /** Keys the local store had already. */
  present: string[];
  /** Keys the remote lacks, or holds only bad copies of (reported as warnings). */
  missing: string[];
  bytesPulled: number;
}

export async function pullRuns(remote: RemoteStore, local: LocalStore, wanted: readonly RecordExpectation[], opts: TransferOptions = {}): Promise<PullReport> {
  const report: PullReport = { pulled: [], present: [], missing: [], bytesPulled: 0 };
  const byKey = new Map(wanted.map((w) => [w.key, w]));
  await forEachBounded([...byKey.values()], opts, async (expect) => {
    if (local.runs.getComplete(expect.key)) {
      report.present.push(expect.key);
      return 0;
    }
    const record = await pullRun(remote, expect.key, local, expect);
    if (!record) {
      report.missing.push(expect.key);
      return 0;
    }
    report.pulled.push(expect.key);
    const bytes = Object.values(record.outputs).reduce((a, o) => a + o.size, 0);
    report.bytesPulled += bytes;
    return bytes;
  });
  for (const list of [report.pulled, report.present, report.missing]) list.sort();
  return report;
}

/** What a lock file entry (committed, so trusted) says a pulled record of its key must be. */
export function expectationOfLockStage(entry: LockStage, metricsOutput?: string): RecordExpectation {
  return {
    key: entry.key,
    stage: entry.stage,
    codeFingerprint: entry.code,
    inputs: entry.inputs,
    params: entry.params,
    outputNames: Object.keys(entry.outputs),
    outputs: entry.outputs,
    ...(metricsOutput !== undefined && metricsOutput in entry.outputs ? { metricsOutput } : {}),
  };
}
