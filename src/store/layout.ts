/**
 * Where things live in a cache directory, and in a remote store (a shared directory or an S3
 * prefix, which use the same layout). One place for all paths so that gc, verify, the run cache
 * and the remotes agree.
 *
 *   objects/ab/cdef...   immutable artifacts named by their sha256 (read-only files)
 *   runs/ab/<key>.json   run cache: stage key -> output digests, metrics, provenance
 *   leases/<name>.lease  per-key leases (one computation of a key at a time)
 *   tmp/                 stage working directories and files being written (same filesystem)
 *   quarantine/          objects that failed verification
 *   meta/                planner caches (code fingerprints, external file digests)
 *
 * Keys and digests also arrive from other machines (a remote's run records, queue jobs, a lock
 * file someone committed): every path built from one goes through `checkedHex` first, so a value
 * such as `../../x` never becomes a path (invariant 7).
 */
import { join, sep } from 'node:path';
import { PipelineError } from '../errors.js';

/** A stage key or a content digest: a sha256, as 64 lowercase hex digits. */
const HEX_DIGEST = /^[0-9a-f]{64}$/;

export function isHexDigest(value: unknown): value is string {
  return typeof value === 'string' && HEX_DIGEST.test(value);
}

/** The value itself when it is a sha256 in hex; otherwise an error (no path is made from it). */
export function checkedHex(value: string, what: 'key' | 'digest'): string {
  if (isHexDigest(value)) return value;
  const shown = JSON.stringify(String(value).slice(0, 80));
  throw new PipelineError('STORE_CORRUPT', `${shown} is not a valid ${what === 'key' ? 'stage key' : 'object digest'} (64 lowercase hex digits); refusing to use it as a path`, {
    hint: 'an entry of a cache, remote store, lock file or queue job was damaged or forged',
  });
}

/** `objects/ab/<rest>` as path segments (joined with `/` for S3 keys, with the OS's separator on disk). */
export function objectSegments(digest: string): [string, string, string] {
  const d = checkedHex(digest, 'digest');
  return ['objects', d.slice(0, 2), d.slice(2)];
}

/** `runs/ab/<key>.json` as path segments. */
export function runSegments(key: string): [string, string, string] {
  const k = checkedHex(key, 'key');
  return ['runs', k.slice(0, 2), `${k}.json`];
}

const PLAIN_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

export class CacheLayout {
  // objectPath and runPath append to these: join() of the whole path was ~10 ms of planning
  // 1,000 stages (two lookups each). Same paths: join(root, 'objects') is normalised and never
  // ends in a separator, and the rest is hex digits.
  private readonly objectsPrefix: string;
  private readonly runsPrefix: string;

  constructor(readonly root: string) {
    this.objectsPrefix = join(root, 'objects') + sep;
    this.runsPrefix = join(root, 'runs') + sep;
  }

  get objectsDir(): string {
    return join(this.root, 'objects');
  }
  objectPath(digest: string): string {
    const d = checkedHex(digest, 'digest');
    return `${this.objectsPrefix}${d.slice(0, 2)}${sep}${d.slice(2)}`;
  }
  get runsDir(): string {
    return join(this.root, 'runs');
  }
  runPath(key: string): string {
    const k = checkedHex(key, 'key');
    return `${this.runsPrefix}${k.slice(0, 2)}${sep}${k}.json`;
  }
  get leasesDir(): string {
    return join(this.root, 'leases');
  }
  leasePath(name: string): string {
    if (!PLAIN_NAME.test(name)) throw new PipelineError('INTERNAL', `lease name ${JSON.stringify(name)} is not a plain file name`);
    return join(this.root, 'leases', `${name}.lease`);
  }
  get tmpDir(): string {
    return join(this.root, 'tmp');
  }
  get quarantineDir(): string {
    return join(this.root, 'quarantine');
  }
  metaPath(name: string): string {
    return join(this.root, 'meta', name);
  }
}
