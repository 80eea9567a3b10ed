/**
 * PHEW, "Paths with Higher Edge Weights" (Patil & Dovrolis 2021, "PHEW: Constructing Sparse
 * Networks that Learn Fast and Generalize Well Without Training Data", ICML 2021, Sec. 3): a
 * data-free prune-at-init method that builds the sparse network from nothing by sampling
 * input-to-output paths with random walks biased by the initial weights' magnitudes, until the
 * network holds the target number of weights. Every kept weight is on a full input-output path,
 * so no unit is dead.
 *
 * As the paper's code (github.com/ShreyasMalakarjunPatil/PHEW, Prune/phew_utils.py) does it:
 * - The network is a graph of units (inputs; output channels of conv layers; features of dense
 *   layers). An edge between input unit i and output unit o of a layer has weight
 *   e(i, o) = sum |w| over the layer's kernel (i, o) (one |w| for a dense layer, the L1 norm of the
 *   kh x kw kernel for a conv layer: "kernels as edges between channels").
 * - Walks alternate: even walks go forwards from an input unit, odd walks backwards from an output
 *   unit; the start units are taken round-robin (input 0, 1, 2, ...; output 0, 1, 2, ...).
 * - A forward step from unit i picks o with probability e(i, o) / sum_o' e(i, o'); a backward step
 *   from unit o picks i with probability e(i, o) / sum_i' e(i', o); uniform if that sum is 0.
 *   In a conv layer the walk then keeps one weight of the kernel (i, o): position s with
 *   probability |w_s| / sum |kernel|.
 * - Conv to flattened dense: a forward walk at channel c enters the dense layer at a uniformly
 *   chosen spatial position of channel c; a backward walk leaves a flattened unit for its channel
 *   (we flatten NHWC: unit u is channel u mod C).
 * - Stop: after a complete walk, once the kept weights reach the target (the paper's
 *   `while sum_masks(weight_masks) < num_weights`). A walk adds at most one weight per layer, so
 *   the mask overshoots the target by at most (layers - 1) weights; a walk is never cut short,
 *   since half a path would leave dead units. Target: round(density x prunable weights), as the
 *   other prune methods here (the paper's code truncates; they differ by at most one weight).
 *
 * Scope: sequential conv/dense chains (LeNet, Conv-2/4/6, VGG). Residual networks are refused: the
 * paper's ResNet handling (a random choice between a block and its shortcut) is not implemented.
 * Deterministic per seed (src/nn/rng.ts).
 */
import { PipelineError } from '../errors.js';
import type { Model } from '../nn/models/index.js';
import { hashInts, Rng } from '../nn/rng.js';
import type { WeightMap } from '../nn/tensormap.js';
import { countOnes, type Mask, type PruneAmount } from './masks.js';

/** One prunable layer as PHEW sees it: a bipartite graph from `fanIn` units to `fanOut` units. */
export interface PhewLayer {
  name: string;
  /** Input units (input channels or features) and output units. */
  fanIn: number;
  fanOut: number;
  /** Weights per edge: kh * kw for a conv layer, 1 for a dense one. */
  kernel: number;
  /** A dense layer fed by a flattened [H, W, C] activation: its input unit u is channel u mod C. */
  flattened?: readonly [number, number, number];
}

/**
 * The model's prunable layers as a chain of PHEW layers, checked to be one: each layer's input
 * units are the previous layer's output units (or, after a flatten, its channels at H x W
 * positions). Weight layouts: conv [kh, kw, in, out], dense [in, out]; the weight of edge (i, o)
 * at kernel position s is at index (s * in + i) * out + o.
 */
export function phewChain(model: Pick<Model, 'name' | 'prunable' | 'params' | 'flattenedInputs'>, where = 'prune (phew)'): PhewLayer[] {
  const refuse = (why: string): never => {
    throw new PipelineError('PARAM_INVALID', `PHEW needs a sequential chain of conv and dense layers; model '${model.name}' ${why}`, {
      where,
      hint: 'use it on LeNet, Conv-2/4/6 or VGG; the paper\'s ResNet handling (block or shortcut) is not implemented',
    });
  };
  const layers: PhewLayer[] = [];
  for (const name of model.prunable) {
    // Layers inside blocks (`layer1.0.conv1.kernel`) are residual blocks' (the only nesting the builders make for kernels).
    if (name.split('.').length > 2) refuse(`has layers inside blocks ('${name}')`);
    const shape = model.params.find((p) => p.name === name)!.shape;
    const layerName = name.split('.')[0]!;
    let layer: PhewLayer;
    if (shape.length === 4) layer = { name, fanIn: shape[2]!, fanOut: shape[3]!, kernel: shape[0]! * shape[1]! };
    else if (shape.length === 2) {
      const flat = model.flattenedInputs[layerName];
      layer = { name, fanIn: shape[0]!, fanOut: shape[1]!, kernel: 1, ...(flat && layers.length > 0 ? { flattened: flat } : {}) };
    } else return refuse(`has a kernel '${name}' of shape [${shape.join(', ')}]`);
    const prev = layers[layers.length - 1];
    if (prev) {
      const units = layer.flattened ? layer.flattened[2] : layer.fanIn;
      if (units !== prev.fanOut) refuse(`feeds '${prev.name}' (${prev.fanOut} units) into '${name}' (${units})`);
      if (layer.flattened && layer.flattened[0] * layer.flattened[1] * layer.flattened[2] !== layer.fanIn) refuse(`flattens into '${name}' inconsistently`);
    }
    layers.push(layer);
  }
  if (layers.length === 0) refuse('has no prunable layers');
  return layers;
}

