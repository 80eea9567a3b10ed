/**
 * Early-Bird tickets (You et al. 2020, "Drawing Early-Bird Tickets: Towards More Efficient
 * Training of Deep Networks", ICLR 2020).
 *
 * The definition (Sec. 3.3 and Algorithm 1 of the paper):
 * - at every evaluation point t of the dense run, the mask m_t that pruning would draw from the
 *   current weights at the target density: `granularity: 'weights'`, magnitude pruning of the
 *   prunable weights (layerwise or global, one shot); `'channels'` (the paper's, and the default
 *   for a model with batch norm), the batch-norm channels whose |gamma| is among the largest
 *   (network slimming, one threshold over all batch-norm layers: src/lth/channel-masks.ts), the
 *   dense run trained with the L1 penalty on the scales (`bnL1`, 1e-4 by default: the authors' EB
 *   search scripts, scripts/standard-train/search.sh, pass `--sparsity-regularization` with the
 *   default `--s 0.0001` of main.py l. 24-27, applied as `updateBN`, main.py l. 234-237, 276-277);
 * - the mask distance between two masks is their Hamming distance normalized by the number of
 *   mask entries (`maskDistance`; for channels: over all batch-norm channels, main.py l. 358):
 *   0 = the same subnetwork, 1 = complementary ones;
 * - Algorithm 1 keeps a FIFO queue Q of the last l = 5 distances between consecutive masks
 *   (d_t = dist(m_prev, m_t)); the early-bird iteration t* is the first t at which Q is full and
 *   max(Q) < epsilon (epsilon = 0.1 in the paper); the EB ticket is m_t* applied to the weights at
 *   t* ("Return f(x; m_t* ⊙ W)").
 *   (The authors' code, RICE-EIC/Early-Bird-Tickets main.py l. 353-372, compares the newest of the
 *   last 5 masks with each of the 4 older ones and accepts <= 0.1; we follow the paper's Algorithm 1.)
 *
 * Two stages, so that the expensive part is computed once for every epsilon:
 * - `early-bird-track` trains the dense network from its initialisation and records the
 *   distance sequence per target density; it stops early, as soon as every density satisfies the
 *   criterion at `stopEpsilon` (or at the dense budget). Epsilon is not in its key. It stores the
 *   weights only at the evaluation points that can be an EB point for some epsilon: the points
 *   where max(Q) reaches a new strict minimum (the EB iteration of epsilon is the first t with
 *   max(Q_t) < epsilon, and such a t is always such a record), so any epsilon >= stopEpsilon is
 *   answered from its outputs.
 * - `early-bird-ticket` (plain data, no training) picks t* for its `epsilon` from the recorded
 *   sequence and writes the ticket: the mask m_t* and the start checkpoint, the mask applied to
 *   the weights at t* (schedule and data order resume at t*: the paper's EB Train "continues to
 *   train merely the EB ticket", Sec. 4), with `rewind: 'init'` to the weights at iteration 0
 *   (lottery-ticket style; training restarts at 0), with 'reinit' to a fresh initialisation
 *   resuming at t* (the authors' retraining script). The `retrain` stage trains it. A channel
 *   ticket's mask also holds the batch-norm scales and shifts (pruned channels: 0), which the
 *   masked training keeps at exactly zero.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { defineStage } from '../engine/index.js';
import { PipelineError } from '../errors.js';
import { createModel, type Model } from '../nn/models/index.js';
import { decodeSafetensors, encodeWeights } from '../nn/safetensors.js';
import type { WeightMap } from '../nn/tensormap.js';
import { train } from '../nn/train.js';
import { budgetOf, checkpointMeta, loadStageData, modelNameSchema, readModelCheckpoint, stageBackend, trainConfigShape, trainOptionsOf, writeCheckpoint, writeMask } from './config.js';
import { writeFileAtomic } from './fsutil.js';
import { channelDensity, channelLayersOf, defaultGranularity, GRANULARITIES } from './channel-masks.js';
import { EarlyBirdTracker, earlyBirdIndex, EB_EPSILON, EB_WINDOW, maskRule, queueMaxima, resolveTracking, ticketMask, type DistancePoint } from './early-bird-definition.js';
import type { Granularity } from './channel-masks.js';
import { applyMask, completeMask, densityOf, layerInfoOf, type PruneScope } from './masks.js';

export * from './early-bird-definition.js';
/** Stage ids the `early-bird` pipeline gives (the report finds the stages by them). */
export { EARLY_BIRD_IDS } from './stage-ids.js';

