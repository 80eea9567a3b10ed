/**
 * The run cache: stage key -> what that computation produced. Any combination of params ever run
 * is restored from here without recomputing, also after switching back and forth.
 */
import { readFileSync } from 'node:fs';
import { readdir, rm, stat } from 'node:fs/promises';
import { namesIn } from './folder.js';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from './atomic.js';
import { isHexDigest, type CacheLayout } from './layout.js';
import type { ObjectInfo, ObjectStore } from './objects.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

export const jsonValueSchema: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([z.null(), z.boolean(), z.number(), z.string(), z.array(jsonValueSchema), z.record(z.string(), jsonValueSchema)]),
);

/** A stage key or object digest (64 lowercase hex digits): what may become a path. */
export const hexDigestSchema = z.string().refine(isHexDigest, 'not a sha256 in hex (64 lowercase hex digits)');

export interface RunRecord {
  key: string;
  /** Stage definition name. */
  stage: string;
  /** The stage instance id that computed it first (informational: keys are shared across ids). */
  id: string;
  codeFingerprint: string;
  /** Params after validation, defaults included (the key leaves defaults out). */
  params: Record<string, JsonValue>;
  inputs: Record<string, string | string[]>;
  outputs: Record<string, ObjectInfo>;
  metrics: Record<string, JsonValue>;
  startedAt: string;
  durationMs: number;
  host: string;
  provenance: Record<string, JsonValue>;
}

// A record is parsed from JSON text, so its params, metrics and provenance are JSON values by
// construction: only that they are objects is checked (a deep check costs ~1 ms per record with
// training curves in its metrics, on every plan).
const jsonObject = z.record(z.string(), z.unknown()) as unknown as z.ZodType<Record<string, JsonValue>>;

const runRecordSchema = z.object({
  key: hexDigestSchema,
  stage: z.string(),
  id: z.string(),
  codeFingerprint: z.string(),
  params: jsonObject,
  inputs: z.record(z.string(), z.union([hexDigestSchema, z.array(hexDigestSchema)])),
  outputs: z.record(z.string(), z.object({ digest: hexDigestSchema, size: z.number().int().nonnegative() })),
  metrics: jsonObject,
  startedAt: z.string(),
  durationMs: z.number(),
  host: z.string(),
  provenance: jsonObject,
});

/**
 * A run record parsed from JSON (of this cache, another process's or another machine's): its
 * shape, every key and digest in it, and that it is the record of `key`, the key it was asked
 * for (a record is stored, and found, under that key only). The record, or what is wrong with it.
 */
export function checkRunRecord(value: unknown, key: string): { record: RunRecord } | { problem: string } {
  const parsed = runRecordSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { problem: `${issue.path.join('.') || 'the record'}: ${issue.message}` };
  }
  if (parsed.data.key !== key) return { problem: wrongKey(parsed.data.key, key) };
  return { record: parsed.data };
}

function wrongKey(found: string, key: string): string {
  return `it is the record of key ${JSON.stringify(found.slice(0, 16))}..., not of ${key.slice(0, 16)}...`;
}

/*
 * checkRunRecord without zod, for the common case of a well-formed record parsed from JSON (own,
 * enumerable string members only: what this relies on). Planning reads one record per stage, and
 * runRecordSchema.safeParse took 45-80 ms of a fully cached 1,000-stage `run` or `status` (~0.65 s;
 * CPU profiles of bench/engine.ts), this 5-10 ms. It accepts only what
 * runRecordSchema accepts, and returns what runRecordSchema returns: a new object with the
 * schema's members in the schema's order (unknown members dropped), copies of the records and of
 * the output entries, the rest as parsed. Anything else - a problem, or anything unusual such as
 * a `__proto__` member - returns undefined, and runRecordSchema decides (and words the problem).
 * test/store/run-record-check.test.ts compares the two.
 */
function wellFormedRecord(v: unknown): RunRecord | undefined {
  if (!isJsonObject(v)) return undefined;
  if (asWritten(v)) return v as unknown as RunRecord;
  const { key, stage, id, codeFingerprint, params, inputs, outputs, metrics, startedAt, durationMs, host, provenance } = v;
  if (!isHexDigest(key) || typeof stage !== 'string' || typeof id !== 'string' || typeof codeFingerprint !== 'string') return undefined;
  if (typeof startedAt !== 'string' || typeof durationMs !== 'number' || !Number.isFinite(durationMs) || typeof host !== 'string') return undefined;
  const paramsCopy = recordCopy(params, (x) => x);
  const inputsCopy = recordCopy(inputs, (x) => (isHexDigest(x) ? x : Array.isArray(x) && x.every(isHexDigest) ? [...x] : undefined));
  const outputsCopy = recordCopy(outputs, (x) =>
    isJsonObject(x) && isHexDigest(x.digest) && Number.isSafeInteger(x.size) && (x.size as number) >= 0 ? { digest: x.digest, size: x.size as number } : undefined,
  );
  const metricsCopy = recordCopy(metrics, (x) => x);
  const provenanceCopy = recordCopy(provenance, (x) => x);
  if (!paramsCopy || !inputsCopy || !outputsCopy || !metricsCopy || !provenanceCopy) return undefined;
  return {
    key,
    stage,
    id,
    codeFingerprint,
    params: paramsCopy as Record<string, JsonValue>,
    inputs: inputsCopy as Record<string, string | string[]>,
    outputs: outputsCopy as Record<string, ObjectInfo>,
    metrics: metricsCopy as Record<string, JsonValue>,
    startedAt,
    durationMs,
    host,
    provenance: provenanceCopy as Record<string, JsonValue>,
  };
}

