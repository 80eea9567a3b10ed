/**
 * Datasets for src/nn: MNIST, Fashion-MNIST, CIFAR-10, CIFAR-100 (binary), a seeded synthetic
 * dataset, and any dataset a project registers (arrays, or files in IDX or CIFAR layout), with
 * seeded train/validation splits, normalised float32 NHWC batches, seeded stateless data order and
 * augmentation. A loaded {@link Dataset} implements the trainer's `TrainingData` (src/nn/train-data.ts).
 *
 * Files of the built-in datasets are looked for in: the `path` option; `$PIPELINE_DATA_DIR/<dataset>`
 * and `$PIPELINE_DATA_DIR`; `$XDG_CACHE_HOME/lth-pipeline/data/<dataset>` (or
 * `~/.cache/lth-pipeline/data/<dataset>`); `/usr/share/datasets/<dataset>` (Debian's packages);
 * then downloaded, unless `download: false` or `PIPELINE_OFFLINE=1`.
 */

/** Load a dataset by name; see {@link LoadDatasetOptions} and {@link VerifyMode}. */
export { loadDataset } from './dataset.js';
/** Types of a loaded dataset and of the loader's options. */
export type { Dataset, LoadDatasetOptions } from './dataset.js';
export type { VerifyMode } from './official.js';
export type { SyntheticDatasetOptions } from './synthetic.js';

/** The registry: the dataset names (declared once, here), built-in and registered sources. */
export {
  BUILTIN_DATASETS,
  FILE_FORMATS,
  registerDataset,
  unregisterDataset,
  datasetSource,
  datasetNames,
  datasetTitle,
  hasDataset,
  isBuiltinDataset,
  unknownDatasetMessage,
} from './registry.js';
export type {
  DatasetName,
  BuiltinDatasetName,
  FileDatasetName,
  FileFormat,
  DatasetSource,
  UserDatasetSource,
  ArraysSource,
  FilesSource,
  DatasetArrays,
  ArraySplit,
  SourceOptions,
} from './registry.js';

/** Split helpers: seeded validation hold-out, seeded subsets, per-channel statistics; synthetic splits. */
export { splitValidation, subsetOf, channelStats, selectExamples, defaultValidationSize } from './splits.js';
export { syntheticSplits } from './synthetic.js';
export { modularSplits, modularLabel, modularPairs, modularOptions, modInverse, MODULAR_OPS, MODULAR_SHAPE } from './modular.js';
export type { ModularDatasetOptions, ModularOp } from './modular.js';

/** Batching: normalised NHWC batches, the training order, augmentation draws, evaluation chunks. */
export { makeBatch, batchIndices, augmentationDraw, sequentialBatches, CIFAR_AUGMENTATION } from './batch.js';
/** Types of image sets, normalisation and augmentation. */
export type { ImageSet, Normalization, Augmentation, MakeBatchOptions } from './batch.js';

/** Downloading with checksum, progress bar, `.part` resume and atomic rename. */
export { downloadFile } from './download.js';
export type { DownloadOptions } from './download.js';
/** Checksums of files, with the `.lth-verified.json` verification cache. */
export { verifyFile, hashFile } from './verify.js';
export type { Checksum, HashAlgorithm } from './verify.js';

/** Where files are looked for and downloaded to. */
export { defaultDataDir, candidateDirs, downloadDir, isOffline, SYSTEM_DATA_DIR } from './locate.js';
/** The official files: URLs, sizes, md5/sha256, known repacks. */
export { OFFICIAL_FILES, DATASET_SUBDIR } from './sources.js';
export type { OfficialFile, Repack } from './sources.js';

/** File formats: where their files are, reading them, checking one file before a run. */
export { formatFilesIn, expectedFiles, readFormatSplits, checkDatasetFile } from './formats.js';
/** IDX (MNIST) and CIFAR-10/100 binary: parsing and encoding (encoders for tests and tools). */
export { parseIdx, readIdxFile, encodeIdx, maybeGunzip, IDX_FILE_NAMES, checkIdxFile } from './idx.js';
export type { IdxArray } from './idx.js';
export { parseCifarBatch, readCifarArchive, readCifarFolder, encodeCifarBatch, checkCifarFile, CIFAR10, CIFAR100 } from './cifar.js';
export type { CifarLayout } from './cifar.js';
