/**
 * prune: from weights (and the current mask) to a new mask.
 *
 * - method 'magnitude': the lowest-magnitude remaining weights, per layer with rates per layer kind
 *   (`rates: { conv, fc, output }`; Frankle & Carbin prune the output layer at half the fc rate) or
 *   global (one threshold for all layers); iterative (`rate`: a fraction of what remains) or one-shot
 *   (`density`: the fraction that remains).
 * - method 'random': the random-pruning baseline. With a `like` mask: a random mask with exactly
 *   its per-layer densities; without: random scores pruned like magnitude pruning.
 * - method 'snip' / 'synflow': pruning at initialisation (pass the initial weights).
 * - method 'phew': data-free paths by magnitude-biased random walks (src/lth/phew.ts); `density` only.
 * Layers in `keep` are left as they are. Outputs the mask (safetensors, U8) and its densities.
 */
import { z } from 'zod';
import { defineStage } from '../engine/index.js';
import { PipelineError } from '../errors.js';
import { createModel } from '../nn/models/index.js';
import { dataOptionsSchema, datasetNameSchema, loadStageData, modelNameSchema, optionalInput, readMask, readModelCheckpoint, stageBackend, writeMask } from './config.js';
import { completeMask, densityOf, hammingDistance, layerInfoOf, magnitudePrune, randomMaskLike, randomScores, selectByScores, type PruneAmount } from './masks.js';
import { snipPrune, synflowPrune } from './saliency.js';
import { phewPrune } from './phew.js';

const fraction = z.number().min(0).max(1);

export const pruneParams = z.object({
  model: modelNameSchema,
  method: z.enum(['magnitude', 'random', 'snip', 'synflow', 'phew']).default('magnitude'),
  scope: z.enum(['layerwise', 'global']).default('layerwise'),
  /** Iterative: fraction of the remaining weights pruned (global; layerwise default for every kind). */
  rate: fraction.optional(),
  /** Layerwise: rate per layer kind. */
  rates: z.object({ conv: fraction.optional(), fc: fraction.optional(), output: fraction.optional() }).optional(),
  /** One-shot: fraction of the weights that remain. */
  density: fraction.optional(),
  /** Prunable weights left unpruned, e.g. ['fc.kernel']. */
  keep: z.array(z.string()).default([]),
  /** Seed of random pruning, of SNIP's batch and of PHEW's walks. */
  seed: z.number().int().nonnegative().default(0),
  /** SNIP: examples in the scoring batch. */
  snipBatch: z.number().int().positive().default(100),
  /** SynFlow: pruning rounds. */
  synflowIterations: z.number().int().positive().default(100),
  /** SNIP only: which data. */
  dataset: datasetNameSchema.optional(),
  data: dataOptionsSchema.default({}),
  /** Level number, for reports only. */
  level: z.number().int().nonnegative().optional(),
});
export type PruneParams = z.output<typeof pruneParams>;

export function amountOf(p: PruneParams, where: string): PruneAmount {
  if (p.density === undefined && p.rate === undefined && !p.rates) {
    throw new PipelineError('PARAM_INVALID', 'prune needs a rate (iterative), rates per layer kind, or a density (one-shot)', { where, hint: "e.g. { rate: 0.2 } or { density: 0.1 }" });
  }
  if (p.density !== undefined && (p.rate !== undefined || p.rates)) {
    throw new PipelineError('PARAM_INVALID', 'give either a density (one-shot) or rates (iterative), not both', { where });
  }
  return {
    scope: p.scope,
    ...(p.rate !== undefined ? { rate: p.rate } : {}),
    ...(p.rates ? { rates: p.rates } : {}),
    ...(p.density !== undefined ? { density: p.density } : {}),
    keep: p.keep,
  };
}

export const prune = defineStage({
  name: 'prune',
  description: 'a new mask from weights and the current mask (magnitude, random, SNIP, SynFlow)',
  params: pruneParams,
  // weights: a checkpoint (trained weights, or the initial ones for SNIP/SynFlow);
  // mask: [] or the current mask; like: [] or the mask whose per-layer densities a random mask copies;
  // data: the dataset files (SNIP only; [] otherwise).
  inputs: ['weights', 'mask', 'like', 'files'],
  outputs: ['mask'],
  resources: { cpu: 1 },
  // Magnitude and random pruning are quick plain-data work; SNIP/SynFlow are single small passes.
  isolation: 'inline',
  async run(ctx) {
    const p = ctx.params;
    const where = `stage ${ctx.id}`;
    const model = createModel(p.model);
    const info = layerInfoOf(model);
    const ck = await readModelCheckpoint(ctx.input('weights'), p.model, where);
    const maskPath = optionalInput(ctx.inputList('mask'), 'mask', where);
    const likePath = optionalInput(ctx.inputList('like'), 'like', where);
    const current = completeMask(info, maskPath ? await readMask(maskPath) : undefined, where);
    let mask;
    switch (p.method) {
      case 'magnitude':
        mask = magnitudePrune(info, ck.weights, current, amountOf(p, where));
        break;
      case 'random':
        mask = likePath ? randomMaskLike(info, await readMask(likePath), p.seed) : selectByScores(info, randomScores(info, p.seed), current, amountOf(p, where), where);
        break;
      case 'snip': {
        if (!p.dataset) throw new PipelineError('PARAM_INVALID', 'SNIP needs a dataset', { where, hint: "add dataset: 'mnist' (and the data files)" });
        await stageBackend(ctx);
        const data = await loadStageData(ctx, { dataset: p.dataset, data: p.data });
        mask = await snipPrune(model, ck.weights, current, amountOf(p, where), data, { batchSize: p.snipBatch, seed: p.seed });
        break;
      }
      case 'synflow':
        await stageBackend(ctx);
        mask = await synflowPrune(model, ck.weights, current, amountOf(p, where), p.synflowIterations);
        break;
      case 'phew':
        mask = phewPrune(model, ck.weights, current, amountOf(p, where), p.seed, where);
        break;
    }
    const d = densityOf(mask);
    await writeMask(ctx.output('mask'), mask, { model: p.model, method: p.method, scope: p.scope });
    return {
      density: d.overall,
      remaining: d.remaining,
      pruned: d.total - d.remaining,
      changed: hammingDistance(current, mask),
      ...(p.level !== undefined ? { level: p.level } : {}),
      layers: d.layers,
    };
  },
});
