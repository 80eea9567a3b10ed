/**
 * Masked training and evaluation.
 *
 * Reproducibility: everything random in a run is a pure function of (dataSeed, iteration): batch
 * order (`trainBatchIndices`), augmentation (`hash(dataSeed, iteration, 1)`) and dropout
 * (`hash(dataSeed, iteration, 2)`); the learning rate is a function of the iteration. A checkpoint
 * therefore only carries weights, optimizer state, the iteration (and the curve so far), and a run
 * resumed from iteration k produces bitwise the weights of an uninterrupted run (same backend).
 */
import type { Tensor } from '@tensorflow/tfjs-core';
import { PipelineError } from '../errors.js';
import { initBackend, tf, type BackendInfo } from './backend.js';
import { batchNormLayers, maskableNames } from './models/batchnorm.js';
import type { Model } from './models/index.js';
import { stateNames, validateOptimizer, type OptimizerConfig } from './optim.js';
import { batchTensor, crossEntropy, disposeMap, makeTrainStep } from './train-step.js';
import { hashInts } from './rng.js';
import { makeSchedule, parseDuration, type Duration, type ScheduleConfig } from './schedule.js';
import { checkShapes, sizeOf, type MaskMap, type TensorMap, type WeightMap } from './tensormap.js';
import { trainBatchIndices, type Split, type TrainingData } from './train-data.js';

export interface CurvePoint {
  iteration: number;
  /** Mean training loss over the iterations since the previous point (NaN at iteration 0). */
  trainLoss: number;
  valLoss: number;
  valAccuracy: number;
  /** With `evalTrain`: loss and accuracy on the whole training split at this point (the grokking papers' curves). */
  trainEvalLoss?: number;
  trainAccuracy?: number;
}

export interface Checkpoint {
  /** Number of updates applied: the weights are those after `iteration` steps (0 = initial). */
  iteration: number;
  /** Model weights including batch-norm running statistics. */
  weights: WeightMap;
  /** Optimizer state (e.g. `adam_m/fc1.kernel`), empty for plain SGD. */
  optimizer: WeightMap;
  /** Evaluation curve up to `iteration`, so that a resumed run reports the whole curve. */
  curve: CurvePoint[];
  /** Sum and count of the training losses since the last curve point (for the next point). */
  pendingLoss: [number, number];
}

export interface Progress {
  iteration: number;
  loss: number;
  itPerSec: number;
  lr: number;
}

export interface TrainOptions {
  model: Model;
  data: TrainingData;
  /** Initial weights (e.g. `model.init()`, or rewound weights). Not modified. */
  weights: WeightMap;
  /**
   * 0/1 per prunable weight (and per batch-norm scale/shift entry: channel pruning); absent names
   * are dense. Masked entries are zeroed at the start and stay exactly zero.
   */
  mask?: MaskMap;
  /**
   * L1 penalty on the batch-norm scales (network slimming, Liu et al. 2017; You et al. 2020's
   * Early-Bird search): lambda * sign(gamma) is added to every scale's gradient before the
   * optimizer step, the authors' `updateBN` subgradient. Default 0 (none).
   */
  bnL1?: number;
  batchSize: number;
  /** Total length of training: '500it', '160ep' or a number of iterations. */
  budget: Duration;
  optimizer: OptimizerConfig;
  /** Learning rate and its schedule. */
  schedule: ScheduleConfig;
  /** Seed of data order, augmentation and dropout. */
  dataSeed: number;
  /** Apply the dataset's augmentation to training batches (default false). */
  augment?: boolean;
  /** Evaluate every N iterations (and at the end) on `evalSplit`; 0 or absent: never. */
  evalEvery?: number;
  evalSplit?: Split;
  /** Also evaluate the whole training split at every evaluation point (the curve's trainAccuracy; default false). */
  evalTrain?: boolean;
  evalBatchSize?: number;
  /** Iterations at which `onCheckpoint` receives a checkpoint (0 and the budget allowed). */
  checkpointAt?: number[];
  onCheckpoint?: (ck: Checkpoint) => void | Promise<void>;
  onProgress?: (p: Progress) => void;
  /** Call onProgress every N iterations (default 50). */
  progressEvery?: number;
  /** Continue from this checkpoint instead of `weights` (its iteration must be <= budget). */
  resume?: Checkpoint;
  /**
   * Called at every evaluation point (iteration 0 included), after its curve point, with the
   * current weights (BN statistics included). Returning true stops training there: the result is
   * the state at that iteration (e.g. Early-Bird tickets, src/lth/early-bird.ts).
   */
  onEvalPoint?: (p: EvalPointState) => boolean | void | Promise<boolean | void>;
}

