/**
 * train-dense: trains the dense network and stores what the lottery-ticket experiments need from
 * it: the weights at iteration 0 and at every rewind candidate (full checkpoints: weights, optimizer
 * state, curve; the data order is a pure function of (dataSeed, iteration)), the final weights, the
 * validation curve, the early-stopping iteration and the test accuracy.
 */
import { z } from 'zod';
import { defineStage } from '../engine/index.js';
import { createModel } from '../nn/models/index.js';
import { evaluate, train } from '../nn/train.js';
import { earlyStopMetrics } from './early-stop.js';
import { fixedIterations } from '../nn/schedule.js';
import { checkpointMeta, grokkingMetricsOf, loadStageData, stageBackend, trainConfigShape, trainOptionsOf, writeCheckpoint } from './config.js';

/** Rewind candidates stored when the pipeline gives none (those within the budget). */
export const DEFAULT_REWIND_CANDIDATES = [0, 100, 200, 500, 1000, 2000, 5000, 10000] as const;

export const trainDenseParams = z.object({
  ...trainConfigShape,
  /** Initialisation seed. */
  initSeed: z.number().int().nonnegative().default(0),
  /** Iterations whose checkpoints are stored (0 is always stored); default: the candidates within the budget. */
  checkpoints: z.array(z.number().int().nonnegative()).optional(),
});
export type TrainDenseParams = z.output<typeof trainDenseParams>;

/** Output name of the checkpoint at iteration k. */
export function checkpointName(k: number): string {
  return `ck-${k}`;
}

/** The stored checkpoint iterations of a dense run, sorted, 0 included. */
export function checkpointIterations(p: { iterations: number | string; checkpoints?: readonly number[] | undefined }): number[] {
  const budget = fixedIterations(p.iterations);
  const wanted = p.checkpoints ?? DEFAULT_REWIND_CANDIDATES.filter((k) => budget === undefined || k <= budget);
  return [...new Set([0, ...wanted])].sort((a, b) => a - b);
}

export const trainDense = defineStage<typeof trainDenseParams, 'files', string>({
  name: 'train-dense',
  description: 'train the dense network; store iteration 0, the rewind candidates and the final weights',
  params: trainDenseParams,
  inputs: ['files'],
  outputs: (p) => ['final', 'curve', ...checkpointIterations(p).map(checkpointName)],
  resources: { cpu: 1 },
  async run(ctx) {
    const p = ctx.params;
    const backend = await stageBackend(ctx);
    const data = await loadStageData(ctx, p);
    const model = createModel(p.model, { seed: p.initSeed, dropout: p.dropout });
    const meta = checkpointMeta(p, { initSeed: p.initSeed, backend: backend.name });
    const ks = checkpointIterations(p);
    const result = await train({
      ...trainOptionsOf(p, model, data, ctx),
      weights: model.init(),
      checkpointAt: ks,
      onCheckpoint: (ck) => writeCheckpoint(ctx.output(checkpointName(ck.iteration)), ck, meta),
    });
    await writeCheckpoint(ctx.output('final'), result, meta);
    await ctx.writeJson('curve', result.curve);
    const test = await evaluate(model, result.weights, data, 'test', { batchSize: p.evalBatchSize });
    return {
      testAccuracy: test.accuracy,
      ...(await earlyStopMetrics(model, result, data, p.evalBatchSize)),
      ...grokkingMetricsOf(p, result.curve),
      iterations: result.iteration,
      testLoss: test.loss,
      finalTrainLoss: result.finalTrainLoss,
      checkpoints: ks,
    };
  },
});
