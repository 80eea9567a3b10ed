/**
 * Turning stored images (uint8, or float32 for datasets given as arrays) into training batches:
 * normalisation to float32 NHWC, seeded stateless data order, and seeded stateless augmentation
 * (pad + random crop, horizontal flip).
 */
import { PipelineError } from '../../errors.js';
import { defaultBatchIndices, hashInts } from '../rng.js';
import type { Batch } from '../train-data.js';

/** Images, NHWC, with their labels: uint8 pixels (the file formats) or float32 values (arrays). */
export interface ImageSet {
  /** Number of examples. */
  readonly n: number;
  /** [H, W, C] of one example. */
  readonly shape: readonly [number, number, number];
  /** `n * H * W * C` values, NHWC. */
  readonly images: Uint8Array | Float32Array;
  /** `n` class ids. */
  readonly labels: Uint8Array;
}

/** Per-channel normalisation in pixel units: `x = (v - mean[c]) / std[c]`. MNIST: mean 0, std 255. */
export interface Normalization {
  readonly mean: readonly number[];
  readonly std: readonly number[];
}

/** Augmentation: zero padding of `pad` pixels and a random crop back to size; random horizontal flips. */
export interface Augmentation {
  readonly pad: number;
  readonly flip: boolean;
}

/** The standard CIFAR-10 augmentation: 4-pixel zero pad, random 32x32 crop, random horizontal flip. */
export const CIFAR_AUGMENTATION: Augmentation = { pad: 4, flip: true };

const AUG_STREAM = 0xa06;

/**
 * The crop offset and flip of the example at `position` of a batch, a pure function of
 * (`seed`, `position`). The trainer passes `seed = hashInts(dataSeed, iteration)`, so it is a
 * function of (data seed, iteration, position). Offsets are in [0, 2 * pad]; (pad, pad) is no shift.
 */
export function augmentationDraw(
  seed: number,
  position: number,
  aug: Augmentation,
): { dy: number; dx: number; flip: boolean } {
  const h = hashInts(seed, position, AUG_STREAM);
  const span = 2 * aug.pad + 1;
  const dy = aug.pad > 0 ? h % span : 0;
  const dx = aug.pad > 0 ? Math.floor(h / span) % span : 0;
  const flip = aug.flip && (hashInts(h, 1) & 1) === 1;
  return { dy, dx, flip };
}

function checkChannels(norm: Normalization, channels: number): void {
  if (norm.mean.length !== channels || norm.std.length !== channels) {
    throw new PipelineError('PARAM_INVALID', `normalisation has ${norm.mean.length} means and ${norm.std.length} stds for ${channels} channels`);
  }
}

function lookupTable(norm: Normalization, channels: number): Float32Array {
  checkChannels(norm, channels);
  const lut = new Float32Array(256 * channels);
  for (let c = 0; c < channels; c++) {
    const m = norm.mean[c]!;
    const s = norm.std[c]!;
    for (let v = 0; v < 256; v++) lut[c * 256 + v] = (v - m) / s;
  }
  return lut;
}

const lutCache = new WeakMap<Normalization, Float32Array>();

/** The uint8 lookup table of `norm` (cached per normalisation). */
function lutOf(norm: Normalization, channels: number): Float32Array {
  let lut = lutCache.get(norm);
  if (!lut) {
    lut = lookupTable(norm, channels);
    lutCache.set(norm, lut);
  }
  return lut;
}

export interface MakeBatchOptions {
  /** Augment with this seed (see {@link augmentationDraw}); omitted: no augmentation. */
  augmentSeed?: number;
  /** What augmentation to apply when `augmentSeed` is given (none if omitted). */
  augmentation?: Augmentation;
}

/**
 * Normalised float32 NHWC inputs and int32 labels for the examples `indices` of `set`. With
 * `augmentSeed` and `augmentation`, each example is padded with zero pixels (value 0 before
 * normalisation), cropped back at a seeded offset and maybe flipped.
 * @throws PipelineError PARAM_INVALID for an index out of range.
 */
