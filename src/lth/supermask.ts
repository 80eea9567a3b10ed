/**
 * Strong lottery tickets: subnetworks of a network that is never trained, found by training one
 * score per prunable weight (supermask search).
 *
 * - Edge-popup (Ramanujan et al. 2020, "What's hidden in a randomly weighted neural network?",
 *   Sec. 3 and Algorithm 1): the weights stay at their random initialisation; the forward pass of
 *   every layer uses the weights whose scores are in the top k% of that layer by |s| (their code
 *   ranks `scores.abs()`); the scores are trained with the straight-through estimator: the top-k
 *   step is treated as the identity on the backward pass, so dL/ds = dL/dw_eff * w * sign(s)
 *   (dL/dw_eff * w is the paper's update, Sec. 3 eq. for s_uv; sign(s) is the derivative of |s|).
 * - Multi-prize tickets (Diffenderfer & Kailkhura 2021, Sec. 3, biprop): the same search with
 *   binary weights: w_eff = alpha * sign(w) * m, alpha = ||m * w||_1 / ||m||_1 per layer (the mean
 *   |w| of the kept weights); the backward pass gives the scores the same gradient dL/dw_eff * w.
 *
 * Only the prunable kernels enter the search. Biases stay at their initial value (zero), which is
 * the bias-free networks of both papers; batch-norm scales and shifts stay at 1 and 0, the
 * non-affine batch norm of Ramanujan et al.; batch-norm running statistics are updated in
 * training mode as in any training (they are statistics, not weights).
 */
import type { Scalar, Tensor } from '@tensorflow/tfjs-core';
import { PipelineError } from '../errors.js';
import { initBackend, tf } from '../nn/backend.js';
import { initTensor } from '../nn/models/init.js';
import type { Model } from '../nn/models/index.js';
import { optimizerStep, validateOptimizer, type OptimizerConfig } from '../nn/optim.js';
import { hashInts, Rng } from '../nn/rng.js';
import type { LrSchedule } from '../nn/schedule.js';
import type { WeightMap } from '../nn/tensormap.js';
import { checkDataFits, evaluate, type CurvePoint } from '../nn/train.js';
import { crossEntropy } from '../nn/train-step.js';
import { trainBatchIndices, type Split, type TrainingData } from '../nn/train-data.js';
import { layerInfoOf, selectByScores, type Mask, type Scores } from './masks.js';

/** Initialisations of the fixed weights (Ramanujan et al. 2020, Sec. 4.1 / Fig. 5). */
export const SUPERMASK_INITS = ['signed-constant', 'kaiming-normal'] as const;
export type SupermaskInit = (typeof SUPERMASK_INITS)[number];

/** Fan-in of a kernel: [in, out] dense or [kh, kw, cin, cout] conv (every axis but the last), as init.ts counts it. */
function fanIn(shape: readonly number[]): number {
  return shape.slice(0, -1).reduce((a, b) => a * b, 1);
}

/**
 * The fixed random weights: the model's own initial tensors, with every prunable kernel drawn
 * from Kaiming normal N(0, 2/fan_in), or its signed constant: sign(x) * sqrt(2/fan_in), each
 * weight +-sigma with probability 1/2 (the "Signed Kaiming Constant", their `signed_constant`:
 * gain sqrt(2) for ReLU over sqrt(fan_in)). `scaleFan`: fan_in * density (the paper's scaled
 * variant, sigma for the k*fan_in inputs a unit keeps). Biases stay 0, batch-norm scales 1.
 */
export function supermaskWeights(model: Model, seed: number, init: SupermaskInit, opts: { scaleFan?: boolean; density?: number } = {}): WeightMap {
  const out = model.init(seed);
  for (const n of model.prunable) {
    const w = out[n]!;
    const fan = fanIn(w.shape) * (opts.scaleFan ? (opts.density ?? 1) : 1);
    const sigma = Math.sqrt(2 / fan);
    const normal = initTensor(n, w.shape, 'he_normal', seed); // N(0, 2/fan_in)
    const scale = opts.scaleFan ? sigma / Math.sqrt(2 / fanIn(w.shape)) : 1;
    const data = new Float32Array(normal.length);
    for (let i = 0; i < data.length; i++) data[i] = init === 'signed-constant' ? (normal[i]! > 0 ? sigma : normal[i]! < 0 ? -sigma : 0) : normal[i]! * scale;
    out[n] = { shape: [...w.shape], data };
  }
  return out;
}

