/**
 * edge-popup: a strong lottery ticket, a subnetwork of a random network that is never trained,
 * found by training scores (src/lth/supermask.ts): edge-popup (Ramanujan et al. 2020) or, with
 * `binarize`, a multi-prize ticket with binary weights (Diffenderfer & Kailkhura 2021, biprop).
 *
 * Params: the training config of every training stage (model, dataset, batch size, budget,
 * optimizer and its settings, applied to the scores), `density` (k, the fraction of each layer
 * kept), the initialisation of the fixed weights, `binarize`, and the learning-rate schedule
 * (`schedule: 'cosine'`, the papers' choice, or the step schedule of `milestones`).
 * Outputs: the mask (the top k% by |score| of each layer), the fixed weights (`weights`:
 * bitwise their initialisation), the subnetwork's effective weights (`subnetwork`: w * m, or
 * alpha * sign(w) * m), the final scores and the validation curve; metrics: test accuracy of the
 * subnetwork (with binarized weights when `binarize`), densities, and the binary scales.
 */
import { z } from 'zod';
import { defineStage } from '../engine/index.js';
import { createModel } from '../nn/models/index.js';
import { cosineSchedule, makeSchedule } from '../nn/schedule.js';
import { evaluate } from '../nn/train.js';
import { budgetOf, checkpointMeta, loadStageData, stageBackend, trainConfigShape, trainOptionsOf, writeCheckpoint, writeMask } from './config.js';
import { densityOf } from './masks.js';
import { effectiveWeights, initialScores, searchSupermask, SUPERMASK_INITS, supermaskWeights } from './supermask.js';

export const edgePopupParams = z.object({
  ...trainConfigShape,
  /** k: the fraction of each layer's weights the subnetwork keeps. */
  density: z.number().gt(0).max(1),
  /** Multi-prize ticket: binary weights alpha * sign(w) (Diffenderfer & Kailkhura 2021). */
  binarize: z.boolean().default(false),
  /** The fixed weights: signed Kaiming constant (the paper's best) or Kaiming normal. */
  init: z.enum(SUPERMASK_INITS).default('signed-constant'),
  /** Scale the initialisation's fan-in by k (the paper's "scaled" variants). */
  scaleFan: z.boolean().default(false),
  /** Seed of the fixed weights and of the initial scores. */
  initSeed: z.number().int().nonnegative().default(0),
  /** Learning-rate schedule of the scores: cosine annealing (the papers'), or `milestones`/`gamma` steps. */
  schedule: z.enum(['cosine', 'step']).default('cosine'),
});
export type EdgePopupParams = z.output<typeof edgePopupParams>;

export const edgePopup = defineStage<typeof edgePopupParams, 'files', string>({
  name: 'edge-popup',
  description: 'a strong lottery ticket: train scores on fixed random weights (edge-popup; multi-prize with binarize)',
  params: edgePopupParams,
  inputs: ['files'],
  outputs: ['mask', 'weights', 'subnetwork', 'scores', 'curve'],
  resources: { cpu: 1 },
  async run(ctx) {
    const p = ctx.params;
    const backend = await stageBackend(ctx);
    const data = await loadStageData(ctx, p);
    const model = createModel(p.model, { seed: p.initSeed, dropout: p.dropout });
    const weights = supermaskWeights(model, p.initSeed, p.init, { scaleFan: p.scaleFan, density: p.density });
    // Every |w| of a signed constant layer is the same: binarizing it changes nothing.
    if (p.binarize && p.init === 'signed-constant') ctx.log('binarize with signed-constant weights: alpha * sign(w) = w, the same search as edge-popup (use init kaiming-normal)');
    const base = trainOptionsOf(p, model, data, ctx);
    const budget = budgetOf(p, data);
    const itersPerEpoch = Math.floor(data.size('train') / p.batchSize);
    const schedule = p.schedule === 'cosine' ? cosineSchedule({ lr: p.lr, warmup: p.warmup }, budget, itersPerEpoch) : makeSchedule(base.schedule, itersPerEpoch);
    const result = await searchSupermask({
      model,
      data,
      weights,
      scores: initialScores(model, p.initSeed),
      density: p.density,
      binarize: p.binarize,
      batchSize: p.batchSize,
      budget,
      optimizer: base.optimizer,
      schedule,
      dataSeed: p.dataSeed,
      ...(base.augment !== undefined ? { augment: base.augment } : {}),
      evalEvery: p.evalEvery,
      evalBatchSize: p.evalBatchSize,
      progressEvery: 10,
      onProgress: (q) => ctx.progress({ fraction: budget ? q.iteration / budget : 1, message: `it ${q.iteration}/${budget} loss ${q.loss.toFixed(4)}` }),
    });
    const { weights: sub, alphas } = effectiveWeights(result.weights, result.mask, p.binarize);
    const meta = checkpointMeta(p, { initSeed: p.initSeed, backend: backend.name, density: p.density, binarize: String(p.binarize) });
    const ck = (w: typeof sub) => ({ iteration: 0, weights: w, optimizer: {}, curve: [], pendingLoss: [0, 0] as [number, number] });
    await writeMask(ctx.output('mask'), result.mask, { model: p.model, method: p.binarize ? 'multi-prize' : 'edge-popup' });
    await writeCheckpoint(ctx.output('weights'), ck(weights), meta);
    await writeCheckpoint(ctx.output('subnetwork'), ck(sub), meta);
    // The scores as a float "mask" file would lose them: stored as a checkpoint of the prunable tensors.
    const scoreMap = Object.fromEntries(model.prunable.map((n) => [n, { shape: [...weights[n]!.shape], data: result.scores[n]! }]));
    await writeCheckpoint(ctx.output('scores'), ck(scoreMap), meta);
    await ctx.writeJson('curve', result.curve);
    const test = await evaluate(model, sub, data, 'test', { batchSize: p.evalBatchSize });
    const d = densityOf(result.mask);
    const last = result.curve[result.curve.length - 1];
    return {
      testAccuracy: test.accuracy,
      testLoss: test.loss,
      density: d.overall,
      layerDensity: d.layers,
      k: p.density,
      binarize: p.binarize,
      ...(p.binarize ? { alphas } : {}),
      valAccuracy: last?.valAccuracy ?? null,
      finalTrainLoss: result.finalTrainLoss,
      iterations: budget,
    };
  },
});
