/**
 * Datasets for src/nn: MNIST, Fashion-MNIST, CIFAR-10 (binary) and a seeded synthetic dataset,
 * as uint8 storage with seeded train/validation splits, normalised float32 NHWC batches, seeded
 * stateless data order and augmentation. A loaded {@link Dataset} implements the trainer's
 * `TrainingData` (src/nn/train-data.ts).
 *
 * Files are looked for in: the `path` option; `$PIPELINE_DATA_DIR/<dataset>` and
 * `$PIPELINE_DATA_DIR`; `$XDG_CACHE_HOME/lth-pipeline/data/<dataset>` (or
 * `~/.cache/lth-pipeline/data/<dataset>`); then downloaded, unless `download: false` or
 * `PIPELINE_OFFLINE=1`.
 */

/** Load a dataset by name; see {@link LoadDatasetOptions} and {@link VerifyMode}. */
export { loadDataset } from './dataset.js';
/** Types of a loaded dataset and of the loader's options. */
export type { Dataset, DatasetName, LoadDatasetOptions, SyntheticDatasetOptions, VerifyMode } from './dataset.js';
/** Split helpers: seeded validation hold-out, seeded subsets, per-channel statistics, synthetic splits. */
export { splitValidation, subsetOf, channelStats, selectExamples, syntheticSplits } from './dataset.js';

/** Batching: normalised NHWC batches, the training order, augmentation draws, evaluation chunks. */
export { makeBatch, batchIndices, augmentationDraw, sequentialBatches, CIFAR_AUGMENTATION } from './batch.js';
/** Types of uint8 image sets, normalisation and augmentation. */
export type { ImageSet, Normalization, Augmentation, MakeBatchOptions } from './batch.js';

/** Downloading with checksum, progress bar, `.part` resume and atomic rename. */
export { downloadFile } from './download.js';
export type { DownloadOptions } from './download.js';
/** Checksums of files, with the `.lth-verified.json` verification cache. */
export { verifyFile, hashFile } from './verify.js';
export type { Checksum, HashAlgorithm } from './verify.js';

/** Where files are looked for and downloaded to. */
export { defaultDataDir, candidateDirs, downloadDir, isOffline } from './locate.js';
/** The official files: URLs, sizes, md5/sha256. */
export { OFFICIAL_FILES, IDX_FILE_NAMES } from './sources.js';
export type { OfficialFile, FileDatasetName } from './sources.js';

/** File formats: IDX (MNIST) and CIFAR-10 binary, parsing and encoding (encoders for tests and tools). */
export { parseIdx, readIdxFile, encodeIdx, maybeGunzip } from './idx.js';
export type { IdxArray } from './idx.js';
export { parseCifarBatch, readCifarArchive, readCifarFolder, encodeCifarBatch } from './cifar.js';
