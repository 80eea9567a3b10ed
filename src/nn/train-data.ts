/**
 * The data contract between the training engine (src/nn/train.ts) and datasets (src/nn/data/).
 *
 * The trainer only needs this small interface; any dataset that implements it can be trained on.
 * Everything random about data (order, augmentation) is a pure function of explicit integers, so
 * that a run resumed at iteration k sees exactly the batches an uninterrupted run would see.
 *
 * Layout: images are NHWC float32 (`inputShape` = [H, W, C] per example, e.g. [28, 28, 1] for
 * MNIST, [32, 32, 3] for CIFAR-10), already normalised; labels are int32 class ids.
 */
import { PipelineError } from '../errors.js';
import { Rng, defaultBatchIndices, hashInts } from './rng.js';

export type Split = 'train' | 'validation' | 'test';

export interface Batch {
  /** `indices.length * prod(inputShape)` float32 values, NHWC, normalised. */
  x: Float32Array;
  /** `indices.length` class ids in [0, numClasses). */
  y: Int32Array;
}

export interface BatchOptions {
  /**
   * When given (training batches only), apply the dataset's augmentation with this seed. The
   * trainer passes `hashInts(dataSeed, iteration)`, so augmentation is keyed by (seed, iteration).
   * Omitted: no augmentation (evaluation).
   */
  augmentSeed?: number;
}

export interface TrainingData {
  /** Dataset name for provenance, e.g. 'mnist', 'cifar10', 'synthetic'. */
  readonly name: string;
  /** Shape of one example, e.g. [28, 28, 1]. */
  readonly inputShape: readonly number[];
  readonly numClasses: number;
  /** Number of examples in a split (0 if the dataset has no such split). */
  size(split: Split): number;
  /** Normalised float32 inputs and int32 labels for the examples `indices` of `split`. */
  batch(split: Split, indices: ArrayLike<number>, opts?: BatchOptions): Batch;
  /**
   * Optional: the training example indices of batch `iteration` for a data-order seed. Must be a
   * pure function of its arguments. When absent the trainer uses `defaultBatchIndices` (a fresh
   * seeded permutation per epoch, last partial batch dropped).
   */
  batchIndices?(seed: number, iteration: number, batchSize: number): ArrayLike<number>;
}

/** The training indices of batch `iteration`: the dataset's own order if it has one. */
export function trainBatchIndices(
  data: TrainingData,
  seed: number,
  iteration: number,
  batchSize: number,
): ArrayLike<number> {
  if (data.batchIndices) return data.batchIndices(seed, iteration, batchSize);
  return defaultBatchIndices(data.size('train'), batchSize, seed, iteration);
}

export interface SyntheticOptions {
  /** Shape of one example; default [8, 8, 1]. */
  inputShape?: number[];
  numClasses?: number;
  trainSize?: number;
  validationSize?: number;
  testSize?: number;
  /** Seed of the class templates and of the examples. */
  seed?: number;
  /** Standard deviation of the per-example noise around its class template (default 1). */
  noise?: number;
}

/**
 * A small seeded classification problem for tests and benchmarks: each class has a random
 * template; an example is its template plus Gaussian noise. Learnable, but not trivially (the
 * default noise level makes a linear model reach roughly 90%). Augmentation (when asked for)
 * adds a little seeded noise, so that it is observable in tests.
 */
export function syntheticData(opts: SyntheticOptions = {}): TrainingData {
  const inputShape = opts.inputShape ?? [8, 8, 1];
  const numClasses = opts.numClasses ?? 10;
  const sizes: Record<Split, number> = {
    train: opts.trainSize ?? 1000,
    validation: opts.validationSize ?? 200,
    test: opts.testSize ?? 200,
  };
  const seed = opts.seed ?? 1;
  const noise = opts.noise ?? 1;
  const dim = inputShape.reduce((a, b) => a * b, 1);
  if (!(dim > 0) || !(numClasses >= 2)) {
    throw new PipelineError('PARAM_INVALID', 'synthetic data needs a non-empty input and >= 2 classes', {
      where: 'src/nn/train-data.ts',
    });
  }
  const rng = new Rng(hashInts(seed, 0x7e5));
  const templates = new Float32Array(numClasses * dim);
  for (let i = 0; i < templates.length; i++) templates[i] = rng.normal() * 0.5;

  const splits = {} as Record<Split, { x: Float32Array; y: Int32Array }>;
  (['train', 'validation', 'test'] as const).forEach((split, si) => {
    const n = sizes[split];
    const r = new Rng(hashInts(seed, si, 0x5b1));
    const x = new Float32Array(n * dim);
    const y = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const c = r.int(numClasses);
      y[i] = c;
      for (let j = 0; j < dim; j++) x[i * dim + j] = templates[c * dim + j]! + noise * 0.5 * r.normal();
    }
    splits[split] = { x, y };
  });

  return {
    name: 'synthetic',
    inputShape,
    numClasses,
    size: (split) => sizes[split],
    batch(split, indices, bopts) {
      const s = splits[split];
      const n = indices.length;
      const x = new Float32Array(n * dim);
      const y = new Int32Array(n);
      const aug = bopts?.augmentSeed === undefined ? undefined : new Rng(bopts.augmentSeed);
      for (let i = 0; i < n; i++) {
        const k = indices[i]!;
        if (!(k >= 0 && k < sizes[split])) {
          throw new PipelineError('PARAM_INVALID', `index ${k} out of range for ${split} (${sizes[split]})`, {
            where: 'synthetic data',
          });
        }
        x.set(s.x.subarray(k * dim, (k + 1) * dim), i * dim);
        y[i] = s.y[k]!;
        if (aug) for (let j = 0; j < dim; j++) x[i * dim + j]! += 0.05 * aug.normal();
      }
      return { x, y };
    },
  };
}
