/**
 * Pipeline-side data helpers: where the data is, and the dataset files as `p.file()` artifacts so
 * that their content digests enter the keys of every stage that reads them.
 */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ArtifactRef, PipelineBuilder } from '../engine/index.js';
import { PipelineError } from '../errors.js';
import { CIFAR_ALL_FILES, CIFAR_ARCHIVE, CIFAR_FOLDER } from '../nn/data/cifar.js';
import { defaultDataDir as loaderDataDir } from '../nn/data/locate.js';
import { DATASET_SUBDIR, IDX_FILE_NAMES } from '../nn/data/sources.js';

export type DatasetName = 'mnist' | 'fashion-mnist' | 'cifar10' | 'synthetic';

const isFile = (p: string) => existsSync(p) && statSync(p).isFile();

/**
 * The files of `dataset` under `dataDir` (or its `<dataset>/` folder), or [] when they are not
 * there. MNIST-like: the four IDX files (.gz, or uncompressed); CIFAR-10: the extracted
 * `cifar-10-batches-bin/` batches (also directly in the folder), else the archive.
 */
export function findDatasetFiles(dataset: DatasetName, dataDir: string): string[] {
  if (!dataDir || dataset === 'synthetic') return [];
  for (const dir of [join(resolve(dataDir), DATASET_SUBDIR[dataset]), resolve(dataDir)]) {
    if (dataset === 'cifar10') {
      for (const folder of [join(dir, CIFAR_FOLDER), dir]) {
        const files = CIFAR_ALL_FILES.map((f) => join(folder, f));
        if (files.every(isFile)) return files;
      }
      if (isFile(join(dir, CIFAR_ARCHIVE))) return [join(dir, CIFAR_ARCHIVE)];
    } else {
      const files: string[] = [];
      for (const gz of Object.values(IDX_FILE_NAMES)) {
        const f = isFile(join(dir, gz)) ? join(dir, gz) : isFile(join(dir, gz.slice(0, -3))) ? join(dir, gz.slice(0, -3)) : undefined;
        if (f) files.push(f);
      }
      if (files.length === 4) return files;
    }
  }
  return [];
}

/** The team's shared mirror beside a project: `<project root>/../shared/data`. */
export function sharedDataDir(projectRoot: string): string {
  return resolve(projectRoot, '..', 'shared', 'data');
}

/**
 * The dataset files as pipeline artifacts (their content digests enter the keys; where they are
 * does not, so lock files travel between machines). Looked for in `$PIPELINE_DATA_DIR` (which
 * `--data-dir` sets; a folder the user named must hold the dataset: saying so while the pipeline
 * is built beats a download in the middle of a run), else in the team's mirror
 * `<project root>/../shared/data`, else in the loader's default folder. Not found: [] and a note
 * (the stages then look again when they run, and download unless PIPELINE_OFFLINE=1).
 */
export function datasetInputs(p: PipelineBuilder, dataset: DatasetName, projectRoot: string, env: NodeJS.ProcessEnv = process.env): ArtifactRef[] {
  if (dataset === 'synthetic') return [];
  const expected = dataset === 'cifar10' ? `${CIFAR_ARCHIVE} or ${CIFAR_FOLDER}/` : Object.values(IDX_FILE_NAMES).join(', ');
  if (env.PIPELINE_DATA_DIR) {
    const files = findDatasetFiles(dataset, env.PIPELINE_DATA_DIR);
    if (files.length === 0) {
      throw new PipelineError('DATASET_MISSING', `no ${dataset} files in PIPELINE_DATA_DIR (${resolve(env.PIPELINE_DATA_DIR)})`, {
        hint: `put ${expected} in ${join(resolve(env.PIPELINE_DATA_DIR), DATASET_SUBDIR[dataset])}, or point --data-dir (PIPELINE_DATA_DIR) at a folder that holds them, or leave it unset for the default folders and a download`,
      });
    }
    return files.map((f) => p.file(f));
  }
  const dirs = [sharedDataDir(projectRoot), loaderDataDir(env)];
  for (const dir of dirs) {
    const files = findDatasetFiles(dataset, dir);
    if (files.length > 0) return files.map((f) => p.file(f));
  }
  p.note(`no ${dataset} files in ${dirs.join(' or ')}: the stages that read them look again when they run and download them (unless PIPELINE_OFFLINE=1); --data-dir <folder> points at a copy`);
  return [];
}
