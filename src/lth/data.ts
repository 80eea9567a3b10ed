/**
 * Pipeline-side data helpers: where the data is, and the dataset files as `p.file()` artifacts so
 * that their content digests enter the keys of every stage that reads them, each with a check
 * (magic numbers, sizes, counts, gzip integrity) that runs before anything runs.
 */
import { join, resolve } from 'node:path';
import type { ArtifactRef, FileCheck, PipelineBuilder } from '../engine/index.js';
import { PipelineError } from '../errors.js';
import { checkDatasetFile, expectedFiles, formatFilesIn } from '../nn/data/formats.js';
import { defaultDataDir as loaderDataDir, SYSTEM_DATA_DIR } from '../nn/data/locate.js';
import { type DatasetName, type DatasetSource, datasetSource, formatClasses, type FileFormat } from '../nn/data/registry.js';
import { DATASET_SUBDIR } from '../nn/data/sources.js';

export type { DatasetName } from '../nn/data/registry.js';

/** The format and classes of a dataset read from files; undefined for arrays and synthetic data. */
function filesOf(source: DatasetSource): { format: FileFormat; classes: number } | undefined {
  if (source.kind === 'official') return { format: source.format, classes: source.numClasses };
  if (source.kind === 'files') return { format: source.format, classes: source.numClasses ?? formatClasses(source.format) };
  return undefined;
}

/**
 * The files of a built-in dataset under `dataDir` (or its `<dataset>/` folder), or [] when they
 * are not there (or the dataset is not read from official files). MNIST-like: the four IDX files
 * (.gz, or uncompressed); CIFAR: the extracted batch files (also directly in the folder), else the archive.
 */
export function findDatasetFiles(dataset: DatasetName, dataDir: string): string[] {
  const source = datasetSource(dataset);
  if (!dataDir || source.kind !== 'official') return [];
  for (const dir of [join(resolve(dataDir), DATASET_SUBDIR[dataset as keyof typeof DATASET_SUBDIR]), resolve(dataDir)]) {
    const r = formatFilesIn(source.format, dir);
    if (r.files) return r.files;
  }
  return [];
}

/** The team's shared mirror beside a project: `<project root>/../shared/data`. */
export function sharedDataDir(projectRoot: string): string {
  return resolve(projectRoot, '..', 'shared', 'data');
}

/** The check of one dataset file before a run (see `checkDatasetFile`), remembered by content digest. */
export function datasetFileCheck(format: FileFormat, classes: number): FileCheck {
  return { id: `dataset-file:v1:${format}:${classes}`, run: (path) => checkDatasetFile(format, path, classes) };
}

/**
 * The dataset files as pipeline artifacts (their content digests enter the keys; where they are
 * does not, so lock files travel between machines), each checked before anything runs.
 * - A dataset registered from a folder: the files in that folder (DATASET_MISSING if absent).
 * - A built-in one: looked for in `$PIPELINE_DATA_DIR` (which `--data-dir` sets; a folder the user
 *   named must hold the dataset: saying so while the pipeline is built beats a download in the
 *   middle of a run), else in the team's mirror `<project root>/../shared/data` (the project's
 *   root is found from the pipeline file: `p.projectRoot`), the loader's
 *   default folder, and the system's data sets (`/usr/share/datasets/<dataset>`, Debian's
 *   packages). Not found: [] and a note (the stages then look again when they run, and download
 *   unless PIPELINE_OFFLINE=1).
 * - Arrays and synthetic data: [] (their definition is code).
 * @throws PipelineError PARAM_INVALID for an unknown dataset (listing the registered ones).
 */
export function datasetInputs(p: PipelineBuilder, dataset: DatasetName, env: NodeJS.ProcessEnv = process.env): ArtifactRef[] {
  const source = datasetSource(dataset);
  const files = filesOf(source);
  if (!files) return [];
  const check = datasetFileCheck(files.format, files.classes);
  const refs = (paths: string[]) => paths.map((f) => p.file(f, { check }));
  const expected = expectedFiles(files.format);
  if (source.kind === 'files') {
    const r = formatFilesIn(source.format, source.dir);
    if (!r.files) {
      throw new PipelineError('DATASET_MISSING', `dataset '${dataset}': ${r.why} in ${source.dir}`, {
        hint: `put ${expected} in ${source.dir}, or register '${dataset}' with the folder that holds them`,
      });
    }
    return refs(r.files);
  }
  if (env.PIPELINE_DATA_DIR) {
    const found = findDatasetFiles(dataset, env.PIPELINE_DATA_DIR);
    if (found.length === 0) {
      throw new PipelineError('DATASET_MISSING', `no ${dataset} files in PIPELINE_DATA_DIR (${resolve(env.PIPELINE_DATA_DIR)})`, {
        hint: `put ${expected} in ${join(resolve(env.PIPELINE_DATA_DIR), DATASET_SUBDIR[dataset as keyof typeof DATASET_SUBDIR])}, or point --data-dir (PIPELINE_DATA_DIR) at a folder that holds them, or leave it unset for the default folders and a download`,
      });
    }
    return refs(found);
  }
  const dirs = [sharedDataDir(p.projectRoot), loaderDataDir(env), SYSTEM_DATA_DIR];
  for (const dir of dirs) {
    const found = findDatasetFiles(dataset, dir);
    if (found.length > 0) return refs(found);
  }
  p.note(`no ${dataset} files in ${dirs.join(' or ')}: the stages that read them look again when they run and download them (unless PIPELINE_OFFLINE=1); --data-dir <folder> points at a copy`);
  return [];
}
