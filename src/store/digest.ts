/** Content digests: sha256, hex. One place decides the algorithm for the whole store. */
import * as crypto from 'node:crypto';
import { hashFile, hashSync } from 'hasha';

export const DIGEST_ALGORITHM = 'sha256';

// Node's one-shot crypto.hash (20.12 and later) returns the hex text without a Hash object and a
// Buffer in between: planning hashes one stage key per stage, and hasha's hashSync was ~10 ms of
// a fully cached 1,000-stage run (CPU profile, bench/engine.ts). Same digest either way.
const oneShot = (crypto as { hash?: (algorithm: string, data: string | Uint8Array, encoding: 'hex') => string }).hash;

export function digestOfSync(data: string | Uint8Array): string {
  return oneShot ? oneShot(DIGEST_ALGORITHM, data, 'hex') : hashSync(data, { algorithm: DIGEST_ALGORITHM });
}

export function digestOfFile(path: string): Promise<string> {
  return hashFile(path, { algorithm: DIGEST_ALGORITHM });
}