/** Edge weights e(i, o) = sum over the kernel of |w| (index i * fanOut + o). */
export function edgeWeights(layer: PhewLayer, w: Float32Array): Float64Array {
  const { fanIn: n, fanOut: m, kernel: k } = layer;
  if (w.length !== n * m * k) throw new PipelineError('INTERNAL', `weights of '${layer.name}' have ${w.length} entries, expected ${n * m * k}`, { where: 'prune (phew)' });
  const e = new Float64Array(n * m);
  for (let s = 0; s < k; s++) for (let j = 0; j < n * m; j++) e[j]! += Math.abs(w[s * n * m + j]!);
  return e;
}

/**
 * The walk's transition probabilities of one layer (Sec. 3): forward[i][o] = P(o | at input unit
 * i), backward[o][i] = P(i | at output unit o); uniform where the edges' sum is 0.
 */
export function transitionProbabilities(layer: PhewLayer, w: Float32Array): { forward: number[][]; backward: number[][] } {
  const e = edgeWeights(layer, w);
  const { fanIn: n, fanOut: m } = layer;
  const norm = (row: number[]) => {
    const s = row.reduce((a, b) => a + b, 0);
    return s > 0 ? row.map((v) => v / s) : row.map(() => 1 / row.length);
  };
  const forward = Array.from({ length: n }, (_, i) => norm(Array.from({ length: m }, (_, o) => e[i * m + o]!)));
  const backward = Array.from({ length: m }, (_, o) => norm(Array.from({ length: n }, (_, i) => e[i * m + o]!)));
  return { forward, backward };
}

/** Cumulative sums of `count` values v(j) (row-major in `cdf` at `offset`); all-zero rows become uniform. */
function fillCdf(cdf: Float64Array, offset: number, count: number, v: (j: number) => number): void {
  let acc = 0;
  for (let j = 0; j < count; j++) cdf[offset + j] = acc += v(j);
  if (acc === 0) for (let j = 0; j < count; j++) cdf[offset + j] = j + 1;
}

/** Index j of a draw from the cumulative row at `offset`: the first with cdf > u * total. */
function sample(cdf: Float64Array, offset: number, count: number, rng: Rng): number {
  const total = cdf[offset + count - 1]!;
  const r = rng.next() * total;
  let lo = 0;
  let hi = count - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cdf[offset + mid]! > r) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** What a layer's walks draw from: per input unit over outputs, per output unit over inputs, per edge over kernel positions. */
interface Sampler {
  layer: PhewLayer;
  forward: Float64Array;
  backward: Float64Array;
  kernel?: Float64Array;
  mask: Uint8Array;
}

function samplerOf(layer: PhewLayer, w: Float32Array): Sampler {
  const e = edgeWeights(layer, w);
  const { fanIn: n, fanOut: m, kernel: k } = layer;
  const forward = new Float64Array(n * m);
  for (let i = 0; i < n; i++) fillCdf(forward, i * m, m, (o) => e[i * m + o]!);
  const backward = new Float64Array(n * m);
  for (let o = 0; o < m; o++) fillCdf(backward, o * n, n, (i) => e[i * m + o]!);
  let kernel: Float64Array | undefined;
  if (k > 1) {
    kernel = new Float64Array(n * m * k);
    for (let j = 0; j < n * m; j++) fillCdf(kernel, j * k, k, (s) => Math.abs(w[s * n * m + j]!));
  }
  return { layer, forward, backward, ...(kernel ? { kernel } : {}), mask: new Uint8Array(n * m * k) };
}

export interface PhewResult {
  mask: Mask;
  /** Walks taken (forward and backward together). */
  walks: number;
  /** Weights the target asked for; the mask holds `kept` (at most layers - 1 more). */
  target: number;
  kept: number;
}

