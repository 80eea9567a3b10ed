/**
 * Channel pruning by batch-norm scale (network slimming, Liu et al. 2017), as You et al. (2020)
 * draw their Early-Bird tickets, expressed as the project's masks.
 *
 * What the authors' code does (github.com/RICE-EIC/Early-Bird-Tickets, commit 4a16ae0):
 * - main.py, class EarlyBird.pruning (l. 313-344; the same in mask_cr.py l. 79-110, vggprune.py
 *   l. 91-117, resprune.py l. 77-116): |gamma| of every BatchNorm2d layer concatenated, one global
 *   threshold `y[int(total * percent)]` of the sorted values, a channel kept when |gamma| > threshold.
 *   Every batch norm takes part, also in their pre-activation ResNets (models/preresnet.py: the
 *   batch norms that read the residual stream are pruned through a `channel_selection` of the
 *   next conv's input, resprune.py l. 367-382, the others by removing the conv's output channel).
 * - The EB mask is that 0/1 vector over all batch-norm channels; the mask distance is the share of
 *   its entries that differ (main.py l. 358).
 * - A pruned channel's scale and shift are zeroed (resprune.py l. 106-107) and the channel removed
 *   from the smaller network that is retrained.
 *
 * Here: the selection keeps exactly round(density x channels) channels with the largest |gamma|
 * (the project's selection rule, `selectByScores`: ties by position; the authors' strict
 * `> y[int(total * p)]` keeps one channel fewer than (1 - p) x total when there are no ties),
 * globally over all batch-norm layers (scope 'global', the authors' rule) or per layer
 * ('layerwise'). As a mask (`channelTicketMask`), a pruned channel zeroes its batch norm's scale
 * and shift, and the output channel of the kernel that produces the batch norm's input (its conv
 * filter; ParamSpec.producer): the channel's activation is then exactly zero (scale 0, shift 0),
 * the masked optimizers keep all three at exactly zero, and the zeroed filter is what the smaller
 * network lacks. The next layer's input weights of a pruned channel are not masked (they see a
 * zero input: no gradient, no effect, but they count as remaining weights), and neither is the
 * producer's bias, if it has one (no effect either).
 */
import { PipelineError } from '../errors.js';
import { batchNormLayers, type BatchNormLayer, type ParamSpec } from '../nn/models/index.js';
import type { WeightMap } from '../nn/tensormap.js';
import { countOnes, magnitudePrune, type LayerInfo, type Mask, type PruneScope } from './masks.js';

export type { BatchNormLayer };

/** What an Early-Bird mask is drawn over: the prunable weights (magnitude) or the batch-norm channels (scale). */
export const GRANULARITIES = ['weights', 'channels'] as const;
export type Granularity = (typeof GRANULARITIES)[number];

/** The batch-norm layers of a model (none: channel pruning does not apply). */
export function channelLayersOf(model: { params: readonly ParamSpec[] }): BatchNormLayer[] {
  return batchNormLayers(model.params);
}

/** The granularity a model gets when none is given: channels where it has batch norm (as the paper), else weights. */
export function defaultGranularity(model: { params: readonly ParamSpec[] }): Granularity {
  return channelLayersOf(model).length > 0 ? 'channels' : 'weights';
}

/**
 * The channels pruning keeps at `density` (fraction of the batch-norm channels that remain): a
 * mask of the scale tensors only (`<bn>.gamma`: 1 = kept), by |gamma|, one threshold over all
 * batch-norm layers ('global') or each layer at the density ('layerwise').
 */
export function channelSelection(layers: readonly BatchNormLayer[], weights: WeightMap, density: number, scope: PruneScope = 'global'): Mask {
  if (layers.length === 0) throw new PipelineError('PARAM_INVALID', 'channel pruning needs batch-norm layers, and the model has none', { where: 'channel pruning' });
  const info: LayerInfo = {
    prunable: layers.map((l) => l.gamma),
    shapes: Object.fromEntries(layers.map((l) => [l.gamma, [l.channels]])),
    kinds: Object.fromEntries(layers.map((l) => [l.gamma, 'conv' as const])),
  };
  return magnitudePrune(info, weights, undefined, { scope, density });
}

/** Kept channels over all channels of a selection. */
export function channelDensity(selection: Mask): { kept: number; total: number; density: number } {
  let kept = 0;
  let total = 0;
  for (const t of Object.values(selection)) {
    kept += countOnes(t.data);
    total += t.data.length;
  }
  return { kept, total, density: total ? kept / total : 1 };
}

/**
 * The ticket's mask of a channel selection: per batch-norm layer its scale and shift (the
 * selection), and the producing kernel with the pruned output channels zeroed (the last axis of
 * conv [kh, kw, in, out] and dense [in, out] kernels). Other kernels are left out (dense).
 */
export function channelTicketMask(layers: readonly BatchNormLayer[], info: LayerInfo, selection: Mask): Mask {
  const out: Mask = {};
  for (const l of layers) {
    const keep = selection[l.gamma]?.data;
    if (!keep || keep.length !== l.channels) throw new PipelineError('INTERNAL', `the channel selection lacks '${l.gamma}'`, { where: 'channelTicketMask' });
    out[l.gamma] = { shape: [l.channels], data: Uint8Array.from(keep, (v) => (v ? 1 : 0)) };
    out[l.beta] = { shape: [l.channels], data: Uint8Array.from(keep, (v) => (v ? 1 : 0)) };
    if (l.producer === undefined) continue;
    const shape = info.shapes[l.producer];
    if (!shape || shape[shape.length - 1] !== l.channels) {
      throw new PipelineError('INTERNAL', `'${l.gamma}': its producer '${l.producer}' is not a prunable kernel with ${l.channels} output channels`, { where: 'channelTicketMask' });
    }
    const prev = out[l.producer]?.data;
    const size = shape.reduce((a, b) => a * b, 1);
    const data = prev ?? new Uint8Array(size).fill(1);
    for (let i = 0; i < size; i++) if (!keep[i % l.channels]) data[i] = 0;
    out[l.producer] = { shape: [...shape], data };
  }
  return out;
}