/**
 * Initial scores: Kaiming uniform with a = sqrt(5) (their `mask_init`), i.e. U(-b, b) with
 * b = 1/sqrt(fan_in); seeded per (seed, layer).
 */
export function initialScores(model: Model, seed: number): Scores {
  const s: Scores = {};
  for (const n of model.prunable) {
    const shape = model.params.find((p) => p.name === n)!.shape;
    const bound = 1 / Math.sqrt(fanIn(shape));
    const rng = new Rng(hashInts(seed, 0x5c0e, model.prunable.indexOf(n)));
    const a = new Float32Array(shape.reduce((x, y) => x * y, 1));
    for (let i = 0; i < a.length; i++) a[i] = (2 * rng.next() - 1) * bound;
    s[n] = a;
  }
  return s;
}

/**
 * The top-k mask: per layer, the round(density * n) weights of largest |s| (ties: lower position
 * first), through the project's one selection rule (masks.ts `selectByScores`).
 */
export function topKMask(model: Model, scores: Scores, density: number): Mask {
  const abs: Scores = {};
  for (const n of model.prunable) abs[n] = Float32Array.from(scores[n]!, Math.abs);
  return selectByScores(layerInfoOf(model), abs, undefined, { scope: 'layerwise', density }, 'edge-popup');
}

/** Per layer, the multi-prize scale alpha = sum(|w| * m) / sum(m) (0 for an empty layer). */
export function binaryScale(w: Float32Array, m: Uint8Array): number {
  let sum = 0;
  let kept = 0;
  for (let i = 0; i < w.length; i++) {
    if (m[i]) {
      sum += Math.abs(w[i]!);
      kept++;
    }
  }
  return kept > 0 ? Math.fround(sum / kept) : 0;
}

/**
 * The weights the subnetwork computes with: w * m, or (binarize) alpha * sign(w) * m per layer;
 * every other tensor as it is. What training's forward pass and every evaluation use.
 */
export function effectiveWeights(weights: WeightMap, mask: Mask, binarize: boolean): { weights: WeightMap; alphas: Record<string, number> } {
  const out: WeightMap = {};
  const alphas: Record<string, number> = {};
  for (const n of Object.keys(weights).sort()) {
    const w = weights[n]!;
    const m = mask[n];
    if (!m) {
      out[n] = { shape: [...w.shape], data: w.data.slice() };
      continue;
    }
    if (m.data.length !== w.data.length) throw new PipelineError('INTERNAL', `mask '${n}' does not fit the weights`, { where: 'supermask' });
    const data = new Float32Array(w.data.length);
    if (binarize) {
      const alpha = binaryScale(w.data, m.data);
      alphas[n] = alpha;
      for (let i = 0; i < data.length; i++) data[i] = m.data[i] ? Math.sign(w.data[i]!) * alpha : 0;
    } else {
      for (let i = 0; i < data.length; i++) data[i] = m.data[i] ? w.data[i]! : 0;
    }
    out[n] = { shape: [...w.shape], data };
  }
  return { weights: out, alphas };
}

/** Weights kept of a layer of n at density k: round(k * n), the rule of masks.ts `selectByScores` (layerwise, one-shot). */
export function keptCount(n: number, density: number): number {
  return Math.min(n, Math.round(density * n));
}

/**
 * `effectiveWeights` on the device, for the training loop (no download of the scores per step):
 * the top keptCount(n, k) of |s| by `topk` (ties: the lower index first, as `selectByScores`),
 * scattered into a 0/1 mask; then w * m, or alpha * sign(w) * m with alpha = sum(|w| * m) / kept.
 */
export function effectiveWeightTensor(s: Tensor, w: Tensor, density: number, binarize: boolean): Tensor {
  const t = tf();
  return t.tidy(() => {
    const n = s.size;
    const keep = keptCount(n, density);
    if (keep === 0) return t.zerosLike(w);
    const { indices } = t.topk(t.reshape(t.abs(s), [n]), keep, true);
    const m = t.reshape(t.scatterND(t.reshape(indices, [keep, 1]), t.ones([keep], 'float32'), [n]), w.shape);
    if (!binarize) return t.mul(w, m);
    const alpha = t.div(t.sum(t.mul(t.abs(w), m)), Math.max(1, keep));
    return t.mul(t.mul(t.sign(w), m), alpha);
  });
}

