/**
 * replay-dense: the dense run's weights at an iteration k that was not stored, obtained by
 * resuming the dense run from its nearest earlier checkpoint and stopping at k. The trainer's
 * randomness is a pure function of (dataSeed, iteration) and a checkpoint carries the optimizer
 * state, so the result is bitwise the checkpoint an uninterrupted run would have stored at k (same
 * backend). A stage of its own: cached per k, and the dense trunk is never retrained.
 */
import { z } from 'zod';
import { defineStage } from '../engine/index.js';
import { PipelineError } from '../errors.js';
import { createModel } from '../nn/models/index.js';
import { train } from '../nn/train.js';
import { budgetOf, checkpointMeta, loadStageData, readModelCheckpoint, stageBackend, trainConfigShape, trainOptionsOf, writeCheckpoint } from './config.js';

export const replayParams = z.object({
  ...trainConfigShape,
  initSeed: z.number().int().nonnegative().default(0),
  /** The iteration to stop at. */
  iteration: z.number().int().nonnegative(),
});

export const replayDense = defineStage({
  name: 'replay-dense',
  description: 'resume the dense run from a stored checkpoint up to iteration k',
  params: replayParams,
  inputs: ['from', 'files'],
  outputs: ['checkpoint'],
  resources: { cpu: 1 },
  async run(ctx) {
    const p = ctx.params;
    const where = `stage ${ctx.id}`;
    const backend = await stageBackend(ctx);
    const from = await readModelCheckpoint(ctx.input('from'), p.model, where);
    if (from.metadata.dataSeed !== undefined && from.metadata.dataSeed !== String(p.dataSeed)) {
      throw new PipelineError('PARAM_INVALID', `the checkpoint was trained with dataSeed ${from.metadata.dataSeed}, not ${p.dataSeed}: replaying would not reproduce the run`, { where });
    }
    if (from.iteration > p.iteration) {
      throw new PipelineError('PARAM_INVALID', `cannot replay to iteration ${p.iteration} from a checkpoint at ${from.iteration}`, { where, hint: 'start from a checkpoint at or before k' });
    }
    const data = await loadStageData(ctx, p);
    const budget = budgetOf(p, data);
    if (p.iteration > budget) {
      throw new PipelineError('PARAM_INVALID', `iteration ${p.iteration} is past the dense run's ${budget} iterations`, { where });
    }
    const model = createModel(p.model, { seed: p.initSeed, dropout: p.dropout });
    // Training stops at k: the learning rate and data order depend on the iteration, not on the budget.
    const result = await train({ ...trainOptionsOf(p, model, data, ctx), evalEvery: 0, budget: p.iteration, weights: from.weights, resume: from });
    await writeCheckpoint(ctx.output('checkpoint'), { ...result, curve: from.curve.filter((c) => c.iteration <= p.iteration) }, checkpointMeta(p, { initSeed: p.initSeed, backend: backend.name }));
    return { iteration: p.iteration, from: from.iteration, replayed: p.iteration - from.iteration };
  },
});
