/**
 * Early-Bird tickets (You et al. 2020, "Drawing Early-Bird Tickets: Towards More Efficient
 * Training of Deep Networks", ICLR 2020).
 *
 * The definition (Sec. 3.3 and Algorithm 1 of the paper):
 * - at every evaluation point t of the dense run, the mask m_t that pruning would draw from the
 *   current weights at the target density (here: magnitude pruning of the prunable weights,
 *   layerwise or global, one shot);
 * - the mask distance between two masks is their Hamming distance normalized by the number of
 *   mask entries (`maskDistance`): 0 = the same subnetwork, 1 = complementary ones;
 * - Algorithm 1 keeps a FIFO queue Q of the last l = 5 distances between consecutive masks
 *   (d_t = dist(m_prev, m_t)); the early-bird iteration t* is the first t at which Q is full and
 *   max(Q) < epsilon (epsilon = 0.1 in the paper); the EB ticket is m_t* applied to the weights at
 *   t* ("Return f(x; m_t* ⊙ W)").
 *   (The authors' code, GATECH-EIC/Early-Bird-Tickets main.py, compares the newest of the last 5
 *   masks with each of the 4 older ones and accepts <= 0.1; we follow the paper's Algorithm 1.)
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
 *   resuming at t* (the authors' retraining script). The `retrain` stage trains it.
 *
 * The paper's channel pruning by batch-norm scale (network slimming) is not implemented here:
 * masks are over the prunable weights (unstructured), for every model.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { defineStage } from '../engine/index.js';
import { PipelineError } from '../errors.js';
import { createModel } from '../nn/models/index.js';
import { decodeSafetensors, encodeWeights } from '../nn/safetensors.js';
import type { WeightMap } from '../nn/tensormap.js';
import { train } from '../nn/train.js';
import { budgetOf, checkpointMeta, loadStageData, modelNameSchema, readModelCheckpoint, stageBackend, trainConfigShape, trainOptionsOf, writeCheckpoint, writeMask } from './config.js';
import { writeFileAtomic } from './fsutil.js';
import { applyMask, densityOf, hammingDistance, layerInfoOf, magnitudePrune, type LayerInfo, type Mask, type PruneScope } from './masks.js';

/** Stage ids the `early-bird` pipeline gives (the report finds the stages by them). */
export { EARLY_BIRD_IDS } from './stage-ids.js';

/** The paper's defaults (Sec. 3.3 / Algorithm 1): queue length l = 5, threshold epsilon = 0.1. */
export const EB_WINDOW = 5;
export const EB_EPSILON = 0.1;

// ---- the definition, as plain data --------------------------------------------------------

/** Mask distance (Sec. 3.3): the Hamming distance of two masks over the number of their entries. */
export function maskDistance(a: Mask, b: Mask): number {
  let total = 0;
  for (const n of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const la = a[n]?.data.length;
    const lb = b[n]?.data.length;
    if (la !== lb) throw new PipelineError('INTERNAL', `masks differ in tensor '${n}' (${la ?? 'absent'} vs ${lb ?? 'absent'} entries)`, { where: 'maskDistance' });
    total += la ?? 0;
  }
  return total === 0 ? 0 : hammingDistance(a, b) / total;
}

/** The mask pruning would draw at one evaluation point: one-shot magnitude pruning to `density`. */
export function earlyBirdMask(info: LayerInfo, weights: WeightMap, density: number, scope: PruneScope): Mask {
  return magnitudePrune(info, weights, undefined, { scope, density });
}

/**
 * max(Q) after each distance of a sequence: the maximum of the last `window` distances, or
 * undefined while the queue is not full yet (Algorithm 1's FIFO queue Q of length l).
 */
export function queueMaxima(distances: readonly number[], window = EB_WINDOW): Array<number | undefined> {
  checkWindow(window);
  return distances.map((_, i) => (i + 1 < window ? undefined : Math.max(...distances.slice(i + 1 - window, i + 1))));
}

/** Algorithm 1: the index of the first distance at which the queue is full and max(Q) < epsilon; undefined: none. */
export function earlyBirdIndex(distances: readonly number[], epsilon = EB_EPSILON, window = EB_WINDOW): number | undefined {
  const i = queueMaxima(distances, window).findIndex((m) => m !== undefined && m < epsilon);
  return i < 0 ? undefined : i;
}

function checkWindow(window: number): void {
  if (!(Number.isInteger(window) && window >= 1)) throw new PipelineError('PARAM_INVALID', `the queue length must be a positive integer, got ${window}`, { where: 'early-bird' });
}

/** One tracked density: the distance d_t between the masks at the previous evaluation point and at t. */
export interface DistancePoint {
  iteration: number;
  distance: number;
}

/**
 * Tracks the mask distances of one run, evaluation point by evaluation point: per density, the
 * distance sequence, max(Q) and whether the point is a new record minimum of max(Q) (an EB point
 * for some epsilon). Plain data: the tracking stage feeds it the weights at each point.
 */