/**
 * The straight-through estimator as a tf op of the scores: its value is the effective weight
 * (computed outside, from the top-k mask: a step function of s with zero gradient almost
 * everywhere), its gradient dL/ds = dL/dw_eff * w * sign(s).
 */
export function straightThrough(s: Tensor, weff: Tensor, w: Tensor): Tensor {
  const t = tf();
  const op = t.customGrad((...args: unknown[]) => {
    const [si, save] = args as [Tensor, (ts: Tensor[]) => void];
    save([si]);
    return { value: t.clone(weff), gradFunc: (dy: Tensor, saved: Tensor[]) => t.mul(t.mul(dy, w), t.sign(saved[0]!)) };
  });
  return op(s) as Tensor;
}

/**
 * The loss of one batch and its gradients with respect to the scores `s` (tensors, in
 * `model.prunable` order): the forward pass with the effective weights `eff` in place of the
 * prunable kernels (`fixed`: the kernels' fixed values; `others`: every other tensor).
 * `buffers` receives the batch-norm running statistics of a training-mode pass (kept tensors).
 */
export function scoreLossAndGrads(
  model: Model,
  tensors: { s: Tensor[]; eff: Tensor[]; fixed: Tensor[]; others: Record<string, Tensor> },
  x: Tensor,
  y: Tensor,
  opts: { training: boolean; dropoutSeed?: number; buffers?: Record<string, Tensor> },
): { value: Scalar; grads: Tensor[] } {
  const t = tf();
  const names = model.prunable;
  return t.tidy(() => {
    const f = (...ss: Tensor[]) => {
      const w: Record<string, Tensor> = { ...tensors.others };
      names.forEach((n, i) => (w[n] = straightThrough(ss[i]!, tensors.eff[i]!, tensors.fixed[i]!)));
      const out = model.forward(w, x, { training: opts.training, ...(opts.dropoutSeed !== undefined ? { dropoutSeed: opts.dropoutSeed } : {}) });
      if (opts.buffers) for (const [k, v] of Object.entries(out.buffers)) opts.buffers[k] = t.keep(v);
      return crossEntropy(out.logits, y, model.numClasses) as Scalar;
    };
    return t.valueAndGrads(f)(tensors.s);
  });
}

export interface ScoreSearchOptions {
  model: Model;
  data: TrainingData;
  /** The fixed weights (never modified). */
  weights: WeightMap;
  /** Initial scores of the prunable kernels. */
  scores: Scores;
  /** Fraction k of each layer's weights kept. */
  density: number;
  binarize: boolean;
  batchSize: number;
  /** Iterations. */
  budget: number;
  optimizer: OptimizerConfig;
  schedule: LrSchedule;
  dataSeed: number;
  augment?: boolean;
  /** Validation every N iterations and at the end (0: never). */
  evalEvery?: number;
  evalSplit?: Split;
  evalBatchSize?: number;
  onProgress?: (p: { iteration: number; loss: number }) => void;
  progressEvery?: number;
}

export interface ScoreSearchResult {
  scores: Scores;
  /** The top-k mask of the final scores. */
  mask: Mask;
  /** The fixed weights with the batch-norm running statistics of the last training step. */
  weights: WeightMap;
  curve: CurvePoint[];
  finalTrainLoss: number;
}

/**
 * Trains the scores (weights fixed) with the trainer's pieces: its batch order (a function of
 * dataSeed and iteration), loss, optimizer kernels and evaluation.
 */
