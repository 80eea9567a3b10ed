/**
 * Where the cache and the lock file are: flags, then environment, then the project root (the
 * nearest folder above the pipeline file that holds package.json, .git or dvc-like.lock).
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Fingerprinter } from '../engine/index.js';
import { Store } from '../store/index.js';

export interface WorkspaceOptions {
  cache?: string;
  lock?: string;
}

export interface Workspace {
  root: string;
  store: Store;
  lockPath: string;
  fingerprinter: Fingerprinter;
}

export function projectRoot(start: string): string {
  let dir = resolve(start);
  for (;;) {
    if (['package.json', '.git', 'dvc-like.lock'].some((f) => existsSync(join(dir, f)))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return resolve(start);
    dir = parent;
  }
}

export function openWorkspace(opts: WorkspaceOptions, pipelineFile?: string): Workspace {
  const root = projectRoot(pipelineFile ? dirname(resolve(pipelineFile)) : process.cwd());
  const store = new Store(resolve(opts.cache ?? process.env.PIPELINE_CACHE ?? join(root, 'cache')));
  const lockPath = resolve(opts.lock ?? process.env.PIPELINE_LOCK ?? join(root, 'dvc-like.lock'));
  const fingerprinter = new Fingerprinter(store.layout.metaPath('fingerprints.json'), store.fileDigests);
  return { root, store, lockPath, fingerprinter };
}
