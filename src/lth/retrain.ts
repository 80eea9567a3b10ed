/**
 * retrain: trains the masked network from a rewound checkpoint at iteration k to the end of the
 * budget; the schedule and the data order resume at k. Outputs like train-dense (final weights,
 * curve) and metrics: test accuracy, early-stopping iteration, density.
 *
 * Ticket transfer (Morcos et al. 2019): the start may come from a run on another dataset (same
 * input shape and classes) or with another optimizer; the ticket is then its mask and rewind
 * weights only, trained on this stage's data with this stage's optimizer from a fresh optimizer
 * state. The source's dataset and optimizer are recorded (metrics `startDataset`,
 * `startOptimizer`, and the final checkpoint's metadata).
 */
import { defineStage } from '../engine/index.js';
import { createModel } from '../nn/models/index.js';
import { PipelineError } from '../errors.js';
import { evaluate, train } from '../nn/train.js';
import { earlyStopMetrics } from './early-stop.js';
import { checkpointMeta, grokkingMetricsOf, loadStageData, readMask, readModelCheckpoint, stageBackend, trainConfigSchema, trainOptionsOf, writeCheckpoint } from './config.js';
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
    // Checkpoints written before the optimizer was recorded say nothing: taken as this stage's.
    const startDataset = start.metadata.dataset ?? p.dataset;
    const startOptimizer = start.metadata.optimizer ?? p.optimizer;
    if ((startDataset !== p.dataset || startOptimizer !== p.optimizer) && Object.keys(start.optimizer).length > 0) {
      throw new PipelineError('PARAM_INVALID', `the start checkpoint carries ${startOptimizer} state of a run on ${startDataset}: a ticket transferred to ${p.optimizer} on ${p.dataset} starts from its rewind weights only, with a fresh optimizer state`, {
        where,
        hint: 'bind the checkpoint of a rewind stage (it keeps the weights and drops the optimizer state)',
      });
    }
    const data = await loadStageData(ctx, p);
    const model = createModel(p.model, { dropout: p.dropout });
    const mask = completeMask(layerInfoOf(model), await readMask(ctx.input('mask')), where);
    const result = await train({ ...trainOptionsOf(p, model, data, ctx), weights: start.weights, mask, resume: start });
    const meta = checkpointMeta(p, { backend: backend.name, startIteration: start.iteration, rewind: start.metadata.rewind ?? 'weights', startDataset, startOptimizer });
    await writeCheckpoint(ctx.output('final'), result, meta);
    await ctx.writeJson('curve', result.curve);
    const test = await evaluate(model, result.weights, data, 'test', { batchSize: p.evalBatchSize });
    const density = densityOf(mask);
    return {
      testAccuracy: test.accuracy,
      density: density.overall,
      ...(await earlyStopMetrics(model, result, data, p.evalBatchSize)),
      ...grokkingMetricsOf(p, result.curve),
      startIteration: start.iteration,
      startDataset,
      startOptimizer,
      iterations: result.iteration,
      testLoss: test.loss,
      rewind: start.metadata.rewind ?? 'weights',
      layers: density.layers,
    };
  },
});
