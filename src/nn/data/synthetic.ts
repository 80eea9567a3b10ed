/**
 * The built-in `synthetic` dataset: per-class random uint8 patterns blended with uniform noise,
 * every value a pure function of the seed. Small and learnable, for smoke runs and tests.
 */
import { PipelineError } from '../../errors.js';
import { hashInts } from '../rng.js';
import type { Split } from '../train-data.js';
import type { ImageSet } from './batch.js';

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

const SPLITS: readonly Split[] = ['train', 'validation', 'test'];
const SYNTH_STREAM = 0x5e7d;

function invalid(message: string): PipelineError {
  return new PipelineError('PARAM_INVALID', message, { where: 'loadDataset' });
}

/** The number of classes of the synthetic dataset with these options. */
export function syntheticClasses(o: SyntheticDatasetOptions = {}): number {
  return o.numClasses ?? 4;
}

/** The synthetic dataset's splits: per-class random uint8 patterns blended with uniform noise. */
export function syntheticSplits(o: SyntheticDatasetOptions = {}): Record<Split, ImageSet> {
  const seed = o.seed ?? 0;
  const shape = o.shape ?? [8, 8, 1];
  const classes = syntheticClasses(o);
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
