/**
 * Loading a dataset by name: its source from the registry (src/nn/data/registry.ts), its training
 * and test splits from that source (official files, a project's files or arrays, the synthetic
 * generator), the seeded validation hold-out, optional subsets, the normalisation, and the
 * `TrainingData` the trainer consumes.
 */
import { PipelineError } from '../../errors.js';
import type { BatchOptions, Split, TrainingData } from '../train-data.js';
import { type Augmentation, CIFAR_AUGMENTATION, type ImageSet, type Normalization, makeBatch } from './batch.js';
import { formatFilesIn, isArchiveOf, readFormatSplits, sourceOf } from './formats.js';
import { loadOfficial, type VerifyMode } from './official.js';
import {
  type ArraySplit,
  type ArraysSource,
  type DatasetName,
  type DatasetSource,
  type FileDatasetName,
  type FilesSource,
  datasetSource,
  formatClasses,
} from './registry.js';
import { channelStats, defaultValidationSize, splitValidation, subsetOf } from './splits.js';
import { type ModularDatasetOptions, modularOptions, modularSplits } from './modular.js';
import { type SyntheticDatasetOptions, syntheticClasses, syntheticSplits } from './synthetic.js';

export type { DatasetName } from './registry.js';
export type { VerifyMode } from './official.js';
export type { SyntheticDatasetOptions } from './synthetic.js';
export type { ModularDatasetOptions } from './modular.js';

export interface LoadDatasetOptions {
  /** A folder holding the files (or, for CIFAR, the archive or the extracted folder). Searched first. */
  path?: string;
  /** May files be downloaded when not found (default true; never when PIPELINE_OFFLINE=1). */
  download?: boolean;
  /** Checksum policy for found files of a built-in dataset (default 'official', see {@link VerifyMode}). */
  verify?: VerifyMode;
  /** Seed of the train/validation split and of subsets (default 0). */
  splitSeed?: number;
  /**
   * Examples held out of the training set for validation (default 5000, or a tenth of a training
   * set under 50000). Datasets with their own validation split (synthetic, modular, arrays that give one) keep it.
   */
  validationSize?: number;
  /** Keep only the first N examples of a split after a seeded shuffle (smoke runs). */
  subset?: Partial<Record<Split, number>>;
  /** Apply the dataset's augmentation to training batches (default: the dataset's own default, on for CIFAR). */
  augment?: boolean;
  /** Options of the synthetic dataset. */
  synthetic?: SyntheticDatasetOptions;
  /** Options of the `modular-addition` dataset (p, op, trainFraction, seed). */
  modular?: ModularDatasetOptions;
  /** Progress messages (default: stderr). */
  log?: (line: string) => void;
  /** Show download progress bars (default: when stderr is a TTY). */
  progress?: boolean;
}

/** A loaded dataset: image storage, splits, normalisation; implements the trainer's `TrainingData`. */
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

class ImageDataset implements Dataset {
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
      ...(opts?.augmentSeed !== undefined && this.augmentation ? { augmentSeed: opts.augmentSeed, augmentation: this.augmentation } : {}),
    });
  }
}

function invalid(message: string, where = 'loadDataset'): PipelineError {
  return new PipelineError('PARAM_INVALID', message, { where });
}

/** What a source yields before the common steps: training and test splits, maybe its own validation split. */
interface Loaded {
  readonly train: ImageSet;
  readonly test: ImageSet;
  readonly validation?: ImageSet;
  readonly numClasses: number;
  readonly source: string;
}

/** A project's folder of files (the `path` option, when given, is the folder or archive to read instead). */
async function loadFiles(name: string, src: FilesSource, opts: LoadDatasetOptions): Promise<Loaded> {
  const at = opts.path ?? src.dir;
  const classes = src.numClasses ?? formatClasses(src.format);
  let files: string[];
  if (isArchiveOf(src.format, at)) files = [at];
  else {
    const r = formatFilesIn(src.format, at);
    if (!r.files) {
      throw new PipelineError('DATASET_MISSING', `dataset '${name}': ${r.why} in ${at}`, {
        where: at,
        hint: `put the files of dataset '${name}' (${src.format} layout) there, or register it with the folder that holds them`,
      });
    }
    files = r.files;
  }
  return { ...(await readFormatSplits(src.format, files, classes)), numClasses: classes, source: sourceOf(files) };
}

