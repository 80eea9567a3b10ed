/**
 * The stages of grokking tickets (Minegishi, Iwasawa & Matsuo 2023, "Grokking Tickets: Lottery
 * Tickets Accelerate Grokking"; gouki510/Grokking-Tickets) beyond train, prune, rewind, retrain:
 * - `grokking-phase`: the dense run's stored checkpoint at a phase of its training, found from its
 *   curve: memorization (training accuracy first at the threshold), generalization (the evaluated
 *   split's accuracy first at the threshold: the "generalized solution" the ticket is pruned from),
 *   or the transition between them (their midpoint); the stored checkpoint at or before it.
 * - `norm-matched`: the dense initialisation scaled so that its L1 (or L2) norm over the prunable
 *   weights equals the ticket's (the mask on the same initialisation): the authors' control that
 *   a ticket's advantage is not its smaller weight norm (their `set_weight_ratio`, which scales
 *   every weight by one ratio).
 */
import { z } from 'zod';
import { defineStage } from '../engine/index.js';
import { PipelineError } from '../errors.js';
import { createModel } from '../nn/models/index.js';
import type { CurvePoint } from '../nn/train.js';
import { derivedMeta, modelNameSchema, readCheckpoint, readMask, readModelCheckpoint, writeCheckpoint } from './config.js';
import { DEFAULT_GROK_THRESHOLD, firstReaching } from './grokking.js';
import { completeMask, layerInfoOf } from './masks.js';
import { readFile } from 'node:fs/promises';

export const GROKKING_PHASES = ['memorization', 'transition', 'generalization'] as const;
export type GrokkingPhase = (typeof GROKKING_PHASES)[number];

/** The iteration of a phase on a curve with training accuracy; a message instead when the run never got there. */
export function phaseIteration(curve: readonly CurvePoint[], phase: GrokkingPhase, threshold: number): number | string {
  const memorized = firstReaching(curve, (c) => c.trainAccuracy, threshold);
  const generalized = firstReaching(curve, (c) => c.valAccuracy, threshold);
  if (phase !== 'generalization' && memorized === null) return `the dense run never reached ${threshold} training accuracy (or its curve has none: train it with evalTrain)`;
  if (phase !== 'memorization' && generalized === null) return `the dense run never reached ${threshold} accuracy on its evaluated split: it did not generalize (grok) within its budget`;
  if (phase === 'memorization') return memorized!;
  if (phase === 'generalization') return generalized!;
  return Math.floor((memorized! + generalized!) / 2);
}

export const grokkingPhase = defineStage({
  name: 'grokking-phase',
  description: "the dense run's checkpoint at memorization, the transition, or generalization",
  params: z.object({
    model: modelNameSchema,
    phase: z.enum(GROKKING_PHASES),
    threshold: z.number().gt(0).max(1).default(DEFAULT_GROK_THRESHOLD),
  }),
  // curve: the dense run's curve (JSON); checkpoints: its stored checkpoints (any order).
  inputs: ['curve', 'checkpoints'],
  outputs: ['checkpoint'],
  isolation: 'inline',
  async run(ctx) {
    const p = ctx.params;
    const where = `stage ${ctx.id}`;
    const curve = JSON.parse(await readFile(ctx.input('curve'), 'utf8')) as CurvePoint[];
    const target = phaseIteration(curve, p.phase, p.threshold);
    if (typeof target === 'string') {
      throw new PipelineError('STAGE_FAILED', `${p.phase}: ${target}`, { where, hint: 'train the dense network longer (iterations), or lower the threshold' });
    }
    const stored = await Promise.all(ctx.inputList('checkpoints').map(async (path) => ({ path, iteration: (await readCheckpoint(path)).iteration })));
    const before = stored.filter((s) => s.iteration <= target).sort((a, b) => b.iteration - a.iteration)[0];
    if (!before) throw new PipelineError('PARAM_INVALID', `no stored checkpoint at or before iteration ${target}`, { where, hint: 'store the dense run\'s iteration 0 (checkpoints: [0, ...])' });
    const ck = await readModelCheckpoint(before.path, p.model, where);
    await writeCheckpoint(ctx.output('checkpoint'), ck, derivedMeta(ck.metadata, { phase: p.phase }));
    return { phase: p.phase, phaseIteration: target, iteration: ck.iteration };
  },
});

/** Sum of |w| (L1) or the square root of the sum of w^2 (L2) over `names`, where `keep` (if given) is 1. */
export function weightNorm(weights: Record<string, { data: Float32Array }>, names: readonly string[], norm: 'l1' | 'l2', keep?: Record<string, { data: Uint8Array }>): number {
  let s = 0;
  for (const n of names) {
    const w = weights[n]!.data;
    const m = keep?.[n]?.data;
    for (let i = 0; i < w.length; i++) if (!m || m[i]) s += norm === 'l1' ? Math.abs(w[i]!) : w[i]! * w[i]!;
  }
  return norm === 'l1' ? s : Math.sqrt(s);
}

export const normMatched = defineStage({
  name: 'norm-matched',
  description: "the dense initialisation scaled to the ticket's L1 or L2 norm",
  params: z.object({ model: modelNameSchema, norm: z.enum(['l1', 'l2']) }),
  // weights: the initial weights (the dense run's ck-0); mask: the ticket's mask.
  inputs: ['weights', 'mask'],
  outputs: ['checkpoint'],
  isolation: 'inline',
  async run(ctx) {
    const p = ctx.params;
    const where = `stage ${ctx.id}`;
    const model = createModel(p.model);
    const ck = await readModelCheckpoint(ctx.input('weights'), p.model, where);
    const mask = completeMask(layerInfoOf(model), await readMask(ctx.input('mask')), where);
    const dense = weightNorm(ck.weights, model.prunable, p.norm);
    const ticket = weightNorm(ck.weights, model.prunable, p.norm, mask);
    const ratio = ticket / dense;
    const weights = Object.fromEntries(
      Object.entries(ck.weights).map(([n, t]) => [n, model.prunable.includes(n) ? { shape: t.shape, data: Float32Array.from(t.data, (v) => v * ratio) } : t]),
    );
    await writeCheckpoint(ctx.output('checkpoint'), { iteration: 0, weights, optimizer: {}, curve: [], pendingLoss: [0, 0] }, derivedMeta(ck.metadata, { rewind: `norm-${p.norm}` }));
    return { norm: p.norm, ratio, denseNorm: dense, ticketNorm: ticket };
  },
});