/**
 * The PHEW mask of `density` (fraction of the prunable weights kept) from the initial weights.
 * `maxWalks` bounds the search (default: 100 walks per prunable weight), so a target the walks
 * cannot reach (e.g. weights that are exactly zero) fails instead of looping.
 */
export function phewMask(model: Pick<Model, 'name' | 'prunable' | 'params' | 'flattenedInputs'>, weights: WeightMap, density: number, seed: number, opts: { maxWalks?: number; where?: string } = {}): PhewResult {
  const where = opts.where ?? 'prune (phew)';
  if (!(Number.isFinite(density) && density >= 0 && density <= 1)) throw new PipelineError('PARAM_INVALID', `density must be in [0, 1], got ${density}`, { where });
  const chain = phewChain(model, where);
  const samplers = chain.map((l) => {
    const w = weights[l.name];
    if (!w) throw new PipelineError('PARAM_INVALID', `weights lack the prunable tensor '${l.name}'`, { where });
    return samplerOf(l, w.data);
  });
  const total = samplers.reduce((a, s) => a + s.mask.length, 0);
  const target = Math.round(density * total);
  const maxWalks = opts.maxWalks ?? 100 * total;
  const rng = new Rng(hashInts(seed, 0x50e3));
  const first = chain[0]!;
  const last = chain[chain.length - 1]!;
  let kept = 0;
  let walks = 0;
  let nextIn = 0;
  let nextOut = 0;
  const keep = (s: Sampler, i: number, o: number): void => {
    const { fanIn: n, fanOut: m, kernel: k } = s.layer;
    const pos = s.kernel ? sample(s.kernel, (i * m + o) * k, k, rng) : 0;
    const idx = (pos * n + i) * m + o;
    if (!s.mask[idx]) {
      s.mask[idx] = 1;
      kept++;
    }
  };
  while (kept < target) {
    if (walks >= maxWalks) {
      throw new PipelineError('PARAM_INVALID', `PHEW reached ${kept} of ${target} weights after ${walks} walks`, { where, hint: 'ask for a lower density' });
    }
    if (walks % 2 === 0) {
      // Forward from input unit nextIn (round-robin).
      let unit = nextIn;
      nextIn = (nextIn + 1) % first.fanIn;
      for (const s of samplers) {
        const { fanOut: m, flattened } = s.layer;
        // Entering a flattened dense layer at channel `unit`: a uniformly chosen spatial position of it (NHWC).
        if (flattened && s !== samplers[0]) unit = rng.int(flattened[0] * flattened[1]) * flattened[2] + unit;
        const o = sample(s.forward, unit * m, m, rng);
        keep(s, unit, o);
        unit = o;
      }
    } else {
      // Backward from output unit nextOut (round-robin).
      let unit = nextOut;
      nextOut = (nextOut + 1) % last.fanOut;
      for (let l = samplers.length - 1; l >= 0; l--) {
        const s = samplers[l]!;
        const { fanIn: n, flattened } = s.layer;
        const i = sample(s.backward, unit * n, n, rng);
        keep(s, i, unit);
        unit = flattened && l > 0 ? i % flattened[2] : i;
      }
    }
    walks++;
  }
  const mask: Mask = {};
  for (const s of samplers) mask[s.layer.name] = { shape: [...model.params.find((p) => p.name === s.layer.name)!.shape], data: s.mask };
  return { mask, walks, target, kept };
}

/**
 * PHEW as a prune step: it constructs the network from nothing, so it takes a one-shot `density`
 * (overall), no current mask (or an all-ones one) and no layers kept unpruned.
 */
export function phewPrune(model: Pick<Model, 'name' | 'prunable' | 'params' | 'flattenedInputs'>, weights: WeightMap, current: Mask, amount: PruneAmount, seed: number, where = 'prune (phew)'): Mask {
  if (amount.density === undefined || amount.rate !== undefined || amount.rates) {
    throw new PipelineError('PARAM_INVALID', 'PHEW builds a mask of a given density', { where, hint: "give { method: 'phew', density: 0.05 }, no rate" });
  }
  if ((amount.keep ?? []).length > 0) throw new PipelineError('PARAM_INVALID', 'PHEW does not keep layers unpruned (its walks cross every layer)', { where });
  for (const [n, t] of Object.entries(current)) {
    if (countOnes(t.data) !== t.data.length) throw new PipelineError('PARAM_INVALID', `PHEW starts from the dense network, but the current mask prunes '${n}'`, { where, hint: 'bind mask: []' });
  }
  return phewMask(model, weights, amount.density, seed, { where }).mask;
}
