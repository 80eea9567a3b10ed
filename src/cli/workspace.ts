/**
 * Where the cache and the lock file are: the settings (flags, environment, config files: the CLI
 * resolves them into the options before a command runs), else in the project root.
 */
import { statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Fingerprinter, loadPipeline, planPipeline, type LoadedPipeline, type PipelinePlan } from '../engine/index.js';
import { readLock, Store } from '../store/index.js';
import { projectRoot } from './config.js';

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

export function openWorkspace(opts: WorkspaceOptions, pipelineFile?: string): Workspace {
  const root = projectRoot(pipelineFile ? dirname(resolve(pipelineFile)) : process.cwd());
  const store = new Store(resolve(opts.cache ?? process.env.PIPELINE_CACHE ?? join(root, 'cache')));
  keepGroupWritable(store.root);
  const lockPath = resolve(opts.lock ?? process.env.PIPELINE_LOCK ?? join(root, 'dvc-like.lock'));
  const fingerprinter = new Fingerprinter(store.layout.metaPath('fingerprints.json'), store.fileDigests);
  return { root, store, lockPath, fingerprinter };
}

/**
 * A cache folder shared by a Unix group (setgid, as a team's folder on a cluster's file system):
 * what this process and its stage processes and jobs create there must be writable by the group
 * too (DVC #2287, #4545), so the group-write bit is kept out of the umask.
 */
function keepGroupWritable(cacheRoot: string): void {
  const mode = statSync(cacheRoot, { throwIfNoEntry: false })?.mode ?? 0;
  if ((mode & 0o2000) !== 0) process.umask(process.umask() & ~0o020);
}

/** Loads a pipeline and plans it against the workspace's cache and lock file (nothing runs). */
export async function planInWorkspace(file: string, opts: WorkspaceOptions & { set: readonly string[] }): Promise<{ ws: Workspace; pipeline: LoadedPipeline; plan: PipelinePlan }> {
  const ws = openWorkspace(opts, file);
  const pipeline = await loadPipeline(file, opts.set);
  const lock = await readLock(ws.lockPath, ws.store.layout);
  const plan = await planPipeline(pipeline, ws.store, ws.fingerprinter, lock.pipelines[pipeline.definition.name]);
  return { ws, pipeline, plan };
}