export class EarlyBirdTracker {
  private readonly prev: Array<Mask | undefined>;
  readonly distances: DistancePoint[][];
  private readonly lows: number[];

  constructor(
    private readonly info: LayerInfo,
    readonly densities: readonly number[],
    readonly scope: PruneScope,
    readonly window = EB_WINDOW,
  ) {
    checkWindow(window);
    this.prev = densities.map(() => undefined);
    this.distances = densities.map(() => []);
    this.lows = densities.map(() => Infinity);
  }

  /**
   * The masks at evaluation point `iteration`. Returns whether some density reached a new
   * minimum of max(Q) (the weights here may be an EB ticket's) and the current max(Q) per density.
   */
  observe(iteration: number, weights: WeightMap): { record: boolean; maxima: Array<number | undefined> } {
    let record = false;
    const maxima = this.densities.map((density, j) => {
      const mask = earlyBirdMask(this.info, weights, density, this.scope);
      const before = this.prev[j];
      this.prev[j] = mask;
      if (!before) return undefined;
      const seq = this.distances[j]!;
      seq.push({ iteration, distance: maskDistance(before, mask) });
      if (seq.length < this.window) return undefined;
      const m = Math.max(...seq.slice(-this.window).map((d) => d.distance));
      if (m < this.lows[j]!) {
        this.lows[j] = m;
        record = true;
      }
      return m;
    });
    return { record, maxima };
  }
}

// ---- stage: early-bird-track --------------------------------------------------------------

const openFraction = z.number().gt(0).lt(1);

export const earlyBirdTrackParams = z.object({
  ...trainConfigShape,
  /** Initialisation seed of the dense network. */
  initSeed: z.number().int().nonnegative().default(0),
  /** Target densities (fraction of the prunable weights that remain), tracked in one run. */
  densities: z.array(openFraction).min(1),
  /** Magnitude pruning per layer (each layer at the density) or global (one threshold). */
  scope: z.enum(['layerwise', 'global']).default('layerwise'),
  /** Algorithm 1's queue length l. */
  window: z.number().int().positive().default(EB_WINDOW),
  /**
   * Training stops once max(Q) < stopEpsilon for every density (else at the budget). Any
   * early-bird-ticket epsilon >= stopEpsilon is answered from this run; a smaller one may not be.
   */
  stopEpsilon: z.number().gt(0).max(1).default(EB_EPSILON),
});
export type EarlyBirdTrackParams = z.output<typeof earlyBirdTrackParams>;

/** What `early-bird-track` writes as `distances` (and `early-bird-ticket` reads). */
export interface EarlyBirdRecord {
  scope: PruneScope;
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
    const p = ctx.params;
    const where = `stage ${ctx.id}`;
    if (p.evalEvery === 0) throw new PipelineError('PARAM_INVALID', 'early-bird-track draws masks at the evaluation points: evalEvery must be > 0', { where });
    const backend = await stageBackend(ctx);
    const data = await loadStageData(ctx, p);
    const model = createModel(p.model, { seed: p.initSeed, dropout: p.dropout });
    const info = layerInfoOf(model);
    const meta = checkpointMeta(p, { initSeed: p.initSeed, backend: backend.name });
    const tracker = new EarlyBirdTracker(info, p.densities, p.scope, p.window);
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
      scope: p.scope,
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
  /** One of the tracked densities. */
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
    const info = layerInfoOf(model);
    const init = await readModelCheckpoint(ctx.input('init'), p.model, where);
    const { weights } = await readWeightsAt(ctx.input('weights'), eb.iteration, where);
    const mask = earlyBirdMask(info, weights, p.density, rec.scope);
    const startIteration = p.rewind === 'init' ? 0 : eb.iteration;
    const source = p.rewind === 'init' ? init.weights : p.rewind === 'reinit' ? model.init(p.seed) : weights;
    const meta: Record<string, string> = { ...init.metadata, rewind: p.rewind, startIteration: String(startIteration), earlyBirdIteration: String(eb.iteration) };
    if (p.rewind === 'reinit') meta.initSeed = String(p.seed);
    for (const k of ['format', 'iteration', 'curve', 'pending_loss']) delete meta[k];
    await writeMask(ctx.output('mask'), mask, { model: p.model, method: 'early-bird', scope: rec.scope });
    await writeCheckpoint(
      ctx.output('start'),
      { iteration: startIteration, weights: applyMask(source, mask), optimizer: {}, curve: [], pendingLoss: [0, 0] },
      meta,
    );
    await ctx.writeJson('distances', track.distances.map((d, j) => ({ ...d, queueMax: maxima[j] ?? null })));
    await ctx.writeJson('eb-point', [eb]);
    const d = densityOf(mask);
    return {
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
