/**
 * Loading a dataset: finding (or downloading) its files, verifying and parsing them, the seeded
 * train/validation split, optional subsets, and the `TrainingData` the trainer consumes.
 */
import { stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { isPipelineError, PipelineError } from '../../errors.js';
import { hashInts, permutation } from '../rng.js';
import type { BatchOptions, Split, TrainingData } from '../train-data.js';
import { type Augmentation, CIFAR_AUGMENTATION, type ImageSet, type Normalization, makeBatch } from './batch.js';
import {
  CIFAR_ALL_FILES,
  CIFAR_ARCHIVE,
  CIFAR_CLASSES,
  CIFAR_FOLDER,
  type CifarRaw,
  type RawImages,
  hasCifarFolder,
  readCifarArchive,
  readCifarFolder,
} from './cifar.js';
import { downloadFile, DownloadFailed } from './download.js';
import { readIdxFile } from './idx.js';
import { candidateDirs, downloadDir, isOffline } from './locate.js';
import {
  type FileDatasetName,
  IDX_FILE_NAMES,
  OFFICIAL_FILES,
  type OfficialFile,
  officialFile,
  otherDatasetWithSize,
} from './sources.js';
import { preferredChecksum, verifyFile } from './verify.js';

export type DatasetName = FileDatasetName | 'synthetic';

/**
 * How found files are checked against the published checksums:
 * - `'official'` (default): a file whose size is exactly the official size must also have the
 *   official checksum (else DATASET_CORRUPT); a file of another size is taken as your own data in
 *   the same format and only checked structurally (magic numbers, sizes, labels). A file that has
 *   the official size of the *other* MNIST-like dataset (MNIST vs Fashion-MNIST) is rejected.
 * - `'strict'`: every file must be the official one (size and checksum); for paper runs.
 *   An extracted CIFAR-10 folder (no published checksums) must hold exactly 50000 + 10000 records.
 * - `'none'`: no checksums, structural checks only.
 * Downloaded files are always checked against the official checksum. Verified files are
 * remembered (path, size, mtime) in `.lth-verified.json` beside them, so the check is cheap on repeat.
 */
export type VerifyMode = 'official' | 'strict' | 'none';

export interface SyntheticDatasetOptions {
  /** Seed of the class patterns and the examples (default 0). */
  seed?: number;
  /** [H, W, C] of one example (default [8, 8, 1]). */
  shape?: [number, number, number];
  /** Number of classes (default 4). */
  numClasses?: number;
  /** Examples per split (defaults 512 / 128 / 128). */
  trainSize?: number;
  validationSize?: number;
  testSize?: number;
  /** Weight of uniform noise against the class pattern, in [0, 1] (default 0.5). */
  noise?: number;
}

export interface LoadDatasetOptions {
  /** A folder holding the files (or, for CIFAR-10, the archive or the extracted folder). Searched first. */
  path?: string;
  /** May files be downloaded when not found (default true; never when PIPELINE_OFFLINE=1). */
  download?: boolean;
  /** Checksum policy for found files (default 'official', see {@link VerifyMode}). */
  verify?: VerifyMode;
  /** Seed of the train/validation split and of subsets (default 0). */
  splitSeed?: number;
  /** Examples held out of the training set for validation (default 5000; synthetic: its own). */
  validationSize?: number;
  /** Keep only the first N examples of a split after a seeded shuffle (smoke runs). */
  subset?: Partial<Record<Split, number>>;
  /** Apply the dataset's augmentation to training batches (default: true for cifar10 only). */
  augment?: boolean;
  /** Options of the synthetic dataset. */
  synthetic?: SyntheticDatasetOptions;
  /** Progress messages (default: stderr). */
  log?: (line: string) => void;
  /** Show download progress bars (default: when stderr is a TTY). */
  progress?: boolean;
}

/** A loaded dataset: uint8 storage, splits, normalisation; implements the trainer's `TrainingData`. */
export interface Dataset extends TrainingData {
  readonly name: DatasetName;
  readonly inputShape: readonly [number, number, number];
  readonly numClasses: number;
  readonly splits: Readonly<Record<Split, ImageSet>>;
  readonly normalization: Normalization;
  /** Augmentation applied to batches requested with an `augmentSeed`; undefined: none. */
  readonly augmentation: Augmentation | undefined;
  /** Where the data came from (folder, archive or a description), for provenance. */
  readonly source: string;
}

const SPLITS: readonly Split[] = ['train', 'validation', 'test'];
const SPLIT_STREAM = 0x5b17;
const SUBSET_STREAM = 0x5b5e;
const SYNTH_STREAM = 0x5e7d;

class UInt8Dataset implements Dataset {
  constructor(
    readonly name: DatasetName,
    readonly inputShape: readonly [number, number, number],
    readonly numClasses: number,
    readonly splits: Readonly<Record<Split, ImageSet>>,
    readonly normalization: Normalization,
    readonly augmentation: Augmentation | undefined,
    readonly source: string,
  ) {}
  size(split: Split): number {
    return this.splits[split].n;
  }
  batch(split: Split, indices: ArrayLike<number>, opts?: BatchOptions) {
    return makeBatch(this.splits[split], indices, this.normalization, {
      ...(opts?.augmentSeed !== undefined && this.augmentation
        ? { augmentSeed: opts.augmentSeed, augmentation: this.augmentation }
        : {}),
    });
  }
}

function invalid(message: string): PipelineError {
  return new PipelineError('PARAM_INVALID', message, { where: 'loadDataset' });
}

/** Copies the examples `idx` (in that order) of `set` into a new ImageSet. */
export function selectExamples(set: ImageSet, idx: ArrayLike<number>): ImageSet {
  const size = set.shape[0] * set.shape[1] * set.shape[2];
  const images = new Uint8Array(idx.length * size);
  const labels = new Uint8Array(idx.length);
  for (let i = 0; i < idx.length; i++) {
    const k = idx[i]!;
    images.set(set.images.subarray(k * size, (k + 1) * size), i * size);
    labels[i] = set.labels[k]!;
  }
  return { n: idx.length, shape: set.shape, images, labels };
}

/**
 * Splits `set` into train and validation: the validation examples are the first `validationSize`
 * of a permutation seeded by (`splitSeed`, n); both parts keep the original order.
 */
export function splitValidation(set: ImageSet, validationSize: number, splitSeed: number): { train: ImageSet; validation: ImageSet } {
  if (!Number.isInteger(validationSize) || validationSize < 0 || validationSize >= set.n) {
    throw invalid(`validationSize ${validationSize} must be an integer in 0..${set.n - 1} (the training set has ${set.n} examples)`);
  }
  const perm = permutation(set.n, hashInts(splitSeed, set.n, SPLIT_STREAM));
  const isVal = new Uint8Array(set.n);
  for (let i = 0; i < validationSize; i++) isVal[perm[i]!] = 1;
  const val: number[] = [];
  const train: number[] = [];
  for (let k = 0; k < set.n; k++) (isVal[k] ? val : train).push(k);
  return { train: selectExamples(set, train), validation: selectExamples(set, val) };
}

/** The first `size` examples of `set` after a shuffle seeded by (`seed`, `salt`), in original order. */
export function subsetOf(set: ImageSet, size: number, seed: number, salt: number): ImageSet {
  if (!Number.isInteger(size) || size < 1) throw invalid(`subset size ${size} must be a positive integer`);
  if (size >= set.n) return set;
  const perm = permutation(set.n, hashInts(seed, salt, SUBSET_STREAM));
  const idx = Array.from(perm.subarray(0, size)).sort((a, b) => a - b);
  return selectExamples(set, idx);
}

/** Per-channel mean and standard deviation (population) of `set`, in pixel units. */
export function channelStats(set: ImageSet): Normalization {
  const C = set.shape[2];
  const sum = new Float64Array(C);
  const sq = new Float64Array(C);
  const img = set.images;
  for (let p = 0; p < img.length; p++) {
    const v = img[p]!;
    const c = p % C;
    sum[c]! += v;
    sq[c]! += v * v;
  }
  const count = img.length / C;
  const mean = Array.from(sum, (s) => s / count);
  const std = Array.from(sq, (s, c) => Math.sqrt(Math.max(s / count - mean[c]! ** 2, 1e-12)) || 1);
  return { mean, std };
}

function checkLabels(labels: Uint8Array, classes: number, file: string): void {
  for (let i = 0; i < labels.length; i++) {
    if (labels[i]! >= classes) {
      throw new PipelineError('DATASET_CORRUPT', `${file}: label ${labels[i]} at ${i} is not in 0..${classes - 1}`, {
        where: file,
        hint: 'the file is damaged or not a label file of this dataset',
      });
    }
  }
}

/** Checks a found file against the official one, per `mode` (see {@link VerifyMode}). */
async function checkFound(dataset: FileDatasetName, file: string, mode: VerifyMode): Promise<void> {
  if (mode === 'none') return;
  const name = basename(file);
  const size = (await stat(file)).size;
  const other = otherDatasetWithSize(dataset, name, size);
  if (other) {
    throw new PipelineError('DATASET_CORRUPT', `${file} has the size of the official ${other} file, not ${dataset}`, {
      where: file,
      hint: `${dataset} and ${other} use the same file names: keep them in separate folders (<dir>/${dataset}, <dir>/${other})`,
    });
  }
  const official = officialFile(dataset, name);
  const sum = official && preferredChecksum(official);
  if (official && sum && size === official.size) {
    await verifyFile(file, sum, `delete it so that it is downloaded again, or replace it with the original from ${official.urls[0]}`);
    return;
  }
  if (mode === 'strict') {
    throw new PipelineError(
      'DATASET_CORRUPT',
      official
        ? `${file} is ${size} bytes, not the official ${official.size}`
        : `${file} is not an official ${dataset} file (verify: 'strict' accepts only ${OFFICIAL_FILES[dataset].map((f) => f.name).join(', ')})`,
      { where: file, hint: "use the original files, or load with verify: 'official' to accept your own data" },
    );
  }
}

function missingError(dataset: FileDatasetName, looked: string[], files: readonly OfficialFile[], target: string, why: string): PipelineError {
  const names = files.map((f) => f.name).join(', ');
  return new PipelineError(
    'DATASET_MISSING',
    `${dataset} not found. Looked in:\n${looked.map((l) => `    ${l}`).join('\n')}\n  ${why}`,
    {
      where: join(target, files[0]!.name),
      hint:
        `set PIPELINE_DATA_DIR (pipeline --data-dir) to a folder holding ${names} (directly or in its ${dataset === 'cifar10' ? 'cifar10' : dataset}/ folder), ` +
        `or run with network (download allowed, PIPELINE_OFFLINE unset) to download ${files.map((f) => f.urls[0]).join(' ')} into ${target}`,
    },
  );
}

function downloadBlocked(opts: LoadDatasetOptions): string | undefined {
  if (isOffline()) return 'Downloading is off (PIPELINE_OFFLINE=1).';
  if (opts.download === false) return 'Downloading is off (download: false).';
  return undefined;
}

/** Downloads the files; when no server can be reached at all, the not-found error (where it looked, what to set). */
async function downloadAll(dataset: FileDatasetName, target: string, opts: LoadDatasetOptions, looked: string[]): Promise<void> {
  for (const f of OFFICIAL_FILES[dataset]) {
    try {
      await downloadFile(f.urls, join(target, f.name), {
        checksum: preferredChecksum(f)!,
        size: f.size,
        label: `${dataset} ${f.name}`,
        ...(opts.log ? { log: opts.log } : {}),
        ...(opts.progress !== undefined ? { progress: opts.progress } : {}),
      });
    } catch (e) {
      if (isPipelineError(e) && e.cause instanceof DownloadFailed && e.cause.offline) {
        throw missingError(dataset, looked, OFFICIAL_FILES[dataset], target, `Downloading failed: ${e.message.split('\n').slice(1).map((l) => l.trim()).join('; ')} (set PIPELINE_OFFLINE=1 to say so up front).`);
      }
      throw e;
    }
  }
}

async function isFile(p: string): Promise<boolean> {
  return (await stat(p).catch(() => undefined))?.isFile() ?? false;
}

/** The four IDX files in `dir` (`.gz` preferred, uncompressed accepted), or the names that are missing. */
async function idxFilesIn(dir: string): Promise<{ files?: Record<keyof typeof IDX_FILE_NAMES, string>; missing: string[] }> {
  const files = {} as Record<keyof typeof IDX_FILE_NAMES, string>;
  const missing: string[] = [];
  for (const [role, gz] of Object.entries(IDX_FILE_NAMES) as [keyof typeof IDX_FILE_NAMES, string][]) {
    const plain = gz.slice(0, -3);
    if (await isFile(join(dir, gz))) files[role] = join(dir, gz);
    else if (await isFile(join(dir, plain))) files[role] = join(dir, plain);
    else missing.push(gz);
  }
  return missing.length === 0 ? { files, missing } : { missing };
}

async function loadIdxDataset(dataset: 'mnist' | 'fashion-mnist', opts: LoadDatasetOptions): Promise<{ train: ImageSet; test: ImageSet; source: string }> {
  const mode = opts.verify ?? 'official';
  const looked: string[] = [];
  let files: Record<keyof typeof IDX_FILE_NAMES, string> | undefined;
  let source = '';
  for (const c of candidateDirs(dataset, opts.path)) {
    const r = await idxFilesIn(c.dir);
    if (r.files) {
      files = r.files;
      source = c.dir;
      break;
    }
    looked.push(`${c.dir} (${c.why}): ${r.missing.length === 4 ? 'no files' : `missing ${r.missing.join(', ')}`}`);
  }
  const target = downloadDir(dataset, opts.path);
  if (!files) {
    const blocked = downloadBlocked(opts);
    if (blocked) throw missingError(dataset, looked, OFFICIAL_FILES[dataset], target, blocked);
    await downloadAll(dataset, target, opts, looked);
    files = (await idxFilesIn(target)).files!;
    source = target;
  } else {
    for (const f of Object.values(files)) await checkFound(dataset, f, mode);
  }
  const read = async (imagesFile: string, labelsFile: string): Promise<ImageSet> => {
    const images = await readIdxFile(imagesFile, 3);
    const labels = await readIdxFile(labelsFile, 1);
    const [n, h, w] = images.dims as [number, number, number];
    if (labels.dims[0] !== n) {
      throw new PipelineError('DATASET_CORRUPT', `${labelsFile} has ${labels.dims[0]} labels for the ${n} images of ${imagesFile}`, {
        where: labelsFile,
        hint: 'the image and label files do not belong together: replace them with the originals',
      });
    }
    checkLabels(labels.data, 10, labelsFile);
    return { n, shape: [h, w, 1], images: images.data, labels: labels.data };
  };
  const train = await read(files.trainImages, files.trainLabels);
  const test = await read(files.testImages, files.testLabels);
  if (train.shape[0] !== test.shape[0] || train.shape[1] !== test.shape[1]) {
    throw new PipelineError('DATASET_CORRUPT', `${files.testImages}: images are ${test.shape[0]}x${test.shape[1]}, training images ${train.shape[0]}x${train.shape[1]}`, {
      where: files.testImages,
    });
  }
  return { train, test, source };
}

async function loadCifar(opts: LoadDatasetOptions): Promise<{ train: ImageSet; test: ImageSet; source: string }> {
  const mode = opts.verify ?? 'official';
  const looked: string[] = [];
  let raw: CifarRaw | undefined;
  let source = '';
  if (opts.path && (await isFile(opts.path))) {
    await checkFound('cifar10', opts.path, mode);
    raw = await readCifarArchive(opts.path);
    source = opts.path;
  }
  for (const c of raw ? [] : candidateDirs('cifar10', opts.path)) {
    const folder = [join(c.dir, CIFAR_FOLDER), c.dir];
    const hit = (await hasCifarFolder(folder[0]!)) ? folder[0] : (await hasCifarFolder(folder[1]!)) ? folder[1] : undefined;
    if (hit) {
      raw = await readCifarFolder(hit);
      if (mode === 'strict' && (raw.train.n !== 50000 || raw.test.n !== 10000)) {
        throw new PipelineError('DATASET_CORRUPT', `${hit} holds ${raw.train.n} + ${raw.test.n} records, not 50000 + 10000`, {
          where: hit,
          hint: "use the original batches, or load with verify: 'official' to accept your own data",
        });
      }
      source = hit;
      break;
    }
    const archive = join(c.dir, CIFAR_ARCHIVE);
    if (await isFile(archive)) {
      await checkFound('cifar10', archive, mode);
      raw = await readCifarArchive(archive);
      source = archive;
      break;
    }
    looked.push(`${c.dir} (${c.why}): no ${CIFAR_ARCHIVE}, ${CIFAR_FOLDER}/ or ${CIFAR_ALL_FILES.join(', ')}`);
  }
  if (!raw) {
    const target = downloadDir('cifar10', opts.path);
    const blocked = downloadBlocked(opts);
    if (blocked) throw missingError('cifar10', looked, OFFICIAL_FILES.cifar10, target, blocked);
    await downloadAll('cifar10', target, opts, looked);
    source = join(target, CIFAR_ARCHIVE);
    raw = await readCifarArchive(source);
  }
  const asSet = (r: RawImages): ImageSet => ({ n: r.n, shape: [32, 32, 3], images: r.images, labels: r.labels });
  return { train: asSet(raw.train), test: asSet(raw.test), source };
}

/** The synthetic dataset's splits: per-class random uint8 patterns blended with uniform noise. */
export function syntheticSplits(o: SyntheticDatasetOptions = {}): Record<Split, ImageSet> {
  const seed = o.seed ?? 0;
  const shape = o.shape ?? [8, 8, 1];
  const classes = o.numClasses ?? 4;
  const noise = o.noise ?? 0.5;
  const size = shape[0] * shape[1] * shape[2];
  if (!shape.every((d) => Number.isInteger(d) && d > 0) || !(Number.isInteger(classes) && classes >= 2 && classes <= 256)) {
    throw invalid(`synthetic: shape ${JSON.stringify(shape)} and numClasses ${classes} must be positive integers (2..256 classes)`);
  }
  if (!(noise >= 0 && noise <= 1)) throw invalid(`synthetic: noise ${noise} must be in [0, 1]`);
  const sizes: Record<Split, number> = { train: o.trainSize ?? 512, validation: o.validationSize ?? 128, test: o.testSize ?? 128 };
  const pattern = new Uint8Array(classes * size);
  for (let i = 0; i < pattern.length; i++) pattern[i] = hashInts(seed, SYNTH_STREAM, i) & 0xff;
  const out = {} as Record<Split, ImageSet>;
  SPLITS.forEach((split, s) => {
    const n = sizes[split];
    if (!(Number.isInteger(n) && n >= 0)) throw invalid(`synthetic: ${split} size ${n} must be a non-negative integer`);
    const images = new Uint8Array(n * size);
    const labels = new Uint8Array(n);
    for (let k = 0; k < n; k++) {
      const c = hashInts(seed, SYNTH_STREAM, s + 1, k) % classes;
      labels[k] = c;
      for (let p = 0; p < size; p++) {
        const u = hashInts(seed, s + 1, k, p) & 0xff;
        images[k * size + p] = Math.round((1 - noise) * pattern[c * size + p]! + noise * u);
      }
    }
    out[split] = { n, shape, images, labels };
  });
  return out;
}

/**
 * Loads a dataset: finds its files (see src/nn/data/locate.ts for the search order), downloads
 * them if allowed, verifies and parses them, holds out a seeded validation split from the training
 * set (5000 examples by default: MNIST/Fashion-MNIST 55000/5000, CIFAR-10 45000/5000) and applies
 * optional subsets.
 * @throws PipelineError DATASET_MISSING (not found, download not allowed or failed),
 *   DATASET_CORRUPT (bad checksum, magic number, size or label), PARAM_INVALID (bad options).
 */
export async function loadDataset(name: DatasetName, opts: LoadDatasetOptions = {}): Promise<Dataset> {
  const splitSeed = opts.splitSeed ?? 0;
  if (!Number.isInteger(splitSeed)) throw invalid(`splitSeed ${splitSeed} must be an integer`);
  if (opts.verify !== undefined && !['official', 'strict', 'none'].includes(opts.verify)) {
    throw invalid(`verify must be 'official', 'strict' or 'none', not ${JSON.stringify(opts.verify)}`);
  }
  let splits: Record<Split, ImageSet>;
  let normalization: Normalization;
  let source: string;
  let numClasses = 10;
  switch (name) {
    case 'mnist':
    case 'fashion-mnist':
    case 'cifar10': {
      const loaded = name === 'cifar10' ? await loadCifar(opts) : await loadIdxDataset(name, opts);
      const { train, validation } = splitValidation(loaded.train, opts.validationSize ?? 5000, splitSeed);
      splits = { train, validation, test: loaded.test };
      normalization = name === 'cifar10' ? channelStats(train) : { mean: [0], std: [255] };
      source = loaded.source;
      break;
    }
    case 'synthetic': {
      splits = syntheticSplits(opts.synthetic);
      numClasses = opts.synthetic?.numClasses ?? 4;
      normalization = { mean: new Array(splits.train.shape[2]).fill(0), std: new Array(splits.train.shape[2]).fill(255) };
      source = `synthetic(seed=${opts.synthetic?.seed ?? 0})`;
      break;
    }
    default:
      throw invalid(`unknown dataset ${JSON.stringify(name)}: use 'mnist', 'fashion-mnist', 'cifar10' or 'synthetic'`);
  }
  SPLITS.forEach((split, s) => {
    const want = opts.subset?.[split];
    if (want !== undefined) splits[split] = subsetOf(splits[split], want, splitSeed, s + 1);
  });
  const augmentation = (opts.augment ?? name === 'cifar10') ? CIFAR_AUGMENTATION : undefined;
  if (name === 'cifar10') numClasses = CIFAR_CLASSES;
  return new UInt8Dataset(name, splits.train.shape, numClasses, splits, normalization, augmentation, source);
}
