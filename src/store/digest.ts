/** Content digests: sha256, hex. One place decides the algorithm for the whole store. */
import { hashFile, hashSync } from 'hasha';

export const DIGEST_ALGORITHM = 'sha256';

export function digestOfSync(data: string | Uint8Array): string {
  return hashSync(data, { algorithm: DIGEST_ALGORITHM });
}

export function digestOfFile(path: string): Promise<string> {
  return hashFile(path, { algorithm: DIGEST_ALGORITHM });
}
