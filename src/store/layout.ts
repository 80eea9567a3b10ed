/**
 * Where things live in a local cache directory. One place for all paths so that gc, verify and
 * the run cache agree.
 *
 *   objects/ab/cdef...   immutable artifacts named by their sha256 (read-only files)
 *   runs/ab/<key>.json   run cache: stage key -> output digests, metrics, provenance
 *   leases/<name>.lease  per-key leases (one computation of a key at a time)
 *   tmp/                 stage working directories and files being written (same filesystem)
 *   quarantine/          objects that failed verification
 *   meta/                planner caches (code fingerprints, external file digests)
 */
import { join } from 'node:path';

export class CacheLayout {
  constructor(readonly root: string) {}

  get objectsDir(): string {
    return join(this.root, 'objects');
  }
  objectPath(digest: string): string {
    return join(this.root, 'objects', digest.slice(0, 2), digest.slice(2));
  }
  get runsDir(): string {
    return join(this.root, 'runs');
  }
  runPath(key: string): string {
    return join(this.root, 'runs', key.slice(0, 2), `${key}.json`);
  }
  get leasesDir(): string {
    return join(this.root, 'leases');
  }
  leasePath(name: string): string {
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
