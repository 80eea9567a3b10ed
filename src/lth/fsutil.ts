import { rename, writeFile } from 'node:fs/promises';

/** Writes to a temporary name, then renames: a reader never sees half a file. */
export async function writeFileAtomic(path: string, bytes: Uint8Array | string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, bytes);
  await rename(tmp, path);
}
