/**
 * retrain: trains the masked network from a rewound checkpoint at iteration k to the end of the
 * budget; the schedule and the data order resume at k. Outputs like train-dense (final weights,
 * curve) and metrics: test accuracy, early-stopping iteration, density.
 */
import { defineStage } from '../engine/index.js';
import { createModel } from '../nn/models/index.js';
import { evaluate, train } from '../nn/train.js';
import { checkpointMeta, loadStageData, readMask, readModelCheckpoint, stageBackend, trainConfigSchema, trainOptionsOf, writeCheckpoint } from './config.js';
import { completeMask, densityOf, layerInfoOf } from './masks.js';

export const retrain = defineStage({
  name: 'retrain',
  description: 'train a masked network from rewound weights (the schedule resumes at k)',
  params: trainConfigSchema,
  inputs: ['start', 'mask', 'files'],
  outputs: ['final', 'curve'],
  resources: { cpu: 1 },
  async run(ctx) {
    const p = ctx.params;
    const where = `stage ${ctx.id}`;
    const backend = await stageBackend(ctx);
    const start = await readModelCheckpoint(ctx.input('start'), p.model, where);
    const data = await loadStageData(ctx, p);
    const model = createModel(p.model, { dropout: p.dropout });
    const mask = completeMask(layerInfoOf(model), await readMask(ctx.input('mask')), where);
    const result = await train({ ...trainOptionsOf(p, model, data, ctx), weights: start.weights, mask, resume: start });
    const meta = checkpointMeta(p, { backend: backend.name, startIteration: start.iteration, rewind: start.metadata.rewind ?? 'weights' });
    await writeCheckpoint(ctx.output('final'), result, meta);
    await ctx.writeJson('curve', result.curve);
    const test = await evaluate(model, result.weights, data, 'test', { batchSize: p.evalBatchSize });
    const best = result.curve.find((c) => c.iteration === result.earlyStopIteration);
    const density = densityOf(mask);
    return {
      testAccuracy: test.accuracy,
      density: density.overall,
      earlyStopIteration: result.earlyStopIteration ?? null,
      valAccuracyAtEarlyStop: best?.valAccuracy ?? null,
      startIteration: start.iteration,
      iterations: result.iteration,
      testLoss: test.loss,
      rewind: start.metadata.rewind ?? 'weights',
      layers: density.layers,
    };
  },
});
