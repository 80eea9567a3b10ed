/**
 * The project a pipeline belongs to: its folder holds the cache, the lock file and the settings.
 * Found from the pipeline file (or the working folder), never passed by hand: the nearest folder
 * above that holds `pipeline.config.yaml` (a project that says so), else the nearest that holds
 * package.json (or, for a folder that is neither, .git or a lock file).
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export const CONFIG_FILE = 'pipeline.config.yaml';
export const LOCAL_CONFIG_FILE = 'pipeline.config.local.yaml';

const MARKERS = ['package.json', '.git', 'dvc-like.lock'];

/** The nearest folder from `start` upwards that holds one of `names`, or undefined. */
function nearest(start: string, names: readonly string[]): string | undefined {
  for (let dir = resolve(start); ; dir = dirname(dir)) {
    if (names.some((f) => existsSync(join(dir, f)))) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

/** The project root for a folder (the pipeline file's, or the working folder); `start` itself when nothing marks one. */
export function projectRoot(start: string): string {
  return nearest(start, [CONFIG_FILE]) ?? nearest(start, MARKERS) ?? resolve(start);
}
