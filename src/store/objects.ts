/**
 * The content-addressed object store: every artifact (checkpoint, mask, metrics, plot) is an
 * immutable file named by the sha256 of its bytes. Objects are ingested by moving a finished file
 * into place (rename, so never partially visible) and made read-only.
 *
 * Invariant 1: an object read from anywhere this process did not write is checked against its
 * digest once per process before it is handed to a stage (`verified`).
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { namesIn } from './folder.js';
import { dirname, join } from 'node:path';
import { PipelineError } from '../errors.js';
import { digestOfFile } from './digest.js';
import { isHexDigest, type CacheLayout } from './layout.js';

export interface ObjectInfo {
  digest: string;
  size: number;
}

/** What re-hashing an object found: intact (its path), missing, or corrupt and moved to quarantine. */
export type ObjectCheck = { state: 'intact'; path: string } | { state: 'missing' } | { state: 'corrupt'; actual: string; movedTo: string | undefined };

export class ObjectStore {
  /** Digests this process wrote or already re-hashed: no need to hash them again. */
  private readonly trusted = new Set<string>();

  /**
   * Digests found present during this turn of the event loop (see presentNow); undefined when
   * none is remembered.
   */
  private presentThisTurn: Set<string> | undefined;

  constructor(readonly layout: CacheLayout) {}

  path(digest: string): string {
    return this.layout.objectPath(digest);
  }

  /**
   * Whether the object is in the store, synchronously (how a run record's outputs are checked
   * while planning). A digest found present is remembered until the end of the current turn of
   * the event loop, no longer: outputs that many records share (the same small metrics file) are
   * looked up once while a plan is made in one turn, and no answer is older than that turn. In
   * the 1,000-stage benchmark (bench/engine.ts) the 2,000 outputs have 1,007 distinct digests.
   */
  presentNow(digest: string): boolean {
    if (this.presentThisTurn?.has(digest)) return true;
    if (!existsSync(this.path(digest))) return false;
    if (!this.presentThisTurn) {
      this.presentThisTurn = new Set();
      setImmediate(() => (this.presentThisTurn = undefined)).unref();
    }
    this.presentThisTurn.add(digest);
    return true;
  }

