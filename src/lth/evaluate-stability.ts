/**
 * evaluate-stability: stability to SGD noise. From one start (the rewound weights at k), two
 * copies are trained with different data-order seeds; the test error is measured at `points`
 * evenly spaced points of the linear path between them; instability = max error on the path minus
 * the mean of the two end errors ("stable" below 2%). Also the L2 distance of the ticket (copy A)
 * to the dense solution under the mask (stability to pruning).
 *
 * Copy A is the `trained` input when given (the retrain stage's result, trained from the same
 * start with `dataSeed`), so it is not trained twice; copy B uses `dataSeedB`.
 */
import { z } from 'zod';
import { defineStage } from '../engine/index.js';
import { PipelineError } from '../errors.js';
import { createModel } from '../nn/models/index.js';
import { evaluate, train } from '../nn/train.js';
import { loadStageData, optionalInput, readCheckpoint, readMask, readModelCheckpoint, stageBackend, trainConfigShape, trainOptionsOf } from './config.js';
import { completeMask, layerInfoOf } from './masks.js';
import { l2Distance, linearPath } from './stability.js';

export const stabilityParams = z.object({
  ...trainConfigShape,
  /** Data-order seed of the second copy (default: dataSeed + 1). */
  dataSeedB: z.number().int().nonnegative().optional(),
  /** Interpolation points, ends included. */
  points: z.number().int().min(2).default(30),
  split: z.enum(['test', 'validation']).default('test'),
  stableBelow: z.number().positive().default(0.02),
});

export const evaluateStability = defineStage({
  name: 'evaluate-stability',
  description: 'instability (error barrier between two copies trained with different data orders) and distance to the dense solution',
  params: stabilityParams,
  // start: the rewound checkpoint; mask; data; trained: [] or copy A; dense: [] or the dense final weights.
  inputs: ['start', 'mask', 'files', 'trained', 'dense'],
  outputs: ['path'],
  resources: { cpu: 1 },
  async run(ctx) {
    const p = ctx.params;
    const where = `stage ${ctx.id}`;
    await stageBackend(ctx);
    const start = await readModelCheckpoint(ctx.input('start'), p.model, where);
    const data = await loadStageData(ctx, p);
    const model = createModel(p.model, { dropout: p.dropout });
    const mask = completeMask(layerInfoOf(model), await readMask(ctx.input('mask')), where);
    const seedB = p.dataSeedB ?? p.dataSeed + 1;
    if (seedB === p.dataSeed) throw new PipelineError('PARAM_INVALID', 'the two copies need different data-order seeds', { where });
    const base = { ...trainOptionsOf(p, model, data), evalEvery: 0, weights: start.weights, mask, resume: start };
    const trainedPath = optionalInput(ctx.inputList('trained'), 'trained', where);
    let a;
    if (trainedPath) {
      const t = await readCheckpoint(trainedPath);
      if (t.metadata.dataSeed !== String(p.dataSeed) || (t.metadata.startIteration !== undefined && t.metadata.startIteration !== String(start.iteration))) {
        throw new PipelineError('PARAM_INVALID', `the trained copy (dataSeed ${t.metadata.dataSeed}, from iteration ${t.metadata.startIteration}) was not trained from this start with dataSeed ${p.dataSeed}`, { where });
      }
      a = t.weights;
    } else {
      ctx.progress({ message: 'training copy A' });
      a = (await train({ ...base, dataSeed: p.dataSeed })).weights;
    }
    ctx.progress({ message: 'training copy B' });
    const b = (await train({ ...base, dataSeed: seedB, onProgress: (q) => ctx.progress({ message: `copy B it ${q.iteration}` }) })).weights;
    const path = await linearPath(a, b, async (w) => 1 - (await evaluate(model, w, data, p.split, { batchSize: p.evalBatchSize })).accuracy, {
      points: p.points,
      stableBelow: p.stableBelow,
    });
    const densePath = optionalInput(ctx.inputList('dense'), 'dense', where);
    let toDense: { distance: number; norm: number } | undefined;
    if (densePath) {
      const dense = await readCheckpoint(densePath);
      toDense = l2Distance(a, dense.weights, { names: model.prunable, mask });
    }
    const between = l2Distance(a, b, { names: model.prunable, mask });
    await ctx.writeJson('path', { alphas: path.alphas, errors: path.errors, split: p.split, startIteration: start.iteration, dataSeeds: [p.dataSeed, seedB] });
    return {
      instability: path.instability,
      stable: path.stable,
      errorA: path.errors[0]!,
      errorB: path.errors[path.errors.length - 1]!,
      maxError: Math.max(...path.errors),
      startIteration: start.iteration,
      l2ToDense: toDense ? toDense.distance : null,
      l2ToDenseRelative: toDense && toDense.norm > 0 ? toDense.distance / toDense.norm : null,
      l2BetweenCopies: between.distance,
    };
  },
});
