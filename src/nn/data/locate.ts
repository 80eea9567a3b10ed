/**
 * Where dataset files are looked for, in this order:
 * 1. an explicit path given by the caller (`path` option): the folder itself, then `<path>/<dataset>`;
 * 2. `$PIPELINE_DATA_DIR/<dataset>`, then `$PIPELINE_DATA_DIR` itself;
 * 3. the default data dir's `<dataset>` folder: `$XDG_CACHE_HOME/lth-pipeline/data/<dataset>`, or
 *    `~/.cache/lth-pipeline/data/<dataset>` when XDG_CACHE_HOME is not set;
 * 4. the system's data sets: `/usr/share/datasets/<dataset>`, where Debian's dataset packages
 *    install them (`apt-get install dataset-fashion-mnist`).
 * `<dataset>` is `mnist`, `fashion-mnist`, `cifar10` or `cifar100`. Then, when allowed, the files
 * are downloaded, to the first of: the explicit path, `$PIPELINE_DATA_DIR/<dataset>`, the default
 * data dir's `<dataset>` folder.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { FileDatasetName } from './registry.js';
import { DATASET_SUBDIR } from './sources.js';

/** Where Debian's `dataset-*` packages put data sets (`/usr/share/datasets/<name>/`). */
export const SYSTEM_DATA_DIR = '/usr/share/datasets';

/** The default data dir: `$XDG_CACHE_HOME/lth-pipeline/data`, else `~/.cache/lth-pipeline/data`. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  return xdg && xdg.length > 0 ? join(resolve(xdg), 'lth-pipeline', 'data') : join(homedir(), '.cache', 'lth-pipeline', 'data');
}

/** True when `PIPELINE_OFFLINE=1` (or `true`): never download. */
export function isOffline(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.PIPELINE_OFFLINE;
  return v === '1' || v === 'true';
}

export interface Candidate {
  readonly dir: string;
  /** Why this folder is searched, for messages. */
  readonly why: string;
}

/** The folders searched for `dataset`, in order (see the module doc). */
export function candidateDirs(dataset: FileDatasetName, explicit?: string, env: NodeJS.ProcessEnv = process.env): Candidate[] {
  const sub = DATASET_SUBDIR[dataset];
  const out: Candidate[] = [];
  if (explicit) {
    out.push({ dir: resolve(explicit), why: 'the given path' });
    out.push({ dir: join(resolve(explicit), sub), why: 'the given path' });
  }
  const envDir = env.PIPELINE_DATA_DIR;
  if (envDir) {
    out.push({ dir: join(resolve(envDir), sub), why: 'PIPELINE_DATA_DIR' });
    out.push({ dir: resolve(envDir), why: 'PIPELINE_DATA_DIR' });
  }
  out.push({ dir: join(defaultDataDir(env), sub), why: 'the default data dir' });
  out.push({ dir: join(SYSTEM_DATA_DIR, sub), why: "the system's data sets" });
  const seen = new Set<string>();
  return out.filter((c) => (seen.has(c.dir) ? false : (seen.add(c.dir), true)));
}

/** Where a download of `dataset` goes. */
export function downloadDir(dataset: FileDatasetName, explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit) return resolve(explicit);
  if (env.PIPELINE_DATA_DIR) return join(resolve(env.PIPELINE_DATA_DIR), DATASET_SUBDIR[dataset]);
  return join(defaultDataDir(env), DATASET_SUBDIR[dataset]);
}
