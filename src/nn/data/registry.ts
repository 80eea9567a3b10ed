/**
 * The dataset registry: every dataset name the loader knows and where its examples come from.
 * The one home of the dataset vocabulary: src/lth and the CLI import the names from here.
 *
 * Built in (cannot be replaced):
 * - `mnist`, `fashion-mnist` (IDX files), `cifar10`, `cifar100` (CIFAR binary files): the official
 *   files, looked for in the usual folders (src/nn/data/locate.ts), checked against the published
 *   checksums and downloaded when allowed;
 * - `synthetic`: seeded class patterns plus noise (src/nn/data/synthetic.ts);
 * - `modular-addition`: `a op b mod p` for op in + - * / (src/nn/data/modular.ts), the grokking papers' data.
 *
 * A project adds its own with {@link registerDataset} (the public `defineDataset` wraps it), from
 * - in-memory arrays (`kind: 'arrays'`): uint8 or float32 NHWC images with labels, train and
 *   test splits, and optionally a validation split (else the usual seeded hold-out);
 * - a folder of files in IDX or CIFAR binary layout (`kind: 'files'`), read as the built-in
 *   datasets of that format are (without official checksums, never downloaded).
 *
 * ```ts
 * registerDataset('blobs', { kind: 'arrays', load: () => ({ shape: [8, 8, 1], numClasses: 3, train: {...}, test: {...} }) });
 * registerDataset('my-digits', { kind: 'files', format: 'idx', dir: '/data/my-digits' });
 * await loadDataset('blobs');
 * ```
 */
import { resolve } from 'node:path';
import { PipelineError } from '../../errors.js';
import type { Augmentation, Normalization } from './batch.js';
import { CIFAR_AUGMENTATION } from './batch.js';
import { OFFICIAL_FILES, type OfficialFile } from './sources.js';

/** The built-in datasets. */
export const BUILTIN_DATASETS = ['mnist', 'fashion-mnist', 'cifar10', 'cifar100', 'synthetic', 'modular-addition'] as const;
export type BuiltinDatasetName = (typeof BUILTIN_DATASETS)[number];
/** The built-in datasets read from official files (all but the generated ones). */
export type FileDatasetName = Exclude<BuiltinDatasetName, 'synthetic' | 'modular-addition'>;
/** A registered dataset's name: a built-in one (spelled out for editors) or one a project registered. */
export type DatasetName = BuiltinDatasetName | (string & {});

/**
 * Layouts on disk:
 * - `idx`: the four MNIST files `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
 *   `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte` (each `.gz` or not);
 * - `cifar10`: `data_batch_1..5.bin` and `test_batch.bin` (also in `cifar-10-batches-bin/`, or the
 *   `cifar-10-binary.tar.gz` archive), records of 1 label byte + 3072 pixel bytes;
 * - `cifar100`: `train.bin` and `test.bin` (also in `cifar-100-binary/`, or the
 *   `cifar-100-binary.tar.gz` archive), records of 1 coarse + 1 fine label byte + 3072 pixel bytes;
 *   the fine labels (100 classes) are used.
 */
export type FileFormat = 'idx' | 'cifar10' | 'cifar100';
export const FILE_FORMATS: readonly FileFormat[] = ['idx', 'cifar10', 'cifar100'];

/** One split of an in-memory dataset: `n * H * W * C` values, NHWC, and `n` class ids. */
export interface ArraySplit {
  readonly images: Uint8Array | Float32Array;
  readonly labels: ArrayLike<number>;
}

/** What an `arrays` source's `load` returns. */
export interface DatasetArrays {
  /** [H, W, C] of one example. */
  readonly shape: readonly [number, number, number];
  /** Class ids are 0..numClasses-1 (at most 256). */
  readonly numClasses: number;
  readonly train: ArraySplit;
  readonly test: ArraySplit;
  /** Its own validation split; omitted: a seeded hold-out of the training split (`validationSize`). */
  readonly validation?: ArraySplit;
}

/** What every source may say about how its examples are fed to a network. */
export interface SourceOptions {
  /** Name in tables and reports (default: the registered name). */
  readonly title?: string;
  /**
   * Per-channel normalisation, in the images' own units: `x = (v - mean[c]) / std[c]`. Default:
   * uint8 images mean 0, std 255 (`'per-channel'` for files in a CIFAR format: the training
   * split's statistics); float32 images are taken as they are (mean 0, std 1).
   */
  readonly normalization?: Normalization | 'per-channel';
  /** The augmentation of training batches, when a stage asks for it (default: CIFAR's crop and flip for CIFAR files, none else). */
  readonly augmentation?: Augmentation;
  /** Whether training batches are augmented unless a stage says otherwise (default: true when `augmentation` is set). */
  readonly augmentByDefault?: boolean;
}

/** In-memory arrays; `load` runs in every process that loads the dataset (the stage processes). */
export interface ArraysSource extends SourceOptions {
  readonly kind: 'arrays';
  readonly load: () => DatasetArrays | Promise<DatasetArrays>;
}

/** A folder of files in one of the {@link FileFormat}s. */
export interface FilesSource extends SourceOptions {
  readonly kind: 'files';
  readonly format: FileFormat;
  /** The folder (absolute; a relative one is taken from the current directory when registered). */
  readonly dir: string;
  /** Number of classes (default: 10 for `idx` and `cifar10`, 100 for `cifar100`). */
  readonly numClasses?: number;
}

/** A built-in dataset read from its official files (looked for, verified, downloaded). */
export interface OfficialSource extends SourceOptions {
  readonly kind: 'official';
  readonly format: FileFormat;
  readonly files: readonly OfficialFile[];
  readonly numClasses: number;
}

