/**
 * Pipeline-side data helpers: where the data is, and the dataset files as `p.file()` artifacts so
 * that their content digests enter the keys of every stage that reads them.
 */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ArtifactRef, PipelineBuilder } from '../engine/index.js';
import { PipelineError } from '../errors.js';
import { CIFAR_ALL_FILES, CIFAR_ARCHIVE, CIFAR_FOLDER } from '../nn/data/cifar.js';
import { DATASET_SUBDIR, IDX_FILE_NAMES } from '../nn/data/sources.js';

export type DatasetName = 'mnist' | 'fashion-mnist' | 'cifar10' | 'synthetic';

/**
 * The default data folder of a project: `$PIPELINE_DATA_DIR`, else `<project root>/../shared/data`
 * when it exists (the team's shared mirror), else '' (the loader's own lookup and download).
 */
export function defaultDataDir(projectRoot: string, env: NodeJS.ProcessEnv = process.env): string {
  if (env.PIPELINE_DATA_DIR) return resolve(env.PIPELINE_DATA_DIR);
  const shared = resolve(projectRoot, '..', 'shared', 'data');
  return existsSync(shared) ? shared : '';
}

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

/**
 * The dataset files as pipeline artifacts. When they are not under dataDir: [] (the loader then
 * looks in its own places and downloads), unless `required` - a folder the user named must hold
 * them, and saying so while the pipeline is built beats a download attempt in the middle of a run.
 */
export function datasetInputs(p: PipelineBuilder, dataset: DatasetName, dataDir: string, opts: { required?: boolean } = {}): ArtifactRef[] {
  const files = findDatasetFiles(dataset, dataDir);
  if (files.length === 0 && opts.required && dataDir !== '' && dataset !== 'synthetic') {
    const expected = dataset === 'cifar10' ? `${CIFAR_ARCHIVE} or ${CIFAR_FOLDER}/` : Object.values(IDX_FILE_NAMES).join(', ');
    throw new PipelineError('DATASET_MISSING', `no ${dataset} files under ${dataDir || '(empty dataDir)'}`, {
      hint: `put ${expected} in ${join(resolve(dataDir), DATASET_SUBDIR[dataset])}, or pass --set dataDir=<folder> that holds them, or --set dataDir= (empty) to use the loader's default folders and download`,
    });
  }
  return files.map((f) => p.file(f));
}