/** What `onEvalPoint` receives. */
export interface EvalPointState {
  iteration: number;
  weights: WeightMap;
  curve: readonly CurvePoint[];
}

/** The final state (a checkpoint at the budget: can be saved with encodeCheckpoint) and results. */
export interface TrainResult extends Checkpoint {
  /** Iteration of the minimum validation loss on the curve (undefined without evaluation). */
  earlyStopIteration: number | undefined;
  /**
   * The weights (and batch-norm statistics) at `earlyStopIteration`, copied when that validation
   * point was reached (Frankle & Carbin 2019 report test accuracy at the early-stop iteration):
   * no test pass during training. Undefined without evaluation, or when the minimum lies in the
   * curve of a resumed checkpoint (before this run started).
   */
  earlyStopWeights: WeightMap | undefined;
  /** Mean training loss of the last `progressEvery` iterations. */
  finalTrainLoss: number;
  backend: BackendInfo;
}

function toTensors(m: TensorMap, names: readonly string[]): Record<string, Tensor> {
  const t = tf();
  const out: Record<string, Tensor> = {};
  for (const n of names) {
    const v = m[n];
    if (!v) continue;
    const data = v.data instanceof Float32Array ? v.data : Float32Array.from(v.data);
    out[n] = t.tensor(data, v.shape, 'float32');
  }
  return out;
}

function fromTensors(m: Record<string, Tensor>): WeightMap {
  const out: WeightMap = {};
  for (const n of Object.keys(m).sort()) {
    const v = m[n]!;
    out[n] = { shape: [...v.shape], data: new Float32Array(v.dataSync() as Float32Array) };
  }
  return out;
}

export function checkDataFits(model: Model, data: TrainingData): void {
  const a = model.inputShape.join('x');
  const b = data.inputShape.join('x');
  if (sizeOf(model.inputShape) !== sizeOf(data.inputShape as number[]) || data.numClasses !== model.numClasses) {
    throw new PipelineError('PARAM_INVALID', `model ${model.name} (input ${a}, ${model.numClasses} classes) does not fit dataset ${data.name} (input ${b}, ${data.numClasses} classes)`, {
      where: `model ${model.name}`,
    });
  }
}

/** Loss and accuracy of weights (as tensors) on a whole split. */
function evaluateTensors(
  model: Model,
  w: Record<string, Tensor>,
  data: TrainingData,
  split: Split,
  batchSize: number,
): { loss: number; accuracy: number } {
  const n = data.size(split);
  if (n === 0) {
    throw new PipelineError('PARAM_INVALID', `dataset ${data.name} has no ${split} split`, { where: 'evaluate' });
  }
  const t = tf();
  let lossSum = 0;
  let correct = 0;
  for (let start = 0; start < n; start += batchSize) {
    const m = Math.min(batchSize, n - start);
    const idx = new Int32Array(m);
    for (let i = 0; i < m; i++) idx[i] = start + i;
    const b = data.batch(split, idx);
    const [l, c] = t.tidy(() => {
      const x = batchTensor(model, b.x, m);
      const y = t.tensor1d(b.y, 'int32');
      const { logits } = model.forward(w, x, { training: false });
      const loss = t.mul(crossEntropy(logits, y, model.numClasses), m);
      const corr = t.sum(t.cast(t.equal(t.argMax(logits, 1), y), 'float32'));
      return [loss.dataSync()[0]!, corr.dataSync()[0]!];
    });
    lossSum += l;
    correct += c;
  }
  return { loss: lossSum / n, accuracy: correct / n };
}

/**
 * Loss and accuracy of arbitrary weights on a split (for test accuracy, interpolation between two
 * networks, ...). Batch-norm models use their running statistics. Initialises the default backend
 * if none is active.
 */
export async function evaluate(
  model: Model,
  weights: WeightMap,
  data: TrainingData,
  split: Split,
  opts: { batchSize?: number } = {},
): Promise<{ loss: number; accuracy: number }> {
  await initBackend();
  checkDataFits(model, data);
  checkShapes(weights, Object.fromEntries(model.params.map((p) => [p.name, p])), 'weights');
  const w = toTensors(weights, model.params.map((p) => p.name));
  try {
    return evaluateTensors(model, w, data, split, opts.batchSize ?? 500);
  } finally {
    disposeMap(w);
  }
}

