/**
 * A remote store shared by a team: run records and objects in the same layout as a local cache,
 * in a shared directory (NFS, a mounted bucket). Runs read through it before computing and write
 * through it after. Every object pulled is re-hashed: a remote is never trusted.
 */
import { chmod, copyFile, mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PipelineError } from '../errors.js';
import { tempNameBeside } from './atomic.js';
import { CacheLayout } from './layout.js';
import { ObjectStore } from './objects.js';
import { RunCache, type RunRecord } from './run-cache.js';

export interface RemoteStore {
  readonly url: string;
  getRun(key: string): Promise<RunRecord | undefined>;
  putRun(record: RunRecord): Promise<void>;
  hasObject(digest: string): Promise<boolean>;
  /** Copies an object into the local store, verifying its digest. */
  pull(digest: string, local: ObjectStore): Promise<void>;
  /** Copies a local object to the remote (nothing partial is ever visible there). */
  push(digest: string, local: ObjectStore): Promise<void>;
}

export class DirectoryRemote implements RemoteStore {
  private readonly layout: CacheLayout;
  private readonly runs: RunCache;

  constructor(readonly root: string) {
    this.layout = new CacheLayout(root);
    this.runs = new RunCache(this.layout, new ObjectStore(this.layout));
  }

  get url(): string {
    return this.root;
  }

  getRun(key: string): Promise<RunRecord | undefined> {
    return this.runs.get(key);
  }

  putRun(record: RunRecord): Promise<void> {
    return this.runs.put(record);
  }

  async hasObject(digest: string): Promise<boolean> {
    try {
      await stat(this.layout.objectPath(digest));
      return true;
    } catch {
      return false;
    }
  }

  async pull(digest: string, local: ObjectStore): Promise<void> {
    if (await local.has(digest)) return;
    await mkdir(local.layout.tmpDir, { recursive: true });
    const tmp = tempNameBeside(`${local.layout.tmpDir}/pull`);
    try {
      await copyFile(this.layout.objectPath(digest), tmp);
    } catch {
      throw new PipelineError('INPUT_MISSING', `object ${digest.slice(0, 12)} is not in the remote store`, { where: this.url });
    }
    await chmod(tmp, 0o644);
    const got = await local.ingest(tmp);
    if (got.digest !== digest) {
      await local.remove(got.digest);
      throw new PipelineError('STORE_CORRUPT', `object ${digest.slice(0, 12)} in the remote store is corrupt (its bytes hash to ${got.digest.slice(0, 12)})`, {
        where: this.layout.objectPath(digest),
        hint: 'remove it from the remote store; the stage that made it will run again',
      });
    }
  }

  async push(digest: string, local: ObjectStore): Promise<void> {
    if (await this.hasObject(digest)) return;
    const target = this.layout.objectPath(digest);
    await mkdir(dirname(target), { recursive: true });
    const tmp = tempNameBeside(target);
    await copyFile(await local.verified(digest), tmp);
    await chmod(tmp, 0o444);
    await rename(tmp, target).catch(async (e: unknown) => {
      await rm(tmp, { force: true });
      throw e;
    });
  }
}

/** A remote from its location: a directory path or a file:// URL. */
export function openRemote(location: string): RemoteStore {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location) && !location.startsWith('file://')) {
    throw new PipelineError('USAGE', `remote ${location}: only shared directories (a path or file://) are supported`, {
      hint: 'mount the bucket or share a directory, and pass its path',
    });
  }
  return new DirectoryRemote(resolve(location.startsWith('file://') ? fileURLToPath(location) : location));
}

/** Pulls a run record and all its objects; undefined when the remote lacks any of them. */
export async function pullRun(remote: RemoteStore, key: string, local: { objects: ObjectStore; runs: RunCache }): Promise<RunRecord | undefined> {
  const record = await remote.getRun(key);
  if (!record) return undefined;
  for (const o of Object.values(record.outputs)) if (!(await remote.hasObject(o.digest))) return undefined;
  for (const o of Object.values(record.outputs)) await remote.pull(o.digest, local.objects);
  await local.runs.put(record);
  return record;
}

/** Pushes a run's objects, then its record (so that a record never points at missing objects). */
export async function pushRun(remote: RemoteStore, record: RunRecord, local: ObjectStore): Promise<void> {
  for (const o of Object.values(record.outputs)) await remote.push(o.digest, local);
  await remote.putRun(record);
}
