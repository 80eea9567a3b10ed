/**
 * Splits of a loaded dataset: the seeded validation hold-out, seeded subsets (smoke runs), the
 * per-channel statistics a normalisation is computed from. Pure functions of their arguments.
 */
import { PipelineError } from '../../errors.js';
import { hashInts, permutation } from '../rng.js';
import type { ImageSet, Normalization } from './batch.js';

const SPLIT_STREAM = 0x5b17;
const SUBSET_STREAM = 0x5b5e;

/** The validation hold-out when none is asked for: 5000 examples, or a tenth of a smaller training set. */
export const DEFAULT_VALIDATION_SIZE = 5000;
export function defaultValidationSize(trainSize: number): number {
  return Math.min(DEFAULT_VALIDATION_SIZE, Math.floor(trainSize / 10));
}

function invalid(message: string): PipelineError {
  return new PipelineError('PARAM_INVALID', message, { where: 'loadDataset' });
}

/** Copies the examples `idx` (in that order) of `set` into a new ImageSet (of the same element type). */
export function selectExamples(set: ImageSet, idx: ArrayLike<number>): ImageSet {
  const size = set.shape[0] * set.shape[1] * set.shape[2];
  const images = set.images instanceof Float32Array ? new Float32Array(idx.length * size) : new Uint8Array(idx.length * size);
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

/** Per-channel mean and standard deviation (population) of `set`, in its own units. */
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
