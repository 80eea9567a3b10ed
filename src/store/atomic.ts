/**
 * Invariant 1 of the design: nothing partial is ever visible. Every file the store publishes is
 * written under a unique temporary name in the same directory, flushed, then renamed into place.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import { ownerTag } from './owner.js';

/** `.<name>@<host>@<pid>.<hex>.tmp`: the owner in the name tells a sweep whose it is (./owner.ts). */
export function tempNameBeside(path: string): string {
  return join(dirname(path), `.${basename(path)}@${ownerTag()}.${randomBytes(4).toString('hex')}.tmp`);
}

/** A name `tempNameBeside` made (or an older one, `.<name>.<pid>.<hex>.tmp`). */
export function isTempFileName(name: string): boolean {
  return /^\..+\.[0-9a-f]+\.tmp$/.test(name);
}

export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempNameBeside(path);
  const handle = await open(tmp, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
