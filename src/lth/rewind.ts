/**
 * rewind: the starting point of a ticket's retraining, as a checkpoint at iteration k with empty
 * optimizer state (the trainer resumes its schedule and data order at k):
 * - mode 'weights' (default): the mask applied to the dense run's weights at iteration k
 *   (k = 0: the original lottery-ticket hypothesis; k > 0: late resetting / rewinding);
 * - mode 'reinit': the mask applied to a fresh initialisation with another seed (the
 *   random-reinitialisation baseline);
 * - mode 'lr': learning-rate rewinding (Renda et al. 2020): the mask applied to the given trained
 *   weights, the schedule replayed from k.
 */
import { z } from 'zod';
import { defineStage } from '../engine/index.js';
import { PipelineError } from '../errors.js';
import { createModel } from '../nn/models/index.js';
import { derivedMeta, modelNameSchema, readMask, readModelCheckpoint, writeCheckpoint } from './config.js';
import { applyMask, completeMask, densityOf, layerInfoOf } from './masks.js';

export const rewindParams = z.object({
  model: modelNameSchema,
  mode: z.enum(['weights', 'reinit', 'lr']).default('weights'),
  /** k: the iteration training resumes at. */
  iteration: z.number().int().nonnegative(),
  /** Initialisation seed of mode 'reinit'. */
  seed: z.number().int().nonnegative().default(1),
});

export const rewind = defineStage({
  name: 'rewind',
  description: 'apply a mask to the weights at iteration k (or to a fresh initialisation)',
  params: rewindParams,
  // weights: the dense run's checkpoint at k ('weights'), any checkpoint of the model ('reinit': only
  // its metadata is checked), the trained weights to keep ('lr').
  inputs: ['weights', 'mask'],
  outputs: ['checkpoint'],
  // Plain data work: in the scheduler's process (no process start-up).
  isolation: 'inline',
  async run(ctx) {
    const p = ctx.params;
    const where = `stage ${ctx.id}`;
    const model = createModel(p.model);
    const info = layerInfoOf(model);
    const ck = await readModelCheckpoint(ctx.input('weights'), p.model, where);
    const mask = completeMask(info, await readMask(ctx.input('mask')), where);
    if (p.mode === 'weights' && ck.iteration !== p.iteration) {
      throw new PipelineError('PARAM_INVALID', `rewinding to iteration ${p.iteration}, but the checkpoint is at iteration ${ck.iteration}`, {
        where,
        hint: 'bind the dense run\'s checkpoint at k (weightsAt(p, dense, k) replays one that was not stored)',
      });
    }
    const source = p.mode === 'reinit' ? model.init(p.seed) : ck.weights;
    const weights = applyMask(source, mask);
    const meta = derivedMeta(ck.metadata, { rewind: p.mode, startIteration: String(p.iteration) });
    if (p.mode === 'reinit') meta.initSeed = String(p.seed);
    await writeCheckpoint(ctx.output('checkpoint'), { iteration: p.iteration, weights, optimizer: {}, curve: [], pendingLoss: [0, 0] }, meta);
    return { iteration: p.iteration, mode: p.mode, density: densityOf(mask).overall };
  },
});
