/**
 * The run cache: stage key -> what that computation produced. Any combination of params ever run
 * is restored from here without recomputing, also after switching back and forth.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic.js';
import type { CacheLayout } from './layout.js';
import type { ObjectInfo, ObjectStore } from './objects.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

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

export class RunCache {
  constructor(
    readonly layout: CacheLayout,
    private readonly objects: ObjectStore,
  ) {}

  // Records are small files read one per stage while planning: synchronous reads are several
  // times faster than awaiting each one (the event loop has nothing else to do meanwhile).
  async get(key: string): Promise<RunRecord | undefined> {
    let text: string;
    try {
      text = readFileSync(this.layout.runPath(key), 'utf8');
    } catch {
      return undefined;
    }
    try {
      return JSON.parse(text) as RunRecord;
    } catch {
      return undefined; // a foreign or damaged entry is a miss, never a crash
    }
  }

  /** A record whose every output object is present: safe to restore from. */
  async getComplete(key: string): Promise<RunRecord | undefined> {
    const rec = await this.get(key);
    if (!rec) return undefined;
    for (const out of Object.values(rec.outputs)) {
      if (!existsSync(this.objects.path(out.digest))) return undefined;
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
    let prefixes: string[];
    try {
      prefixes = await readdir(this.layout.runsDir);
    } catch {
      return out;
    }
    for (const prefix of prefixes) {
      const dir = join(this.layout.runsDir, prefix);
      for (const name of await readdir(dir)) {
        if (!name.endsWith('.json') || name.startsWith('.')) continue;
        const record = await this.get(name.slice(0, -5));
        if (record) out.push({ record, mtimeMs: (await stat(join(dir, name))).mtimeMs });
      }
    }
    return out.sort((a, b) => b.mtimeMs - a.mtimeMs);
  }
}