const RECORD_MEMBERS = ['key', 'stage', 'id', 'codeFingerprint', 'params', 'inputs', 'outputs', 'metrics', 'startedAt', 'durationMs', 'host', 'provenance'];

/*
 * Whether a parsed record is already what wellFormedRecord would make of it: the schema's members
 * in the schema's order and no other (as RunCache.put writes them), output entries of just digest
 * and size in that order, and no `__proto__` member in the records it copies. Then the copies
 * would equal the parsed objects, which nothing else holds, so it is returned as it is: a fully
 * cached 1,000-stage run made 8 objects per record for nothing (parsing and checking its 1,000
 * records in a fresh process: ~9.4 ms with the copies, ~7.3 ms without, medians of 9).
 */
function asWritten(v: Record<string, unknown>): boolean {
  // (for-in also visits enumerable members added to Object.prototype, after the own ones: then
  // the count is off.)
  let i = 0;
  for (const k in v) if (k !== RECORD_MEMBERS[i++]) return false;
  if (i !== RECORD_MEMBERS.length) return false;
  const { key, stage, id, codeFingerprint, params, inputs, outputs, metrics, startedAt, durationMs, host, provenance } = v;
  if (!isHexDigest(key) || typeof stage !== 'string' || typeof id !== 'string' || typeof codeFingerprint !== 'string') return false;
  if (typeof startedAt !== 'string' || typeof durationMs !== 'number' || !Number.isFinite(durationMs) || typeof host !== 'string') return false;
  if (!plainRecord(params) || !plainRecord(metrics) || !plainRecord(provenance) || !plainRecord(inputs) || !plainRecord(outputs)) return false;
  for (const k in inputs) {
    const x = inputs[k];
    if (!isHexDigest(x) && !(Array.isArray(x) && x.every(isHexDigest))) return false;
  }
  for (const k in outputs) {
    const x = outputs[k];
    if (!isJsonObject(x) || !Number.isSafeInteger(x.size) || (x.size as number) < 0 || !isHexDigest(x.digest)) return false;
    let n = 0;
    for (const m in x) if (m !== (n++ === 0 ? 'digest' : 'size')) return false;
    if (n !== 2) return false;
  }
  return true;
}

/** A JSON object that recordCopy would copy member for member (no `__proto__` member). */
function plainRecord(v: unknown): v is Record<string, unknown> {
  return isJsonObject(v) && !Object.hasOwn(v, '__proto__');
}

/** An object as JSON.parse makes it (no array, no other prototype). */
function isJsonObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;
}

/** A copy of a JSON object with every value mapped; undefined when a value maps to undefined or a member is unusual. */
function recordCopy(v: unknown, value: (x: unknown) => unknown): Record<string, unknown> | undefined {
  if (!isJsonObject(v)) return undefined;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) {
    if (k === '__proto__') return undefined;
    const x = value(v[k]);
    if (x === undefined) return undefined;
    out[k] = x;
  }
  return out;
}

/** `checkRunRecord` of a record file's text. */
export function parseRunRecord(text: string, key: string): { record: RunRecord } | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { problem: `not JSON (${(e as Error).message})` };
  }
  const fast = wellFormedRecord(value);
  if (fast) return fast.key === key ? { record: fast } : { problem: wrongKey(fast.key, key) };
  return checkRunRecord(value, key);
}

export class RunCache {
  constructor(
    readonly layout: CacheLayout,
    private readonly objects: ObjectStore,
  ) {}

  /**
   * A key's record. Synchronous: records are small files read one per stage while planning, and
   * synchronous reads are several times faster than awaiting each one (the event loop has nothing
   * else to do meanwhile).
   */
  get(key: string): RunRecord | undefined {
    let text: string;
    try {
      text = readFileSync(this.layout.runPath(key), 'utf8');
    } catch {
      return undefined;
    }
    const checked = parseRunRecord(text, key);
    return 'record' in checked ? checked.record : undefined; // a foreign or damaged entry is a miss, never a crash
  }

  /**
   * A record whose every output object is present: safe to restore from. Synchronous: planning
   * asks once per stage, and a fully cached 1,000-stage run awaited 2,000 promises here that had
   * nothing to wait for.
   */
  getComplete(key: string): RunRecord | undefined {
    const rec = this.get(key);
    if (!rec) return undefined;
    for (const out of Object.values(rec.outputs)) {
      if (!this.objects.presentNow(out.digest)) return undefined;
    }
    return rec;
  }

  async put(record: RunRecord): Promise<void> {
    await writeFileAtomic(this.layout.runPath(record.key), JSON.stringify(record, null, 1));
  }

  async remove(key: string): Promise<void> {
    await rm(this.layout.runPath(key), { force: true });
  }

  /** Every record with its file's modification time (newest first). */
  async list(): Promise<Array<{ record: RunRecord; mtimeMs: number }>> {
    const out: Array<{ record: RunRecord; mtimeMs: number }> = [];
    for (const prefix of await namesIn(this.layout.runsDir)) {
      const dir = join(this.layout.runsDir, prefix);
      for (const name of await readdir(dir)) {
        if (!name.endsWith('.json') || !isHexDigest(name.slice(0, -5))) continue;
        const record = this.get(name.slice(0, -5));
        if (record) out.push({ record, mtimeMs: (await stat(join(dir, name))).mtimeMs });
      }
    }
    return out.sort((a, b) => b.mtimeMs - a.mtimeMs);
  }
}
