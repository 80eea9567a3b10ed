/**
 * What is read from a remote store is input from other machines (invariant 7): the checks every
 * remote shares, written once.
 *
 * A run record maps a stage key to outputs. Its key is a hash of what the result was made from
 * (stage, code fingerprint, params, input digests), so a record is bound to its key by those
 * fields: a pulled record must be the record of the key that was asked for, and its stage, code
 * fingerprint, inputs and params must be those of the stage instance being planned (or of the
 * lock file entry being pulled). Its outputs are bound to it by content only as far as content
 * can tell: they must be exactly the outputs the stage declares, each object is re-hashed and
 * must have the size the record gives, and the metrics the record carries (which go into the lock
 * file and the tables) must be the content of its metrics object. Where the expected output
 * digests are known (a committed lock file), they must match too.
 *
 * What no content check can tell is a writer of the remote who fabricates a whole consistent
 * result (other objects, hashed correctly, and a record naming them): like any shared build
 * cache, a remote is trusted by whoever lets others write to it. What a hostile or damaged remote
 * cannot do is make a run read or write outside its cache, hand a stage bytes that are not what
 * their digest says, put a record under a key it is not the record of, crash a run, or cost a
 * good local object: a bad entry is reported once as a warning, skipped, and computed here.
 */
import { isDeepStrictEqual } from 'node:util';
import type { ObjectInfo } from '../objects.js';
import type { JsonValue, RunRecord } from '../run-cache.js';

/** A run record larger than this is not a run record (metrics are summaries, not data). */
export const MAX_RECORD_BYTES = 16 * 1024 * 1024;

/**
 * A remote entry that is not what it must be (a link, not a regular file, too large): thrown by
 * the transports, reported once as a warning by `CheckedRemote`, and skipped.
 */
export class RemoteEntryRefused extends Error {}

/** What the asking side knows about a key before a remote's record for it is accepted. */
export interface RecordExpectation {
  key: string;
  /** Stage definition name. */
  stage?: string;
  codeFingerprint?: string;
  /** Input digests, by input name. */
  inputs?: Record<string, string | string[]>;
  /** Params after validation: the record's must not disagree on any param both have. */
  params?: Record<string, JsonValue>;
  /** The output names the stage declares (the metrics output included): exactly the record's. */
  outputNames?: readonly string[];
  /** The exact outputs (from a lock file, which is committed and trusted). */
  outputs?: Record<string, ObjectInfo>;
  /** The output whose JSON content the record's metrics must equal. */
  metricsOutput?: string;
}

/** The first way a record disagrees with what was expected of it, in words; undefined if none. */
export function expectationProblem(record: RunRecord, expect: RecordExpectation): string | undefined {
  if (record.key !== expect.key) return `it is the record of another key (${record.key.slice(0, 12)})`;
  if (expect.stage !== undefined && record.stage !== expect.stage) return `it is a result of stage '${record.stage}', not of '${expect.stage}'`;
  if (expect.codeFingerprint !== undefined && record.codeFingerprint !== expect.codeFingerprint) return 'its code fingerprint is not the stage\'s';
  if (expect.inputs !== undefined && !isDeepStrictEqual(record.inputs, expect.inputs)) return 'its input digests are not the stage\'s';
  if (expect.params !== undefined) {
    for (const [k, v] of Object.entries(expect.params)) {
      if (k in record.params && !isDeepStrictEqual(record.params[k], v)) return `its param '${k}' is not the stage's`;
    }
  }
  const names = Object.keys(record.outputs).sort();
  if (expect.outputNames !== undefined) {
    const want = [...new Set(expect.outputNames)].sort();
    if (!isDeepStrictEqual(names, want)) return `its outputs are [${names.join(', ')}], the stage declares [${want.join(', ')}]`;
  }
  if (expect.outputs !== undefined) {
    for (const [name, want] of Object.entries(expect.outputs)) {
      const got = record.outputs[name];
      if (!got || got.digest !== want.digest) return `its output '${name}' is not the one the lock file records`;
    }
  }
  if (expect.metricsOutput !== undefined && !(expect.metricsOutput in record.outputs)) return `it has no '${expect.metricsOutput}' output`;
  return undefined;
}

/** Whether a record's metrics are the content of its metrics object (parsed JSON). */
export function metricsAgree(record: RunRecord, metricsObjectText: string): boolean {
  try {
    return isDeepStrictEqual(JSON.parse(metricsObjectText), record.metrics);
  } catch {
    return false;
  }
}