/** Train `model` from `weights` (or `resume`) under `mask`. See TrainOptions. */
export async function train(o: TrainOptions): Promise<TrainResult> {
  const backend = await initBackend();
  const t = tf();
  const { model, data } = o;
  checkDataFits(model, data);
  if (!(Number.isInteger(o.batchSize) && o.batchSize >= 1)) {
    throw new PipelineError('PARAM_INVALID', `batch size must be a positive integer, got ${o.batchSize}`, { where: 'batchSize' });
  }
  const trainSize = data.size('train');
  if (o.batchSize > trainSize) {
    throw new PipelineError('PARAM_INVALID', `batch size ${o.batchSize} exceeds the training set (${trainSize})`, { where: 'batchSize' });
  }
  const itersPerEpoch = Math.floor(trainSize / o.batchSize);
  const budget = parseDuration(o.budget, itersPerEpoch, 'budget');
  const schedule = makeSchedule(o.schedule, itersPerEpoch);
  const opt = validateOptimizer(o.optimizer);
  const evalEvery = o.evalEvery ?? 0;
  if (!(Number.isInteger(evalEvery) && evalEvery >= 0)) {
    throw new PipelineError('PARAM_INVALID', `evalEvery must be a non-negative integer, got ${evalEvery}`, { where: 'evalEvery' });
  }
  const evalSplit = o.evalSplit ?? 'validation';
  const evalBatch = o.evalBatchSize ?? 500;
  const checkpointAt = new Set(o.checkpointAt ?? []);
  for (const c of checkpointAt) {
    if (!(Number.isInteger(c) && c >= 0 && c <= budget)) {
      throw new PipelineError('PARAM_INVALID', `checkpoint iteration ${c} is outside 0..${budget}`, { where: 'checkpointAt' });
    }
  }
  const progressEvery = o.progressEvery ?? 50;
  const specs = Object.fromEntries(model.params.map((p) => [p.name, p]));

  // Masks: prunable weights and batch-norm scales/shifts only; 0/1 float tensors.
  const maskNames = Object.keys(o.mask ?? {}).sort();
  const maskable = new Set(maskableNames(model));
  for (const n of maskNames) {
    if (!maskable.has(n)) {
      throw new PipelineError('PARAM_INVALID', `mask has '${n}', which is not a prunable weight (or batch-norm scale or shift) of ${model.name}`, { where: 'mask' });
    }
  }
  const bnL1 = o.bnL1 ?? 0;
  if (!(Number.isFinite(bnL1) && bnL1 >= 0)) throw new PipelineError('PARAM_INVALID', `bnL1 must be a non-negative number, got ${bnL1}`, { where: 'bnL1' });
  const scales = bnL1 > 0 ? batchNormLayers(model.params).map((b) => b.gamma) : [];
  if (o.mask) checkShapes(o.mask, specs, 'mask', maskNames);
  const masks: Record<string, Tensor> = {};
  for (const n of maskNames) {
    const m = o.mask![n]!;
    const f = new Float32Array(m.data.length);
    for (let i = 0; i < f.length; i++) f[i] = m.data[i] !== 0 ? 1 : 0;
    masks[n] = t.tensor(f, m.shape);
  }

  const start = o.resume?.iteration ?? 0;
  if (!(Number.isInteger(start) && start >= 0 && start <= budget)) {
    throw new PipelineError('PARAM_INVALID', `cannot resume at iteration ${start} with a budget of ${budget}`, { where: 'resume' });
  }
  const w0 = o.resume?.weights ?? o.weights;
  checkShapes(w0, specs, o.resume ? 'checkpoint weights' : 'weights');
  let params = toTensors(w0, model.trainable);
  let buffers = toTensors(w0, model.buffers);
  // Start from masked weights (a no-op when resuming: they are already masked).
  for (const n of maskNames) {
    const old = params[n]!;
    params[n] = t.mul(old, masks[n]!);
    old.dispose();
  }
  let state: Record<string, Tensor> = {};
  if (o.resume) {
    const names = model.trainable.flatMap((p) => stateNames(opt.type, p));
    for (const n of Object.keys(o.resume.optimizer)) {
      if (!names.includes(n)) {
        throw new PipelineError('PARAM_INVALID', `checkpoint optimizer state '${n}' does not belong to ${opt.type} on ${model.name}`, { where: 'resume' });
      }
    }
    state = toTensors(o.resume.optimizer, names);
  }

  const curve: CurvePoint[] = [...(o.resume?.curve ?? [])];
  let lossSinceEval = o.resume?.pendingLoss?.[0] ?? 0;
  let itersSinceEval = o.resume?.pendingLoss?.[1] ?? 0;
  let recent: number[] = [];
  // The best validation point so far (strictly lower loss, first wins: as earlyStopIteration below).
  let bestLoss = Math.min(Infinity, ...curve.map((c) => c.valLoss).filter((v) => !Number.isNaN(v)));
  let bestIteration: number | undefined;
  let bestWeights: Record<string, Tensor> | undefined;
  let t0 = performance.now();
  let itAtT0 = start;

  const snapshot = (iteration: number): Checkpoint => ({
    iteration,
    weights: fromTensors({ ...params, ...buffers }),
    optimizer: fromTensors(state),
    curve: curve.map((c) => ({ ...c })),
    pendingLoss: [lossSinceEval, itersSinceEval],
  });
  // True when onEvalPoint asked to stop at this evaluation point.
  const evalPoint = async (iteration: number): Promise<boolean> => {
    if (curve.some((c) => c.iteration === iteration)) return false;
    const r = evaluateTensors(model, { ...params, ...buffers }, data, evalSplit, evalBatch);
    const tr = o.evalTrain ? evaluateTensors(model, { ...params, ...buffers }, data, 'train', evalBatch) : undefined;
    curve.push({
      iteration,
      trainLoss: itersSinceEval > 0 ? lossSinceEval / itersSinceEval : NaN,
      valLoss: r.loss,
      valAccuracy: r.accuracy,
      ...(tr ? { trainEvalLoss: tr.loss, trainAccuracy: tr.accuracy } : {}),
    });
    if (r.loss < bestLoss) {
      if (bestWeights) disposeMap(bestWeights);
      bestWeights = Object.fromEntries(Object.entries({ ...params, ...buffers }).map(([k, v]) => [k, t.clone(v)]));
      bestLoss = r.loss;
      bestIteration = iteration;
    }
    lossSinceEval = 0;
    itersSinceEval = 0;
    return o.onEvalPoint ? (await o.onEvalPoint({ iteration, weights: fromTensors({ ...params, ...buffers }), curve })) === true : false;
  };
  let end = budget;
  const trainStep = makeTrainStep(model, opt, masks, scales, bnL1);

  try {
    if (evalEvery > 0 && start === 0 && (await evalPoint(0))) end = 0;
    if (checkpointAt.has(start) && o.onCheckpoint && !o.resume) await o.onCheckpoint(snapshot(start));
    for (let it = start; it < end; it++) {
      const idx = trainBatchIndices(data, o.dataSeed, it, o.batchSize);
      const batch = data.batch('train', idx, o.augment ? { augmentSeed: hashInts(o.dataSeed, it, 1) } : {});
      const dropoutSeed = hashInts(o.dataSeed, it, 2);
      const next = trainStep({ params, buffers, state }, { x: batch.x, labels: batch.y, lr: schedule.at(it), iteration: it, dropoutSeed });
      ({ params, buffers, state } = next);
      const loss = next.loss;
      if (!Number.isFinite(loss)) {
        throw new PipelineError('STAGE_FAILED', `training diverged: loss is ${loss} at iteration ${it}`, {
          where: `model ${model.name}`,
          hint: 'lower the learning rate or add warmup',
        });
      }
      lossSinceEval += loss;
      itersSinceEval++;
      recent.push(loss);
      if (recent.length > progressEvery) recent = recent.slice(-progressEvery);
      const done = it + 1;
      if (o.onProgress && (done % progressEvery === 0 || done === budget)) {
        const now = performance.now();
        o.onProgress({ iteration: done, loss, itPerSec: ((done - itAtT0) * 1000) / Math.max(1e-9, now - t0), lr: schedule.at(it) });
        t0 = now;
        itAtT0 = done;
      }
      const stop = evalEvery > 0 && (done % evalEvery === 0 || done === budget) && (await evalPoint(done));
      if (checkpointAt.has(done) && o.onCheckpoint) await o.onCheckpoint(snapshot(done));
      if (stop) end = done;
    }
    if (evalEvery > 0 && budget === start) await evalPoint(budget);
    const final = snapshot(end);
    let early: number | undefined;
    let best = Infinity;
    for (const c of curve) {
      if (c.valLoss < best) {
        best = c.valLoss;
        early = c.iteration;
      }
    }
    return {
      ...final,
      earlyStopIteration: early,
      earlyStopWeights: bestWeights && bestIteration === early ? fromTensors(bestWeights) : undefined,
      finalTrainLoss: recent.length ? recent.reduce((a, b) => a + b, 0) / recent.length : NaN,
      backend,
    };
  } finally {
    disposeMap(params);
    disposeMap(buffers);
    disposeMap(state);
    disposeMap(masks);
    if (bestWeights) disposeMap(bestWeights);
  }
}
