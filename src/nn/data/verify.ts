/**
 * Checksums of data files, with a small verification cache so that a file that was verified once
 * is not hashed again: `.lth-verified.json` beside the data file, keyed by file name and valid
 * while the file's size and mtime are unchanged. When the folder is read-only, or belongs to the
 * system's package manager (`/usr/share/datasets`), the cache lives in memory for the process only
 * (hashing MNIST takes a few tens of milliseconds).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { realpathSync } from 'node:fs';
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { PipelineError } from '../../errors.js';
import { SYSTEM_DATA_DIR } from './locate.js';

export type HashAlgorithm = 'sha256' | 'md5';

export interface Checksum {
  readonly algorithm: HashAlgorithm;
  /** Lower-case hex digest. */
  readonly digest: string;
}

export const VERIFY_CACHE_FILE = '.lth-verified.json';

interface CacheEntry {
  size: number;
  mtimeMs: number;
  algorithm: HashAlgorithm;
  digest: string;
}
interface CacheFile {
  version: 1;
  files: Record<string, CacheEntry[]>;
}

const memory = new Map<string, CacheEntry[]>();

/** Streams a file through a hash. */
export async function hashFile(file: string, algorithm: HashAlgorithm): Promise<string> {
  const h = createHash(algorithm);
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** The preferred checksum of an official file: sha256 where published, else md5. */
export function preferredChecksum(f: { md5?: string; sha256?: string }): Checksum | undefined {
  if (f.sha256) return { algorithm: 'sha256', digest: f.sha256 };
  if (f.md5) return { algorithm: 'md5', digest: f.md5 };
  return undefined;
}

async function readCache(dir: string): Promise<CacheFile> {
  try {
    const parsed = JSON.parse(await readFile(join(dir, VERIFY_CACHE_FILE), 'utf8')) as CacheFile;
    if (parsed && parsed.version === 1 && typeof parsed.files === 'object') return parsed;
  } catch {
    // missing or unreadable: start empty
  }
  return { version: 1, files: {} };
}

/** Whether `dir` is (or, through a link, leads into) the system's package-managed data sets. */
function isSystemPath(dir: string): boolean {
  let real = dir;
  try {
    real = realpathSync(dir);
  } catch {
    // a folder that cannot be resolved is not written to either way
  }
  return [dir, real].some((d) => d === SYSTEM_DATA_DIR || d.startsWith(`${SYSTEM_DATA_DIR}${sep}`));
}

/** Records that `file` (as it is now) has this checksum. Best effort: never throws. */
export async function rememberVerified(file: string, sum: Checksum): Promise<void> {
  const abs = resolve(file);
  try {
    const s = await stat(abs);
    const entry: CacheEntry = { size: s.size, mtimeMs: s.mtimeMs, algorithm: sum.algorithm, digest: sum.digest };
    memory.set(abs, [entry]);
    const dir = dirname(abs);
    if (isSystemPath(dir)) return; // a package's folder: written by its package manager only
    const cache = await readCache(dir);
    cache.files[basename(abs)] = [entry];
    const tmp = join(dir, `${VERIFY_CACHE_FILE}.${process.pid}.tmp`);
    await writeFile(tmp, JSON.stringify(cache, null, 1));
    await rename(tmp, join(dir, VERIFY_CACHE_FILE));
  } catch {
    // read-only folder: the in-memory entry is enough
  }
}

/** True if the cache says `file`, at its current size and mtime, has checksum `sum`. */
export async function isKnownVerified(file: string, sum: Checksum): Promise<boolean> {
  const abs = resolve(file);
  const s = await stat(abs).catch(() => undefined);
  if (!s) return false;
  const match = (entries: CacheEntry[] | undefined) =>
    (entries ?? []).some(
      (e) => e.size === s.size && e.mtimeMs === s.mtimeMs && e.algorithm === sum.algorithm && e.digest === sum.digest,
    );
  if (match(memory.get(abs))) return true;
  return match((await readCache(dirname(abs))).files[basename(abs)]);
}

/**
 * Checks `file` against `sum` (using the verification cache).
 * @throws PipelineError DATASET_CORRUPT with the expected and actual digests.
 */
export async function verifyFile(file: string, sum: Checksum, hint?: string): Promise<void> {
  if (await isKnownVerified(file, sum)) return;
  const actual = await hashFile(file, sum.algorithm);
  if (actual !== sum.digest.toLowerCase()) {
    throw new PipelineError(
      'DATASET_CORRUPT',
      `${file}: ${sum.algorithm} checksum mismatch (expected ${sum.digest}, got ${actual})`,
      { where: file, hint: hint ?? 'delete the file so that it is downloaded again, or replace it with the original' },
    );
  }
  await rememberVerified(file, sum);
}
