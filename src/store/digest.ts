/** Content digests: sha256, hex. One place decides the algorithm for the whole store. */
import { hash, hashFile, hashSync } from 'hasha';

export const DIGEST_ALGORITHM = 'sha256';

export function digestOf(data: string | Uint8Array): Promise<string> {
  return hash(data, { algorithm: DIGEST_ALGORITHM });
}

export function digestOfSync(data: string | Uint8Array): string {
  return hashSync(data, { algorithm: DIGEST_ALGORITHM });
}

export function digestOfFile(path: string): Promise<string> {
  return hashFile(path, { algorithm: DIGEST_ALGORITHM });
}

const HEX_DIGEST = /^[0-9a-f]{64}$/;

export function isDigest(s: unknown): s is string {
  return typeof s === 'string' && HEX_DIGEST.test(s);
}
