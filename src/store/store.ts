/** A local cache directory: objects, run cache, leases and planner caches, opened together. */
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FileDigestCache } from './file-digests.js';
import { CacheLayout } from './layout.js';
import { Lease, pidAlive, type LeaseOptions } from './lease.js';
import { ObjectStore } from './objects.js';
import { RunCache } from './run-cache.js';

export class Store {
  readonly layout: CacheLayout;
  readonly objects: ObjectStore;
  readonly runs: RunCache;
  readonly fileDigests: FileDigestCache;

  constructor(root: string) {
    this.layout = new CacheLayout(root);
    this.objects = new ObjectStore(this.layout);
    this.runs = new RunCache(this.layout, this.objects);
    this.fileDigests = new FileDigestCache(this.layout.metaPath('file-digests.json'));
  }

  get root(): string {
    return this.layout.root;
  }

  /** The lease that guards the computation of one stage key. */
  acquireKey(key: string, opts: LeaseOptions & { onWait?: (owner: string) => void } = {}): Promise<Lease> {
    return Lease.acquire(this.layout.leasePath(key), opts);
  }

  /** A fresh working directory for a stage, on the store's filesystem so outputs move in by rename. */
  async makeWorkDir(label: string): Promise<string> {
    await mkdir(this.layout.tmpDir, { recursive: true });
    const safe = label.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 40);
    return mkdtemp(join(this.layout.tmpDir, `${safe}-${process.pid}-`));
  }

  /**
   * Removes working directories left by processes that died (kill -9, power loss): their names
   * carry the owner's pid. Directories of live processes on this host are left alone.
   */
  async sweepDeadWorkDirs(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.layout.tmpDir);
    } catch {
      return [];
    }
    const removed: string[] = [];
    for (const name of names) {
      const pid = Number(/-(\d+)-[^-]*$/.exec(name)?.[1] ?? /\.(\d+)\.[0-9a-f]+\.tmp$/.exec(name)?.[1]);
      if (!Number.isInteger(pid) || pid <= 0 || pidAlive(pid)) continue;
      await rm(join(this.layout.tmpDir, name), { recursive: true, force: true });
      removed.push(name);
    }
    return removed;
  }
}