  async has(digest: string): Promise<boolean> {
    try {
      await stat(this.path(digest));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Moves `file` into the store (the file is consumed). When the object already exists, the new
   * copy is dropped: same digest, same bytes.
   *
   * With `expected` (bytes that came from elsewhere: a remote store), the file is hashed first and
   * only taken when it is what was asked for; otherwise it is deleted and STORE_CORRUPT thrown.
   * Either way nothing already in the store is touched: a bad copy from elsewhere is never a reason
   * to delete a good local object.
   */
  async ingest(file: string, expected?: { digest: string; size?: number; from?: string }): Promise<ObjectInfo> {
    const digest = await digestOfFile(file);
    const { size } = await stat(file);
    if (expected && (digest !== expected.digest || (expected.size !== undefined && size !== expected.size))) {
      await rm(file, { force: true });
      const what = digest !== expected.digest ? `its bytes hash to ${digest.slice(0, 12)}` : `it has ${size} bytes, not ${expected.size}`;
      throw new PipelineError('STORE_CORRUPT', `object ${expected.digest.slice(0, 12)} is corrupt (${what})`, expected.from ? { where: expected.from } : {});
    }
    const target = this.path(digest);
    // A copy already here is kept only if it is intact: a recomputation is what heals a corrupt
    // object (its new, good bytes take the place of the quarantined ones).
    if ((await this.has(digest)) && (await this.check(digest)).state === 'intact') {
      await rm(file, { force: true });
    } else {
      await mkdir(dirname(target), { recursive: true });
      await chmod(file, 0o444);
      await rename(file, target);
    }
    this.trusted.add(digest);
    return { digest, size };
  }

  /** Re-hashes an object unless this process wrote or checked it already. */
  async verified(digest: string): Promise<string> {
    const p = this.path(digest);
    if (this.trusted.has(digest)) return p;
    const actual = await this.rehash(digest);
    if (actual === undefined) {
      throw new PipelineError('INPUT_MISSING', `object ${digest.slice(0, 12)} is not in the cache`, {
        where: p,
        hint: 'run `pipeline gc` or `pipeline verify` only when no run is active; rerun the pipeline to recompute it',
      });
    }
    if (actual !== digest) {
      throw new PipelineError('STORE_CORRUPT', `object ${digest.slice(0, 12)} is corrupt (its bytes hash to ${actual.slice(0, 12)})`, {
        where: p,
        hint: 'run `pipeline verify` to quarantine corrupt objects, then rerun',
      });
    }
    return p;
  }

  /**
   * Re-hashes an object (unless this process wrote or checked it already) and moves a corrupt one
   * to quarantine: the object is then missing, so the run record that names it is no longer a hit
   * and the stage that made it runs again. `pipeline verify`, a run and `get` share this.
   */
  async check(digest: string): Promise<ObjectCheck> {
    const path = this.path(digest);
    if (this.trusted.has(digest)) return { state: 'intact', path };
    const actual = await this.rehash(digest);
    if (actual === undefined) return { state: 'missing' };
    if (actual === digest) return { state: 'intact', path };
    const movedTo = await this.quarantine(digest);
    // Another run on this cache may have healed the object between the hash and the move: then
    // the good copy goes back (it is never a reason to lose a good object).
    if (movedTo !== undefined && (await digestOfFile(movedTo)) === digest) {
      await rename(movedTo, path);
      this.trusted.add(digest);
      return { state: 'intact', path };
    }
    return { state: 'corrupt', actual, movedTo };
  }

  /**
   * A result someone asked for (`get`, a report's curve), re-hashed: a corrupt object is
   * quarantined, and the error says whose result it was (`of`: "output 'x' of stage 'id'") and
   * how to recompute it (`rerun`: a command).
   */
  async verifiedResult(digest: string, of: string, rerun: string): Promise<string> {
    const c = await this.check(digest);
    if (c.state === 'intact') return c.path;
    const what = c.state === 'missing' ? 'is no longer in the cache' : `was corrupt (its bytes hash to ${c.actual.slice(0, 12)}) and is now in quarantine`;
    throw new PipelineError('STORE_CORRUPT', `object ${digest.slice(0, 12)} (${of}) ${what}`, { hint: `rerun the stage that made it: ${rerun}` });
  }

  /** The digest of an object's bytes (remembered as trusted when it matches); undefined when it is not there. */
  private async rehash(digest: string): Promise<string | undefined> {
    let actual: string;
    try {
      actual = await digestOfFile(this.path(digest));
    } catch {
      return undefined;
    }
    if (actual === digest) this.trusted.add(digest);
    return actual;
  }

  /** Every digest in the store. */
  async list(): Promise<string[]> {
    const out: string[] = [];
    for (const prefix of await namesIn(this.layout.objectsDir)) {
      if (!/^[0-9a-f]{2}$/.test(prefix)) continue;
      for (const rest of await readdir(join(this.layout.objectsDir, prefix))) {
        // Temp files (dot names) and anything foreign are not objects.
        if (isHexDigest(prefix + rest)) out.push(prefix + rest);
      }
    }
    return out.sort();
  }

  async size(digest: string): Promise<number> {
    return (await stat(this.path(digest))).size;
  }

  async remove(digest: string): Promise<void> {
    // Forgotten before (no one is told it is there while it goes) and after (someone asked meanwhile).
    this.presentThisTurn?.delete(digest);
    await rm(this.path(digest), { force: true });
    this.trusted.delete(digest);
    this.presentThisTurn?.delete(digest);
  }

  /**
   * Moves a corrupt object out of the way so that the next run recomputes it; undefined when it
   * was gone already (another process moved it first).
   */
  async quarantine(digest: string): Promise<string | undefined> {
    await mkdir(this.layout.quarantineDir, { recursive: true });
    const target = join(this.layout.quarantineDir, `${digest}.${Date.now()}.${process.pid}`);
    this.presentThisTurn?.delete(digest);
    try {
      await rename(this.path(digest), target);
      return target;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    } finally {
      this.trusted.delete(digest);
      this.presentThisTurn?.delete(digest);
    }
  }
}
