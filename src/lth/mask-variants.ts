/**
 * The layerwise-shuffle sanity check of pruning at initialisation (Frankle et al. 2021, "Pruning
 * Neural Networks at Initialization: Why Are We Missing the Mark?", ICLR 2021, Sec. 5): each
 * layer's mask is randomly permuted within the layer, so the layer keeps exactly its number of
 * weights (its density) and loses which weights they were. If a method's accuracy survives the
 * shuffle, what it found was a per-layer density, not particular connections. The network is
 * then trained from the same initial weights (rewind to iteration 0 with the shuffled mask).
 *
 * The other check of Sec. 5, reinitialisation (the kept weights drawn afresh from the original
 * initialisation distribution, same mask), is the `rewind` stage's mode 'reinit'.
 */
import { z } from 'zod';
import { defineStage } from '../engine/index.js';
import { createModel } from '../nn/models/index.js';
import { hashInts, permutation } from '../nn/rng.js';
import { modelNameSchema, readMask, writeMask } from './config.js';
import { completeMask, densityOf, hammingDistance, layerInfoOf, strHash, type LayerInfo, type Mask } from './masks.js';

/**
 * Each layer's mask permuted by a seeded permutation of its positions (one per layer, seeded by
 * (seed, layer name)): out[j] = mask[perm[j]]. The number of ones per layer is unchanged.
 */
export function shuffleMask(info: LayerInfo, mask: Mask, seed: number): Mask {
  const cur = completeMask(info, mask, 'shuffle-mask');
  const out: Mask = {};
  for (const n of info.prunable) {
    const src = cur[n]!.data;
    const perm = permutation(src.length, hashInts(seed, strHash(n), 0x5f1e));
    const data = new Uint8Array(src.length);
    for (let j = 0; j < src.length; j++) data[j] = src[perm[j]!]!;
    out[n] = { shape: [...cur[n]!.shape], data };
  }
  return out;
}

export const shuffleMaskParams = z.object({
  model: modelNameSchema,
  /** Seed of the per-layer permutations. */
  seed: z.number().int().nonnegative().default(0),
});

export const shuffleMaskStage = defineStage({
  name: 'shuffle-mask',
  description: "a mask with each layer's positions randomly permuted (Frankle et al. 2021's shuffle check)",
  params: shuffleMaskParams,
  inputs: ['mask'],
  outputs: ['mask'],
  resources: { cpu: 1 },
  isolation: 'inline',
  async run(ctx) {
    const p = ctx.params;
    const info = layerInfoOf(createModel(p.model));
    const mask = completeMask(info, await readMask(ctx.input('mask')), `stage ${ctx.id}`);
    const shuffled = shuffleMask(info, mask, p.seed);
    await writeMask(ctx.output('mask'), shuffled, { model: p.model, method: 'shuffle' });
    const d = densityOf(shuffled);
    return { density: d.overall, remaining: d.remaining, changed: hammingDistance(mask, shuffled), layers: d.layers };
  },
});