// ---- stage: early-bird-track --------------------------------------------------------------

const openFraction = z.number().gt(0).lt(1);

export const earlyBirdTrackParams = z
  .object({
    ...trainConfigShape,
    /** Initialisation seed of the dense network. */
    initSeed: z.number().int().nonnegative().default(0),
    /**
     * What the masks are drawn over: 'weights' (magnitude pruning of the prunable weights) or
     * 'channels' (batch-norm channels by |gamma|: only for a model with batch norm). Default:
     * 'channels' for a model with batch norm (as the paper), else 'weights'.
     */
    granularity: z.enum(GRANULARITIES).optional(),
    /** Target densities (fraction of the prunable weights, or of the batch-norm channels, that remain), tracked in one run. */
    densities: z.array(openFraction).min(1),
    /**
     * Pruning per layer (each layer at the density) or global (one threshold). Default: layerwise
     * for weights, global for channels (the authors' one threshold over all batch-norm layers).
     */
    scope: z.enum(['layerwise', 'global']).optional(),
    /**
     * Channels: the L1 penalty lambda on the batch-norm scales during the dense run (lambda *
     * sign(gamma) added to their gradients; default 1e-4, the authors' EB search). Weights: none.
     */
    bnL1: z.number().nonnegative().optional(),
    /** Algorithm 1's queue length l. */
    window: z.number().int().positive().default(EB_WINDOW),
    /**
     * Training stops once max(Q) < stopEpsilon for every density (else at the budget). Any
     * early-bird-ticket epsilon >= stopEpsilon is answered from this run; a smaller one may not be.
     */
    stopEpsilon: z.number().gt(0).max(1).default(EB_EPSILON),
  })
  .superRefine((p, ctx) => {
    if (p.granularity === undefined && p.bnL1 === undefined) return;
    let model: Model;
    try {
      model = createModel(p.model);
    } catch {
      return; // an unknown model is the model param's own issue
    }
    const granularity = p.granularity ?? defaultGranularity(model);
    if (granularity === 'channels' && channelLayersOf(model).length === 0) {
      ctx.addIssue({ code: 'custom', path: ['granularity'], message: `model ${p.model} has no batch norm: 'channels' prunes channels by batch-norm scale; use 'weights'` });
    }
    if (granularity === 'weights' && p.bnL1) {
      ctx.addIssue({ code: 'custom', path: ['bnL1'], message: `the L1 penalty on batch-norm scales belongs to granularity 'channels' (the masks here are drawn over the weights)` });
    }
  });
export type EarlyBirdTrackParams = z.output<typeof earlyBirdTrackParams>;

/** What `early-bird-track` writes as `distances` (and `early-bird-ticket` reads). */
export interface EarlyBirdRecord {
  /** Absent in records made before channel pruning: 'weights'. */
  granularity?: Granularity;
  scope: PruneScope;
  /** The L1 penalty on batch-norm scales of the tracked run (0: none). */
  bnL1?: number;
  window: number;
  stopEpsilon: number;
  budget: number;
  /** The last iteration trained: < budget when the run stopped early. */
  stoppedAt: number;
  /** Per density: the distance sequence (its first point is the second evaluation point). */
  tracks: Array<{ density: number; distances: DistancePoint[] }>;
  /** Iterations whose weights are in the `weights` output. */
  stored: number[];
}

const WEIGHTS_FORMAT = 'lth-early-bird-weights';

/** Weights at several iterations in one safetensors file: tensors `<iteration>/<name>`. */
function encodeWeightsAt(byIteration: ReadonlyMap<number, WeightMap>, metadata: Record<string, string>): Uint8Array {
  const all: WeightMap = {};
  for (const [it, w] of byIteration) for (const [n, t] of Object.entries(w)) all[`${it}/${n}`] = t;
  return encodeWeights(all, { ...metadata, format: WEIGHTS_FORMAT, iterations: JSON.stringify([...byIteration.keys()]) });
}