/** The built-in synthetic dataset (its options come with each load). */
export interface SyntheticSource extends SourceOptions {
  readonly kind: 'synthetic';
}

/** The built-in algorithmic dataset (its p, op and train fraction come with each load). */
export interface ModularSource extends SourceOptions {
  readonly kind: 'modular';
}

/** What a project may register. */
export type UserDatasetSource = ArraysSource | FilesSource;
export type DatasetSource = UserDatasetSource | OfficialSource | SyntheticSource | ModularSource;

/** Default number of classes of a file format. */
export function formatClasses(format: FileFormat): number {
  return format === 'cifar100' ? 100 : 10;
}

const cifar = { normalization: 'per-channel', augmentation: CIFAR_AUGMENTATION, augmentByDefault: true } as const;
/** How a format's images are fed unless the source says otherwise: CIFAR per-channel with crop and flip, IDX /255 without. */
const FORMAT_DEFAULTS: Readonly<Record<FileFormat, SourceOptions>> = { idx: {}, cifar10: cifar, cifar100: cifar };

const BUILTIN: Readonly<Record<BuiltinDatasetName, DatasetSource>> = {
  mnist: { kind: 'official', format: 'idx', files: OFFICIAL_FILES.mnist, numClasses: 10, title: 'MNIST' },
  'fashion-mnist': { kind: 'official', format: 'idx', files: OFFICIAL_FILES['fashion-mnist'], numClasses: 10, title: 'Fashion-MNIST' },
  cifar10: { kind: 'official', format: 'cifar10', files: OFFICIAL_FILES.cifar10, numClasses: 10, title: 'CIFAR-10', ...FORMAT_DEFAULTS.cifar10 },
  cifar100: { kind: 'official', format: 'cifar100', files: OFFICIAL_FILES.cifar100, numClasses: 100, title: 'CIFAR-100', ...FORMAT_DEFAULTS.cifar100 },
  synthetic: { kind: 'synthetic', title: 'synthetic' },
  'modular-addition': { kind: 'modular', title: 'modular arithmetic' },
};

const registered = new Map<string, UserDatasetSource>();

const NAME = /^[a-z0-9][a-z0-9._-]*$/i;

export function isBuiltinDataset(name: string): name is BuiltinDatasetName {
  return Object.hasOwn(BUILTIN, name);
}

function invalid(message: string, hint?: string): PipelineError {
  return new PipelineError('PARAM_INVALID', message, { where: 'registerDataset', ...(hint ? { hint } : {}) });
}

/**
 * Registers a project's dataset under `name` (letters, digits, `.`, `_`, `-`). A built-in name
 * cannot be taken; registering a name again replaces its source (a module imported again
 * registers again). The source is checked for shape, not loaded.
 * @throws PipelineError PARAM_INVALID for a bad name or source.
 */
export function registerDataset(name: string, source: UserDatasetSource): void {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw invalid(`dataset name ${JSON.stringify(name)} must start with a letter or digit and use only letters, digits, '.', '_', '-'`);
  }
  if (isBuiltinDataset(name)) throw invalid(`'${name}' is a built-in dataset and cannot be redefined`, 'give your dataset another name');
  if (source?.kind === 'arrays') {
    if (typeof source.load !== 'function') throw invalid(`dataset '${name}': an 'arrays' source needs a load() function`);
    registered.set(name, source);
  } else if (source?.kind === 'files') {
    if (!FILE_FORMATS.includes(source.format)) throw invalid(`dataset '${name}': format ${JSON.stringify(source.format)} is not one of ${FILE_FORMATS.join(', ')}`);
    if (typeof source.dir !== 'string' || source.dir.length === 0) throw invalid(`dataset '${name}': a 'files' source needs the folder (dir) of its files`);
    const classes = source.numClasses ?? formatClasses(source.format);
    if (!(Number.isInteger(classes) && classes >= 2 && classes <= 256)) throw invalid(`dataset '${name}': numClasses ${classes} must be an integer in 2..256`);
    registered.set(name, { ...FORMAT_DEFAULTS[source.format], ...source, dir: resolve(source.dir) });
  } else {
    throw invalid(`dataset '${name}': the source must be { kind: 'arrays', load } or { kind: 'files', format, dir }`);
  }
}

/** Every dataset name: the built-in ones, then the registered ones in order of registration. */
export function datasetNames(): string[] {
  return [...BUILTIN_DATASETS, ...registered.keys()];
}

/** True if `name` is built in or registered. */
export function hasDataset(name: string): boolean {
  return isBuiltinDataset(name) || registered.has(name);
}

/** "unknown dataset 'x'" with the names that exist: the one message for every caller. */
export function unknownDatasetMessage(name: unknown): string {
  return `unknown dataset ${JSON.stringify(name)}: the datasets are ${datasetNames().join(', ')}`;
}

/**
 * The source of a dataset.
 * @throws PipelineError PARAM_INVALID for an unknown name (listing the names that exist).
 */
export function datasetSource(name: string): DatasetSource {
  const source = isBuiltinDataset(name) ? BUILTIN[name] : registered.get(name);
  if (!source) {
    // No `where`: the caller's place is the useful one (a pipeline file's line is added to an error
    // thrown while the pipeline is built).
    throw new PipelineError('PARAM_INVALID', unknownDatasetMessage(name), {
      hint: 'register your own with defineDataset({ name, load }) in the pipeline file (or a module it imports)',
    });
  }
  return source;
}

/** The name shown in tables: the source's title, else the name itself. */
export function datasetTitle(name: string): string {
  return (hasDataset(name) ? datasetSource(name).title : undefined) ?? name;
}

/** Forgets a registered dataset (tests). Built-in ones stay. */
export function unregisterDataset(name: string): boolean {
  return registered.delete(name);
}
