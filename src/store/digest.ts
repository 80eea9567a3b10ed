/** Content digests: sha256, hex. One place decides the algorithm for the whole store. */
import * as crypto from 'node:crypto';

export const DIGEST_ALGORITHM = 'sha256';

// Node's one-shot crypto.hash (20.12 and later) returns the hex text without a Hash object and a
// Buffer in between: planning hashes one stage key per stage, and hasha's hashSync was ~10 ms of
// a fully cached 1,000-stage run (CPU profile, bench/engine.ts). Same digest either way.
const oneShot = (crypto as { hash?: (algorithm: string, data: string | Uint8Array, encoding: 'hex') => string }).hash;

export function digestOfSync(data: string | Uint8Array): string {
  return oneShot ? oneShot(DIGEST_ALGORITHM, data, 'hex') : crypto.createHash(DIGEST_ALGORITHM).update(data).digest('hex');
}

/**
 * A file's digest, hashed by hasha in a worker thread (a large checkpoint does not stall the
 * scheduler). hasha is imported on the first file to hash: a fully cached run hashes none, and its
 * modules and worker_threads were 4-7 ms of every start (import alone, medians of 31).
 */
export async function digestOfFile(path: string): Promise<string> {
  const { hashFile } = await import('hasha');
  return hashFile(path, { algorithm: DIGEST_ALGORITHM });
}