export function makeBatch(
  set: ImageSet,
  indices: ArrayLike<number>,
  norm: Normalization,
  opts: MakeBatchOptions = {},
): Batch {
  const [H, W, C] = set.shape;
  const size = H * W * C;
  const img = set.images;
  // uint8 pixels go through a lookup table; float32 values are copied, then normalised in place.
  const lut = img instanceof Uint8Array ? lutOf(norm, C) : (checkChannels(norm, C), undefined);
  const b = indices.length;
  const x = new Float32Array(b * size);
  const y = new Int32Array(b);
  const aug = opts.augmentSeed !== undefined && opts.augmentation ? opts.augmentation : undefined;
  for (let i = 0; i < b; i++) {
    const k = indices[i]!;
    if (!(Number.isInteger(k) && k >= 0 && k < set.n)) {
      throw new PipelineError('PARAM_INVALID', `example index ${k} is out of range 0..${set.n - 1}`);
    }
    y[i] = set.labels[k]!;
    const src = k * size;
    const dst = i * size;
    if (!aug) {
      if (lut) for (let p = 0; p < size; p++) x[dst + p] = lut[(p % C) * 256 + img[src + p]!]!;
      else x.set(img.subarray(src, src + size), dst);
      continue;
    }
    const { dy, dx, flip } = augmentationDraw(opts.augmentSeed!, i, aug);
    for (let r = 0; r < H; r++) {
      const sr = r + dy - aug.pad;
      for (let col = 0; col < W; col++) {
        const cc = flip ? W - 1 - col : col; // column of the cropped image shown at `col`
        const sc = cc + dx - aug.pad;
        const o = dst + (r * W + col) * C;
        const inside = sr >= 0 && sr < H && sc >= 0 && sc < W;
        const s = src + (sr * W + sc) * C;
        if (lut) for (let c = 0; c < C; c++) x[o + c] = lut[c * 256 + (inside ? img[s + c]! : 0)]!;
        else for (let c = 0; c < C; c++) x[o + c] = inside ? img[s + c]! : 0;
      }
    }
  }
  if (!lut) {
    for (let p = 0; p < x.length; p++) {
      const c = p % C;
      x[p] = (x[p]! - norm.mean[c]!) / norm.std[c]!;
    }
  }
  return { x, y };
}

/**
 * The training example indices of batch `iteration` (0-based), a pure function of
 * (seed, iteration, batchSize, n): epochs of `floor(n / batchSize)` batches, each epoch a fresh
 * seeded permutation of 0..n-1 keyed by (seed, epoch); the last partial batch of an epoch is
 * dropped. This is the order the trainer uses (`defaultBatchIndices` of src/nn/rng.ts), so a run
 * resumed at iteration k sees the same batches as an uninterrupted one.
 * @throws PipelineError PARAM_INVALID unless 1 <= batchSize <= n and iteration >= 0 are integers.
 */
export function batchIndices(seed: number, iteration: number, batchSize: number, n: number): Int32Array {
  if (!Number.isInteger(batchSize) || batchSize < 1 || !Number.isInteger(n) || batchSize > n) {
    throw new PipelineError('PARAM_INVALID', `batch size ${batchSize} must be an integer in 1..${n} (the number of examples)`);
  }
  if (!Number.isInteger(iteration) || iteration < 0) {
    throw new PipelineError('PARAM_INVALID', `iteration ${iteration} must be a non-negative integer`);
  }
  if (!Number.isInteger(seed)) throw new PipelineError('PARAM_INVALID', `seed ${seed} must be an integer`);
  return defaultBatchIndices(n, batchSize, seed, iteration);
}

/** 0, 1, ..., n-1 in chunks of `batchSize` (the last may be shorter): for evaluation. */
export function* sequentialBatches(n: number, batchSize: number): Generator<Int32Array> {
  for (let start = 0; start < n; start += batchSize) {
    const end = Math.min(n, start + batchSize);
    const idx = new Int32Array(end - start);
    for (let i = 0; i < idx.length; i++) idx[i] = start + i;
    yield idx;
  }
}