async function readWeightsAt(path: string, iteration: number, where: string): Promise<{ weights: WeightMap; metadata: Record<string, string> }> {
  const f = decodeSafetensors(new Uint8Array(await readFile(path)), path);
  if (f.metadata.format !== WEIGHTS_FORMAT) throw new PipelineError('PARAM_INVALID', `${path} is not an early-bird weights file`, { where });
  const prefix = `${iteration}/`;
  const weights: WeightMap = {};
  for (const [k, v] of Object.entries(f.tensors)) {
    if (k.startsWith(prefix)) weights[k.slice(prefix.length)] = { shape: v.shape, data: v.data as Float32Array };
  }
  if (Object.keys(weights).length === 0) throw new PipelineError('INTERNAL', `no weights stored at iteration ${iteration}`, { where });
  return { weights, metadata: f.metadata };
}

export const earlyBirdTrack = defineStage<typeof earlyBirdTrackParams, 'files', string>({
  name: 'early-bird-track',
  description: 'dense training that records the Early-Bird mask distances per density and stops once they settle',
  params: earlyBirdTrackParams,
  inputs: ['files'],
  outputs: ['distances', 'weights', 'init', 'curve'],
  resources: { cpu: 1 },
  async run(ctx) {
    const params = ctx.params;
    const where = `stage ${ctx.id}`;
    if (params.evalEvery === 0) throw new PipelineError('PARAM_INVALID', 'early-bird-track draws masks at the evaluation points: evalEvery must be > 0', { where });
    const backend = await stageBackend(ctx);
    const data = await loadStageData(ctx, params);
    const model = createModel(params.model, { seed: params.initSeed, dropout: params.dropout });
    const { granularity, scope, bnL1 } = resolveTracking(model, params);
    // The training config with the penalty resolved (trainOptionsOf passes it to the trainer).
    const p = { ...params, bnL1 };
    const meta = checkpointMeta(p, { initSeed: p.initSeed, backend: backend.name });
    const tracker = new EarlyBirdTracker(maskRule(model, granularity, scope), p.densities, p.window);
    const stored = new Map<number, WeightMap>();
    const init = model.init();
    await writeCheckpoint(ctx.output('init'), { iteration: 0, weights: init, optimizer: {}, curve: [], pendingLoss: [0, 0] }, meta);
    const result = await train({
      ...trainOptionsOf(p, model, data, ctx),
      weights: init,
      onEvalPoint: ({ iteration, weights }) => {
        const { record, maxima } = tracker.observe(iteration, weights);
        if (record) stored.set(iteration, weights);
        return maxima.every((m) => m !== undefined && m < p.stopEpsilon);
      },
    });
    const budget = budgetOf(p, data);
    const record: EarlyBirdRecord = {
      granularity,
      scope,
      bnL1,
      window: p.window,
      stopEpsilon: p.stopEpsilon,
      budget,
      stoppedAt: result.iteration,
      tracks: p.densities.map((density, j) => ({ density, distances: tracker.distances[j]! })),
      stored: [...stored.keys()],
    };
    await ctx.writeJson('distances', record);
    await writeFileAtomic(ctx.output('weights'), encodeWeightsAt(stored, meta));
    await ctx.writeJson('curve', result.curve);
    return {
      granularity,
      stoppedAt: result.iteration,
      budget,
      stoppedEarly: result.iteration < budget,
      evalPoints: result.curve.length,
      stored: stored.size,
    };
  },
});

// ---- stage: early-bird-ticket -------------------------------------------------------------

export const earlyBirdTicketParams = z.object({
  model: modelNameSchema,
  /** One of the tracked densities (the granularity is the tracking stage's). */
  density: openFraction,
  /** Algorithm 1's threshold on max(Q). */
  epsilon: z.number().gt(0).max(1).default(EB_EPSILON),
  /**
   * 'early-bird': the weights at t* (training resumes at t*: EB Train, Sec. 4); 'init': the
   * weights at iteration 0 (training restarts at 0); 'reinit': a fresh initialisation (`seed`),
   * training resuming at t* (what the authors' retrain_continue script does: main_c.py builds the
   * pruned network anew, with new random weights, and trains from the EB epoch on).
   */
  rewind: z.enum(['early-bird', 'init', 'reinit']).default('early-bird'),
  /** Initialisation seed of rewind 'reinit'. */
  seed: z.number().int().nonnegative().default(1),
});

