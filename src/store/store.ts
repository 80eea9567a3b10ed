/** A local cache directory: objects, run cache, leases and planner caches, opened together. */
import { lstat, mkdir, mkdtemp, rm, utimes } from 'node:fs/promises';
import { namesIn } from './folder.js';
import { dirname, join, relative } from 'node:path';
import { isTempFileName } from './atomic.js';
import { FileDigestCache } from './file-digests.js';
import { CacheLayout } from './layout.js';
import { Lease, type LeaseOptions } from './lease.js';
import { ObjectStore } from './objects.js';
import { abandoned, HEARTBEAT_MS, ownerOfName, ownerTag } from './owner.js';
import { RunCache } from './run-cache.js';

/** A stage's working folder; `remove` stops its heartbeat and deletes it. */
export interface WorkDir {
  readonly path: string;
  remove(): Promise<void>;
}

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

  /**
   * A fresh working directory for a stage, on the store's filesystem so outputs move in by rename.
   * Its name carries this host and pid (./owner.ts); while it exists its mtime is touched every
   * few seconds, which is how another host sharing the cache, unable to check our pid, sees that
   * it is in use (a long training adds nothing to the folder itself for hours).
   */
  async makeWorkDir(label: string): Promise<WorkDir> {
    await mkdir(this.layout.tmpDir, { recursive: true });
    const safe = label.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 40);
    const path = await mkdtemp(join(this.layout.tmpDir, `${safe}@${ownerTag()}-`));
    const timer = setInterval(() => {
      const now = new Date();
      utimes(path, now, now).catch(() => undefined);
    }, HEARTBEAT_MS);
    timer.unref();
    return {
      path,
      remove: async () => {
        clearInterval(timer);
        await rm(path, { recursive: true, force: true });
      },
    };
  }

  /**
   * Removes working directories and temp files in `tmp/` left by processes that died (kill -9,
   * power loss): those of this host whose pid is dead, and those of other hosts (a shared cache)
   * untouched for the lease staleness limit. What a live process owns is left alone.
   */
  async sweepDeadWorkDirs(opts: { dryRun?: boolean; staleMs?: number } = {}): Promise<string[]> {
    return this.sweep(this.layout.tmpDir, () => true, opts);
  }

  /**
   * Removes the temp files (`tempNameBeside`) that dead writers left beside the files they were
   * writing: in `meta/`, `runs/`, `objects/` and `leases/`. Same rule as `sweepDeadWorkDirs`.
   */
  async sweepStrayTempFiles(opts: { dryRun?: boolean; staleMs?: number } = {}): Promise<string[]> {
    const removed: string[] = [];
    const dirs = [dirname(this.layout.metaPath('-')), this.layout.leasesDir];
    for (const sharded of [this.layout.runsDir, this.layout.objectsDir]) {
      for (const prefix of await namesIn(sharded)) dirs.push(join(sharded, prefix));
    }
    for (const dir of dirs) removed.push(...(await this.sweep(dir, isTempFileName, opts)));
    return removed;
  }

  /** Removes stale leases (an owner dead on this host, or silent for the staleness limit elsewhere); returns their paths relative to the cache. */
  async sweepStaleLeases(opts: { dryRun?: boolean; staleMs?: number } = {}): Promise<string[]> {
    const names = await Lease.sweepStale(this.layout.leasesDir, opts);
    return names.map((n) => relative(this.layout.root, join(this.layout.leasesDir, n)));
  }

  /** Removes the abandoned entries of `dir` that `candidate` accepts; returns their paths relative to the cache. */
  private async sweep(dir: string, candidate: (name: string) => boolean, opts: { dryRun?: boolean; staleMs?: number }): Promise<string[]> {
    const removed: string[] = [];
    for (const name of await namesIn(dir)) {
      if (!candidate(name)) continue;
      const path = join(dir, name);
      let mtimeMs: number;
      try {
        mtimeMs = (await lstat(path)).mtimeMs;
      } catch {
        continue; // gone meanwhile
      }
      if (!abandoned(ownerOfName(name), mtimeMs, opts.staleMs)) continue;
      if (!opts.dryRun) await rm(path, { recursive: true, force: true });
      removed.push(relative(this.layout.root, path));
    }
    return removed;
  }
}
