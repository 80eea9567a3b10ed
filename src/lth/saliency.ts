/**
 * Pruning at initialisation: SNIP (Lee et al. 2019) and SynFlow (Tanaka et al. 2020) scores,
 * computed with the training engine's models and backend.
 *
 * - SNIP: |dL/dw * w| on one seeded training batch (connection sensitivity), one-shot.
 * - SynFlow: data-free; every parameter replaced by its absolute value, an all-ones input, and
 *   R = sum of the logits; scores |dR/dw * w|. Pruned iteratively (`iterations` rounds, the density
 *   falling exponentially to the target), which is what keeps whole layers from being cut off.
 */
import type { Tensor } from '@tensorflow/tfjs-core';
import { initBackend, tf } from '../nn/backend.js';
import type { Model } from '../nn/models/index.js';
import type { WeightMap } from '../nn/tensormap.js';
import { trainBatchIndices, type TrainingData } from '../nn/train-data.js';
import { completeMask, layerInfoOf, selectByScores, type Mask, type PruneAmount, type Scores } from './masks.js';

function tensorsOf(model: Model, weights: WeightMap, mask: Mask | undefined, transform?: (v: number) => number): Record<string, Tensor> {
  const t = tf();
  const out: Record<string, Tensor> = {};
  for (const p of model.params) {
    const w = weights[p.name]!;
    const data = w.data.slice();
    const m = mask?.[p.name];
    for (let i = 0; i < data.length; i++) {
      if (m && !m.data[i]) data[i] = 0;
      else if (transform) data[i] = transform(data[i]!);
    }
    out[p.name] = t.tensor(data, w.shape, 'float32');
  }
  return out;
}

/** |g * w| for the prunable weights, g = gradient of `objective(forward(w))`. */
function gradTimesWeight(model: Model, w: Record<string, Tensor>, objective: (w: Record<string, Tensor>) => Tensor): Scores {
  const t = tf();
  const names = model.prunable;
  const grads = t.tidy(() => {
    const f = (...ps: Tensor[]) => {
      const all = { ...w };
      names.forEach((n, i) => (all[n] = ps[i]!));
      return objective(all) as never;
    };
    const g = t.grads(f)(names.map((n) => w[n]!));
    return names.map((n, i) => t.abs(t.mul(g[i]!, w[n]!)));
  });
  const out: Scores = {};
  names.forEach((n, i) => {
    out[n] = new Float32Array(grads[i]!.dataSync() as Float32Array);
    grads[i]!.dispose();
  });
  return out;
}

/** SNIP connection sensitivity on `batchSize` training examples chosen by `seed`. */
export async function snipScores(model: Model, weights: WeightMap, mask: Mask | undefined, data: TrainingData, opts: { batchSize: number; seed: number }): Promise<Scores> {
  await initBackend();
  const t = tf();
  const idx = trainBatchIndices(data, opts.seed, 0, Math.min(opts.batchSize, data.size('train')));
  const b = data.batch('train', idx);
  const w = tensorsOf(model, weights, mask);
  const x = t.tensor(b.x, [idx.length, ...model.inputShape], 'float32');
  const y = t.oneHot(t.tensor1d(b.y, 'int32'), model.numClasses);
  try {
    return gradTimesWeight(model, w, (all) => {
      const { logits } = model.forward(all, x, { training: true, dropoutSeed: opts.seed });
      return t.neg(t.mean(t.sum(t.mul(y, t.logSoftmax(logits)), 1)));
    });
  } finally {
    for (const v of Object.values(w)) v.dispose();
    x.dispose();
    y.dispose();
  }
}

/** SynFlow scores of the (masked) weights: |dR/dw * w| of the linearised, all-positive network. */
export async function synflowScores(model: Model, weights: WeightMap, mask: Mask | undefined): Promise<Scores> {
  await initBackend();
  const t = tf();
  const w = tensorsOf(model, weights, mask, Math.abs);
  const x = t.ones([1, ...model.inputShape]);
  try {
    return gradTimesWeight(model, w, (all) => t.sum(model.forward(all, x, { training: false }).logits));
  } finally {
    for (const v of Object.values(w)) v.dispose();
    x.dispose();
  }
}

/** SNIP one-shot to `amount` (normally `{ scope: 'global', density }`). */
export async function snipPrune(model: Model, weights: WeightMap, current: Mask | undefined, amount: PruneAmount, data: TrainingData, opts: { batchSize: number; seed: number }): Promise<Mask> {
  const info = layerInfoOf(model);
  const cur = completeMask(info, current);
  return selectByScores(info, await snipScores(model, weights, cur, data, opts), cur, amount, 'prune (snip)');
}

/**
 * SynFlow, iterative: `iterations` rounds, after round i (1-based) the density is
 * d0 * (target / d0)^(i / iterations), d0 the density of `current`. One-shot amounts only
 * (`density`); an iterative `rate` is turned into the density it would reach.
 */
export async function synflowPrune(model: Model, weights: WeightMap, current: Mask | undefined, amount: PruneAmount, iterations: number): Promise<Mask> {
  const info = layerInfoOf(model);
  let mask = completeMask(info, current);
  const keep = new Set(amount.keep ?? []);
  const names = info.prunable.filter((n) => !keep.has(n));
  let ones = 0;
  let total = 0;
  for (const n of names) {
    for (const v of mask[n]!.data) ones += v;
    total += mask[n]!.data.length;
  }
  const d0 = total ? ones / total : 1;
  const target = amount.density ?? d0 * (1 - (amount.rate ?? 0));
  const n = Math.max(1, iterations);
  for (let i = 1; i <= n; i++) {
    const d = i === n ? target : d0 * Math.pow(target / d0, i / n);
    const scores = await synflowScores(model, weights, mask);
    mask = selectByScores(info, scores, mask, { scope: amount.scope, density: d, ...(amount.keep ? { keep: amount.keep } : {}) }, 'prune (synflow)');
  }
  return mask;
}