export const earlyBirdTicket = defineStage({
  name: 'early-bird-ticket',
  description: 'the Early-Bird ticket at epsilon, from a tracked dense run: mask and start checkpoint',
  params: earlyBirdTicketParams,
  // distances, weights, init: the outputs of early-bird-track.
  inputs: ['distances', 'weights', 'init'],
  outputs: ['mask', 'start', 'distances', 'eb-point'],
  // Plain data work: in the scheduler's process.
  isolation: 'inline',
  async run(ctx) {
    const p = ctx.params;
    const where = `stage ${ctx.id}`;
    const rec = JSON.parse(await readFile(ctx.input('distances'), 'utf8')) as EarlyBirdRecord;
    const track = rec.tracks.find((t) => t.density === p.density);
    if (!track) {
      throw new PipelineError('PARAM_INVALID', `density ${p.density} was not tracked`, { where, hint: `tracked: ${rec.tracks.map((t) => t.density).join(', ')}` });
    }
    const seq = track.distances.map((d) => d.distance);
    const maxima = queueMaxima(seq, rec.window);
    const i = earlyBirdIndex(seq, p.epsilon, rec.window);
    if (i === undefined) {
      const stoppedEarly = rec.stoppedAt < rec.budget;
      throw new PipelineError('PARAM_INVALID', `no early-bird point at epsilon ${p.epsilon} for density ${p.density} in the tracked run (${stoppedEarly ? `stopped at iteration ${rec.stoppedAt}, where every density had max(Q) < ${rec.stopEpsilon}` : `the whole budget of ${rec.budget} iterations`})`, {
        where,
        hint: stoppedEarly ? `give early-bird-track a stopEpsilon <= ${p.epsilon}` : 'a larger epsilon, or a longer dense budget',
      });
    }
    const eb = track.distances[i]!;
    const model = createModel(p.model);
    const granularity = rec.granularity ?? 'weights';
    const init = await readModelCheckpoint(ctx.input('init'), p.model, where);
    const { weights } = await readWeightsAt(ctx.input('weights'), eb.iteration, where);
    // Completed: every prunable kernel (channels: the unpruned ones all ones) and, for channels, the scales and shifts.
    const mask = completeMask(layerInfoOf(model), ticketMask(model, granularity, rec.scope, weights, p.density), where);
    const startIteration = p.rewind === 'init' ? 0 : eb.iteration;
    const source = p.rewind === 'init' ? init.weights : p.rewind === 'reinit' ? model.init(p.seed) : weights;
    const meta: Record<string, string> = { ...init.metadata, rewind: p.rewind, startIteration: String(startIteration), earlyBirdIteration: String(eb.iteration) };
    if (p.rewind === 'reinit') meta.initSeed = String(p.seed);
    for (const k of ['format', 'iteration', 'curve', 'pending_loss']) delete meta[k];
    await writeMask(ctx.output('mask'), mask, { model: p.model, method: 'early-bird', scope: rec.scope, granularity });
    await writeCheckpoint(
      ctx.output('start'),
      { iteration: startIteration, weights: applyMask(source, mask), optimizer: {}, curve: [], pendingLoss: [0, 0] },
      meta,
    );
    await ctx.writeJson('distances', track.distances.map((d, j) => ({ ...d, queueMax: maxima[j] ?? null })));
    await ctx.writeJson('eb-point', [eb]);
    const d = densityOf(mask);
    const channels = granularity === 'channels' ? channelDensity(Object.fromEntries(channelLayersOf(model).map((l) => [l.gamma, mask[l.gamma]!]))) : undefined;
    return {
      granularity,
      ...(channels ? { channelDensity: channels.density, channelsKept: channels.kept, channels: channels.total } : {}),
      earlyBirdIteration: eb.iteration,
      // Training iterations spent to find the ticket (the dense run up to t*).
      iterationsToFind: eb.iteration,
      // d at t* (the last distance in the queue) and max(Q) there (< epsilon).
      distanceAtEarlyBird: eb.distance,
      maxDistance: maxima[i]!,
      epsilon: p.epsilon,
      density: d.overall,
      remaining: d.remaining,
      startIteration,
      rewind: p.rewind,
      trackedUntil: rec.stoppedAt,
      layers: d.layers,
    };
  },
});