export async function searchSupermask(o: ScoreSearchOptions): Promise<ScoreSearchResult> {
  await initBackend();
  const t = tf();
  const { model, data } = o;
  checkDataFits(model, data);
  if (!(o.density > 0 && o.density <= 1)) throw new PipelineError('PARAM_INVALID', `density must be in (0, 1], got ${o.density}`, { where: 'edge-popup' });
  if (o.batchSize > data.size('train')) throw new PipelineError('PARAM_INVALID', `batch size ${o.batchSize} exceeds the training set (${data.size('train')})`, { where: 'batchSize' });
  const opt = validateOptimizer(o.optimizer);
  const names = model.prunable;
  const evalEvery = o.evalEvery ?? 0;
  const progressEvery = o.progressEvery ?? 50;
  const fixed: WeightMap = { ...o.weights };
  let scores: Scores = Object.fromEntries(names.map((n) => [n, o.scores[n]!.slice()]));
  const shapeOf = (n: string) => o.weights[n]!.shape;
  // Tensors that never change: the fixed prunable weights (for the gradient) and every non-prunable tensor.
  const wT: Record<string, Tensor> = Object.fromEntries(names.map((n) => [n, t.tensor(o.weights[n]!.data, shapeOf(n), 'float32')]));
  const otherNames = model.params.map((p) => p.name).filter((n) => !names.includes(n));
  let others: Record<string, Tensor> = Object.fromEntries(otherNames.map((n) => [n, t.tensor(fixed[n]!.data, fixed[n]!.shape, 'float32')]));
  let sT: Record<string, Tensor> = Object.fromEntries(names.map((n) => [n, t.tensor(scores[n]!, shapeOf(n), 'float32')]));
  let state: Record<string, Tensor> = {};
  const curve: CurvePoint[] = [];
  let lossSince = 0;
  let itersSince = 0;
  let recent: number[] = [];
  const readScores = (): Scores => Object.fromEntries(names.map((n) => [n, new Float32Array(sT[n]!.dataSync() as Float32Array)]));
  const current = (): WeightMap => {
    const w: WeightMap = { ...fixed };
    for (const n of model.buffers) {
      const b = others[n]!;
      w[n] = { shape: [...b.shape], data: new Float32Array(b.dataSync() as Float32Array) };
    }
    return w;
  };
  const evalPoint = async (iteration: number) => {
    scores = readScores();
    const eff = effectiveWeights(current(), topKMask(model, scores, o.density), o.binarize).weights;
    const r = await evaluate(model, eff, data, o.evalSplit ?? 'validation', { batchSize: o.evalBatchSize ?? 500 });
    curve.push({ iteration, trainLoss: itersSince > 0 ? lossSince / itersSince : NaN, valLoss: r.loss, valAccuracy: r.accuracy });
    lossSince = 0;
    itersSince = 0;
  };
  try {
    if (evalEvery > 0) await evalPoint(0);
    for (let it = 0; it < o.budget; it++) {
      const idx = trainBatchIndices(data, o.dataSeed, it, o.batchSize);
      const batch = data.batch('train', idx, o.augment ? { augmentSeed: hashInts(o.dataSeed, it, 1) } : {});
      const dropoutSeed = hashInts(o.dataSeed, it, 2);
      const newBuffers: Record<string, Tensor> = {};
      const x = t.tensor(batch.x, [idx.length, ...model.inputShape], 'float32');
      const y = t.tensor1d(batch.y, 'int32');
      const effT = names.map((n) => effectiveWeightTensor(sT[n]!, wT[n]!, o.density, o.binarize));
      const { value, grads } = scoreLossAndGrads(
        model,
        { s: names.map((n) => sT[n]!), eff: effT, fixed: names.map((n) => wT[n]!), others },
        x,
        y,
        { training: true, dropoutSeed, buffers: newBuffers },
      );
      for (const v of [x, y, ...effT]) v.dispose();
      const gradMap: Record<string, Tensor> = {};
      names.forEach((n, i) => (gradMap[n] = grads[i]!));
      const step = optimizerStep(opt, sT, gradMap, state, {}, o.schedule.at(it), it);
      const loss = value.dataSync()[0]!;
      value.dispose();
      for (const g of Object.values(gradMap)) g.dispose();
      for (const s of Object.values(sT)) s.dispose();
      for (const s of Object.values(state)) s.dispose();
      sT = step.params;
      state = step.state;
      for (const [k, v] of Object.entries(newBuffers)) {
        others[k]!.dispose();
        others = { ...others, [k]: v };
      }
      if (!Number.isFinite(loss)) {
        throw new PipelineError('STAGE_FAILED', `score training diverged: loss is ${loss} at iteration ${it}`, { where: `model ${model.name}`, hint: 'lower the learning rate' });
      }
      lossSince += loss;
      itersSince++;
      recent.push(loss);
      if (recent.length > progressEvery) recent = recent.slice(-progressEvery);
      const done = it + 1;
      if (o.onProgress && (done % progressEvery === 0 || done === o.budget)) o.onProgress({ iteration: done, loss });
      if (evalEvery > 0 && (done % evalEvery === 0 || done === o.budget)) await evalPoint(done);
    }
    scores = readScores();
    return {
      scores,
      mask: topKMask(model, scores, o.density),
      weights: current(),
      curve,
      finalTrainLoss: recent.length ? recent.reduce((a, b) => a + b, 0) / recent.length : NaN,
    };
  } finally {
    for (const m of [wT, others, sT, state]) for (const v of Object.values(m)) v.dispose();
  }
}
