/** Reading the store's folders, which exist only once something was written into them. */
import { readdir } from 'node:fs/promises';

/** The names in a store folder; none when it does not exist (yet) or cannot be read. */
export async function namesIn(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}
