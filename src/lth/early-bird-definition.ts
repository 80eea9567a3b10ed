/**
 * The Early-Bird definition as plain data (You et al. 2020, Sec. 3.3 and Algorithm 1; see
 * ./early-bird.ts for the whole account and the stages): the masks drawn at each evaluation point
 * (over the weights, or over the batch-norm channels: ./channel-masks.ts), their normalized
 * Hamming distances, the FIFO queue of the last `window` distances and the EB point.
 */
import { PipelineError } from '../errors.js';
import type { Model } from '../nn/models/index.js';
import type { WeightMap } from '../nn/tensormap.js';
import { channelLayersOf, channelSelection, channelTicketMask, defaultGranularity, type Granularity } from './channel-masks.js';
import { hammingDistance, layerInfoOf, magnitudePrune, type LayerInfo, type Mask, type PruneScope } from './masks.js';

/** The paper's defaults (Sec. 3.3 / Algorithm 1): queue length l = 5, threshold epsilon = 0.1. */
export const EB_WINDOW = 5;
export const EB_EPSILON = 0.1;
/** The L1 penalty on batch-norm scales of the authors' EB search (main.py `--s`, default 1e-4, with `-sr`). */
export const EB_BN_L1 = 1e-4;

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

/** How the masks of one tracked run are drawn: the mask at `density` from the weights at an evaluation point. */
export type MaskRule = (weights: WeightMap, density: number) => Mask;

/**
 * The rule of a granularity: 'weights', `earlyBirdMask`; 'channels', the batch-norm channel
 * selection (a mask of the `<bn>.gamma` entries: its distances are over all channels).
 */
export function maskRule(model: Pick<Model, 'prunable' | 'params' | 'layerKinds'>, granularity: Granularity, scope: PruneScope): MaskRule {
  if (granularity === 'channels') {
    const layers = channelLayersOf(model);
    return (weights, density) => channelSelection(layers, weights, density, scope);
  }
  const info = layerInfoOf(model);
  return (weights, density) => earlyBirdMask(info, weights, density, scope);
}

/** The ticket's mask drawn by a rule: for channels, the selection with its producers' filters, scales and shifts. */
export function ticketMask(model: Model, granularity: Granularity, scope: PruneScope, weights: WeightMap, density: number): Mask {
  const drawn = maskRule(model, granularity, scope)(weights, density);
  return granularity === 'channels' ? channelTicketMask(channelLayersOf(model), layerInfoOf(model), drawn) : drawn;
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
    private readonly draw: MaskRule,
    readonly densities: readonly number[],
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
      const mask = this.draw(weights, density);
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

/** A tracking stage's granularity, scope and L1 penalty once the model's defaults are filled in. */
export function resolveTracking(model: Model, p: { granularity?: Granularity | undefined; scope?: PruneScope | undefined; bnL1?: number | undefined }): { granularity: Granularity; scope: PruneScope; bnL1: number } {
  const granularity = p.granularity ?? defaultGranularity(model);
  if (granularity === 'channels' && channelLayersOf(model).length === 0) {
    throw new PipelineError('PARAM_INVALID', `model ${model.name} has no batch norm: granularity 'channels' does not apply`, { where: 'early-bird-track', hint: "use granularity 'weights'" });
  }
  return { granularity, scope: p.scope ?? (granularity === 'channels' ? 'global' : 'layerwise'), bnL1: p.bnL1 ?? (granularity === 'channels' ? EB_BN_L1 : 0) };
}
