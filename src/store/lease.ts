/**
 * Invariant 2: one key is computed at most once at a time, across processes. A lease is a file
 * created with O_EXCL holding its owner (host, pid); the owner touches it every few seconds.
 *
 * Written by hand rather than with a lock library because of one property those lack: a lease
 * whose owner died on this host (`kill -9`, out of memory) is taken over at once, by checking the
 * pid, instead of after a staleness timeout. Leases of other hosts (a shared cache directory) go
 * stale when their heartbeat stops for `staleMs`.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat, utimes } from 'node:fs/promises';
import { namesIn } from './folder.js';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PipelineError } from '../errors.js';
import { abandoned, HEARTBEAT_MS, STALE_MS } from './owner.js';

export { pidAlive } from './owner.js';

/** What a stale lease is renamed to while it is taken over (gone a moment later, unless its remover dies). */
const GRAVEYARD = /\.lease\.stale\.[0-9a-f]+$/;

export interface LeaseOptions {
  /** How often the owner refreshes the lease's mtime. */
  heartbeatMs?: number;
  /** A lease not refreshed for this long is stale (owners on other hosts). */
  staleMs?: number;
  /** Polling interval while waiting for another owner. */
  pollMs?: number;
  signal?: AbortSignal;
}

interface Owner {
  host: string;
  pid: number;
  since: string;
  token: string;
}

export class Lease {
  private timer: NodeJS.Timeout | undefined;
  private released = false;

  private constructor(
    readonly path: string,
    private readonly token: string,
    heartbeatMs: number,
  ) {
    this.timer = setInterval(() => {
      const now = new Date();
      utimes(this.path, now, now).catch(() => undefined);
    }, heartbeatMs);
    this.timer.unref();
  }

  /** Tries once; undefined when someone else holds a live lease. */
  static async tryAcquire(path: string, opts: LeaseOptions = {}): Promise<Lease | undefined> {
    const heartbeatMs = opts.heartbeatMs ?? HEARTBEAT_MS;
    const staleMs = opts.staleMs ?? STALE_MS;
    await mkdir(dirname(path), { recursive: true });
    const owner: Owner = { host: hostname(), pid: process.pid, since: new Date().toISOString(), token: randomBytes(8).toString('hex') };
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const handle = await open(path, 'wx');
        await handle.writeFile(JSON.stringify(owner));
        await handle.close();
        return new Lease(path, owner.token, heartbeatMs);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      if (!(await isStale(path, staleMs))) return undefined;
      // Take the stale lease out of the way by renaming it to a unique name: of several processes
      // racing for it, exactly one rename succeeds, the others see ENOENT and retry the create.
      const graveyard = `${path}.stale.${owner.token}`;
      try {
        await rename(path, graveyard);
        await rm(graveyard, { force: true });
      } catch {
        /* someone else took it over first */
      }
    }
    return undefined;
  }

  /** Waits until the lease is ours. `onWait` is called once when another owner holds it. */
  static async acquire(path: string, opts: LeaseOptions & { onWait?: (owner: string) => void } = {}): Promise<Lease> {
    const pollMs = opts.pollMs ?? 200;
    let told = false;
    for (;;) {
      if (opts.signal?.aborted) throw new PipelineError('INTERRUPTED', 'interrupted while waiting for a lease');
      const lease = await Lease.tryAcquire(path, opts);
      if (lease) return lease;
      if (!told && opts.onWait) {
        told = true;
        opts.onWait(await describeOwner(path));
      }
      await sleep(pollMs, undefined, opts.signal ? { signal: opts.signal } : undefined).catch(() => undefined);
    }
  }

  /**
   * Removes the stale leases in `dir` (`pipeline gc`): an owner dead on this host, or silent for
   * `staleMs` on another. Each is taken over as `tryAcquire` would, then released, so that a
   * process racing for the same key sees an ordinary free or held lease. Live leases stay.
   */
  static async sweepStale(dir: string, opts: { staleMs?: number; dryRun?: boolean } = {}): Promise<string[]> {
    const removed: string[] = [];
    for (const name of await namesIn(dir)) {
      const path = join(dir, name);
      if (GRAVEYARD.test(name)) {
        // Left by a process that died between its rename and its rm: nobody reads it again.
        if (!opts.dryRun) await rm(path, { force: true });
        removed.push(name);
      } else if (name.endsWith('.lease') && (await isStale(path, opts.staleMs ?? STALE_MS))) {
        if (!opts.dryRun) {
          const taken = await Lease.tryAcquire(path, { ...(opts.staleMs !== undefined ? { staleMs: opts.staleMs } : {}) });
          if (!taken) continue; // someone took it over first
          await taken.release();
        }
        removed.push(name);
      }
    }
    return removed;
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearInterval(this.timer);
    // Only remove the file if it is still ours (a stale takeover may have replaced it).
    try {
      const owner = JSON.parse(await readFile(this.path, 'utf8')) as Owner;
      if (owner.token === this.token) await rm(this.path, { force: true });
    } catch {
      /* already gone */
    }
  }
}

async function readOwner(path: string): Promise<Owner | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Owner;
  } catch {
    return undefined;
  }
}

async function describeOwner(path: string): Promise<string> {
  const owner = await readOwner(path);
  return owner ? `pid ${owner.pid} on ${owner.host} since ${owner.since}` : 'another process';
}

async function isStale(path: string, staleMs: number): Promise<boolean> {
  let mtimeMs: number;
  try {
    mtimeMs = (await stat(path)).mtimeMs;
  } catch {
    return true; // vanished: free
  }
  // No readable owner: being written this very moment, or garbage; abandoned() then goes by age.
  const owner = await readOwner(path);
  const known = owner && typeof owner.host === 'string' && Number.isSafeInteger(owner.pid) ? owner : undefined;
  return abandoned(known, mtimeMs, staleMs);
}