/** A project's arrays, checked: sizes against the shape, labels against the classes. */
async function loadArrays(name: string, src: ArraysSource): Promise<Loaded> {
  const where = `dataset '${name}'`;
  const d = await src.load();
  const shape = d?.shape;
  if (!Array.isArray(shape) || shape.length !== 3 || !shape.every((x) => Number.isInteger(x) && x > 0)) {
    throw invalid(`${where}: shape ${JSON.stringify(shape)} must be [height, width, channels] (positive integers)`, where);
  }
  const classes = d.numClasses;
  if (!(Number.isInteger(classes) && classes >= 2 && classes <= 256)) throw invalid(`${where}: numClasses ${classes} must be an integer in 2..256`, where);
  const size = shape[0] * shape[1] * shape[2];
  let kind: 'uint8' | 'float32' | undefined;
  const toSet = (split: Split, s: ArraySplit | undefined): ImageSet => {
    if (!s || !(s.images instanceof Uint8Array || s.images instanceof Float32Array)) {
      throw invalid(`${where}: the ${split} split needs images as a Uint8Array or Float32Array`, where);
    }
    const k = s.images instanceof Uint8Array ? 'uint8' : 'float32';
    if (kind && k !== kind) throw invalid(`${where}: the ${split} images are ${k}, the others ${kind}: use one type for every split`, where);
    kind = k;
    const n = s.labels?.length ?? -1;
    if (n < 1 || s.images.length !== n * size) {
      throw invalid(`${where}: the ${split} split has ${s.images.length} image values and ${n} labels; ${n} examples of ${shape.join('x')} need ${n * size}`, where);
    }
    const labels = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const y = s.labels[i]!;
      if (!(Number.isInteger(y) && y >= 0 && y < classes)) throw invalid(`${where}: ${split} label ${y} at ${i} is not an integer in 0..${classes - 1}`, where);
      labels[i] = y;
    }
    return { n, shape: [shape[0], shape[1], shape[2]], images: s.images, labels };
  };
  return {
    train: toSet('train', d.train),
    test: toSet('test', d.test),
    ...(d.validation ? { validation: toSet('validation', d.validation) } : {}),
    numClasses: classes,
    source: `arrays (${where})`,
  };
}

async function loadSplits(name: string, source: DatasetSource, opts: LoadDatasetOptions): Promise<Loaded> {
  switch (source.kind) {
    case 'official': {
      const o = await loadOfficial(name as FileDatasetName, source, opts);
      return { ...o, numClasses: source.numClasses };
    }
    case 'files':
      return loadFiles(name, source, opts);
    case 'arrays':
      return loadArrays(name, source);
    case 'synthetic': {
      const s = syntheticSplits(opts.synthetic);
      return { ...s, numClasses: syntheticClasses(opts.synthetic), source: `synthetic(seed=${opts.synthetic?.seed ?? 0})` };
    }
    case 'modular': {
      const o = modularOptions(opts.modular);
      return { ...modularSplits(o), numClasses: o.p, source: `modular(a ${o.op} b mod ${o.p}, trainFraction=${o.trainFraction}, seed=${o.seed})` };
    }
  }
}

/** The normalisation of a source: its own, per-channel statistics of the training split, or the default of the storage type. */
function normalizationOf(source: DatasetSource, train: ImageSet): Normalization {
  const n = source.normalization;
  if (n === 'per-channel') return channelStats(train);
  if (n) return n;
  const C = train.shape[2];
  return { mean: new Array<number>(C).fill(0), std: new Array<number>(C).fill(train.images instanceof Float32Array ? 1 : 255) };
}

/**
 * Loads a dataset: its source from the registry, its files found (see src/nn/data/locate.ts for
 * the search order of the built-in ones), downloaded if allowed, verified and parsed; holds out a
 * seeded validation split from the training set (5000 examples by default: MNIST/Fashion-MNIST
 * 55000/5000, CIFAR 45000/5000) unless the source has its own, and applies optional subsets.
 * @throws PipelineError DATASET_MISSING (not found, download not allowed or failed),
 *   DATASET_CORRUPT (bad checksum, magic number, size or label), PARAM_INVALID (bad options, an
 *   unknown dataset name: the message lists the registered ones).
 */
export async function loadDataset(name: DatasetName, opts: LoadDatasetOptions = {}): Promise<Dataset> {
  const splitSeed = opts.splitSeed ?? 0;
  if (!Number.isInteger(splitSeed)) throw invalid(`splitSeed ${splitSeed} must be an integer`);
  if (opts.verify !== undefined && !['official', 'strict', 'none'].includes(opts.verify)) {
    throw invalid(`verify must be 'official', 'strict' or 'none', not ${JSON.stringify(opts.verify)}`);
  }
  const source = datasetSource(name);
  const loaded = await loadSplits(name, source, opts);
  let splits: Record<Split, ImageSet>;
  if (loaded.validation) splits = { train: loaded.train, validation: loaded.validation, test: loaded.test };
  else {
    const { train, validation } = splitValidation(loaded.train, opts.validationSize ?? defaultValidationSize(loaded.train.n), splitSeed);
    splits = { train, validation, test: loaded.test };
  }
  // Statistics of the training split as held out (before subsets), as the first version computed them.
  const normalization = normalizationOf(source, splits.train);
  SPLITS.forEach((split, s) => {
    const want = opts.subset?.[split];
    if (want !== undefined) splits[split] = subsetOf(splits[split], want, splitSeed, s + 1);
  });
  const augment = opts.augment ?? source.augmentByDefault ?? source.augmentation !== undefined;
  // A stage may ask for augmentation on a dataset that names none: CIFAR's crop and flip.
  const augmentation = augment ? (source.augmentation ?? CIFAR_AUGMENTATION) : undefined;
  return new ImageDataset(name, splits.train.shape, loaded.numClasses, splits, normalization, augmentation, loaded.source);
}
