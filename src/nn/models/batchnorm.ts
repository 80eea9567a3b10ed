/**
 * Batch normalisation's arithmetic: inference with the running statistics, and training with
 * batch statistics, a hand-written gradient and the running averages' update (PyTorch's
 * conventions: eps 1e-5, momentum 0.1, unbiased variance in the running average).
 */
import type { NamedAttrMap, Tensor } from '@tensorflow/tfjs-core';
import { tf } from '../backend.js';
import {
  BATCH_NORM_GRAD_KERNEL,
  BATCH_NORM_KERNEL,
  BATCH_NORM_TRAIN_GRAD_KERNEL,
  BATCH_NORM_TRAIN_KERNEL,
  batchNormTrainKernelAvailable,
  fusedBatchNormAvailable,
  registerBatchNormKernels,
  type BatchNormTrainAttrs,
} from '../kernels/batchnorm.js';
import type { ParamSpec } from './layers.js';

const BN_EPS = 1e-5;
const BN_MOMENTUM = 0.1; // PyTorch's convention: running = (1 - m) * running + m * batch

export interface BatchNormWeights {
  gamma: Tensor;
  beta: Tensor;
  runningMean: Tensor;
  runningVar: Tensor;
}

/**
 * Whether training-mode batch norm runs as the backend's LthBatchNormTrain pair where it has one
 * (the native backend with our ops): on by default; `LTH_NATIVE_BN_TRAIN=0` or
 * `setBatchNormTrainKernel(false)` keeps the composed path (the LthBatchNorm pair, the running
 * averages' update and ReLU as separate ops), for comparisons.
 */
let trainKernel = process.env.LTH_NATIVE_BN_TRAIN !== '0';

export function setBatchNormTrainKernel(on: boolean): void {
  trainKernel = on;
}

/**
 * Batch norm over every axis but the last; plus `residual` where given (a residual block whose
 * main path ends with this batch norm); then ReLU with `relu` (a batch norm, or such a block,
 * directly followed by ReLU: src/nn/models/layers.ts). Training: the batch's statistics, and the
 * updated running averages in `updated` (what the trainer stores back); inference: the running ones.
 * Where the backend has the LthBatchNormTrain pair (src/nn/kernels/batchnorm.ts), training mode
 * is one op forward and one backward, the running averages' update, the sum and ReLU included:
 * the same arithmetic, float for float, as the composed path below.
 */
export function batchNormForward(
  x: Tensor,
  w: BatchNormWeights,
  training: boolean,
  relu = false,
  residual?: Tensor,
): { y: Tensor; updated?: { runningMean: Tensor; runningVar: Tensor } } {
  const t = tf();
  const then = (y: Tensor): Tensor => {
    const s = residual ? t.add(y, residual) : y;
    return relu ? t.relu(s) : s;
  };
  if (!training) {
    const scale = t.mul(w.gamma, t.rsqrt(t.add(w.runningVar, BN_EPS)));
    const shift = t.sub(w.beta, t.mul(w.runningMean, scale));
    return { y: then(t.add(t.mul(x, scale), shift)) };
  }
  const n = x.size / x.shape[x.rank - 1]!;
  if (trainKernel && batchNormTrainKernelAvailable(t.getBackend())) {
    if (residual && !relu) {
      const r = batchNormTrainOp(x, w, n, false);
      return { y: t.add(r.y, residual), updated: r.updated };
    }
    return batchNormTrainOp(x, w, n, relu, residual);
  }
  const { y, mean, variance } = batchNormTrain(x, w.gamma, w.beta);
  const runningMean = t.add(t.mul(w.runningMean, 1 - BN_MOMENTUM), t.mul(mean, BN_MOMENTUM));
  const runningVar = t.add(t.mul(w.runningVar, 1 - BN_MOMENTUM), t.mul(variance, (BN_MOMENTUM * n) / (n - 1)));
  mean.dispose();
  variance.dispose();
  return { y: then(y), updated: { runningMean, runningVar } };
}

/** Training mode as the backend's LthBatchNormTrain pair: one op forward, one backward. */
function batchNormTrainOp(
  x: Tensor,
  w: BatchNormWeights,
  n: number,
  relu: boolean,
  residual?: Tensor,
): { y: Tensor; updated: { runningMean: Tensor; runningVar: Tensor } } {
  const t = tf();
  // The composed update's scalars (float32 once they are tensors; float attributes here).
  const attrs: BatchNormTrainAttrs = { epsilon: BN_EPS, keep: 1 - BN_MOMENTUM, m: BN_MOMENTUM, varM: (BN_MOMENTUM * n) / (n - 1), relu };
  let runningMean: Tensor | undefined;
  let runningVar: Tensor | undefined;
  const op = t.customGrad((...args: unknown[]) => {
    const save = args.pop() as (ts: Tensor[]) => void;
    const [xi, g, bt, r] = args as [Tensor, Tensor, Tensor, Tensor?];
    const inputs: Record<string, Tensor> = { x: xi, gamma: g, beta: bt, runningMean: w.runningMean, runningVar: w.runningVar };
    if (r) inputs.residual = r;
    const [value, rm, rv, ...forGrad] = t.engine().runKernel(BATCH_NORM_TRAIN_KERNEL, inputs, attrs as unknown as NamedAttrMap) as Tensor[];
    runningMean = t.keep(rm!);
    runningVar = t.keep(rv!);
    // With a residual, the gradient op reads where the ReLU passed from the output.
    save([xi, g, bt, ...(r ? [value!] : []), ...forGrad]);
    return {
      value: value!,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [sx, sg, sb, ...rest] = saved as Tensor[];
        const ins: Record<string, Tensor> = { dy, x: sx!, gamma: sg!, beta: sb! };
        if (r) ins.y = rest.shift()!;
        rest.forEach((e, i) => (ins[`s${i}`] = e));
        return t.engine().runKernel(BATCH_NORM_TRAIN_GRAD_KERNEL, ins, { relu }) as Tensor[];
      },
    };
  });
  const y = residual ? op(x, w.gamma, w.beta, residual) : op(x, w.gamma, w.beta);
  return { y, updated: { runningMean: runningMean!, runningVar: runningVar! } };
}

/**
 * Training-mode batch norm over every axis but the last, with its gradient written out by hand
 * (dbeta = sum dy, dgamma = rstd * sum(dy * xc), dx = a * dy + b * xc + c with per-channel a, b, c):
 * 13 full-size kernels for forward and backward, against ~40 when autodiff goes through
 * `moments` and the broadcasts. Returns the batch mean and (biased) variance as well, which the
 * caller must dispose.
 */
export function batchNormTrain(x: Tensor, gamma: Tensor, beta: Tensor): { y: Tensor; mean: Tensor; variance: Tensor } {
  const t = tf();
  if (fusedBatchNormAvailable(t.getBackend(), x.shape)) return fusedBatchNormTrain(x, gamma, beta);
  const axes = [...Array(x.rank - 1).keys()];
  const count = x.size / x.shape[x.rank - 1]!;
  let mean: Tensor | undefined;
  let variance: Tensor | undefined;
  const op = t.customGrad((...args: unknown[]) => {
    const [xi, g, bt, save] = args as [Tensor, Tensor, Tensor, (ts: Tensor[]) => void];
    const m = t.mean(xi, axes);
    const xc = t.sub(xi, m);
    const v = t.mean(t.square(xc), axes);
    const rstd = t.rsqrt(t.add(v, BN_EPS));
    const value = t.add(t.mul(xc, t.mul(rstd, g)), bt);
    mean = t.keep(m);
    variance = t.keep(v);
    save([xc, rstd, g]);
    return {
      value,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [sxc, srstd, sg] = saved as [Tensor, Tensor, Tensor];
        const dbeta = t.sum(dy, axes);
        const dgamma = t.mul(t.sum(t.mul(dy, sxc), axes), srstd);
        const a = t.mul(sg, srstd);
        const bc = t.mul(a, t.mul(srstd, t.mul(dgamma, -1 / count)));
        const c = t.mul(a, t.mul(dbeta, -1 / count));
        const dx = t.add(t.add(t.mul(dy, a), t.mul(sxc, bc)), c);
        return [dx, dgamma, dbeta];
      },
    };
  });
  const y = op(x, gamma, beta);
  return { y, mean: mean!, variance: variance! };
}

/**
 * The same on a backend's fused pair: 5 passes, not 13 (src/nn/kernels/batchnorm.ts on wasm; our
 * TensorFlow ops on native, src/nn/native/ops/lth_ops.cc).
 */
function fusedBatchNormTrain(x: Tensor, gamma: Tensor, beta: Tensor): { y: Tensor; mean: Tensor; variance: Tensor } {
  const t = tf();
  registerBatchNormKernels();
  let mean: Tensor | undefined;
  let variance: Tensor | undefined;
  const op = t.customGrad((...args: unknown[]) => {
    const [xi, g, bt, save] = args as [Tensor, Tensor, Tensor, (ts: Tensor[]) => void];
    const [value, m, v, ...forGrad] = t.engine().runKernel(BATCH_NORM_KERNEL, { x: xi, gamma: g, beta: bt }, { epsilon: BN_EPS }) as Tensor[];
    mean = t.keep(m!);
    variance = t.keep(v!);
    save([xi, g, ...forGrad]);
    return {
      value: value!,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [sx, sg, ...s] = saved as Tensor[];
        const inputs: Record<string, Tensor> = { dy, x: sx!, gamma: sg! };
        s.forEach((e, i) => (inputs[`s${i}`] = e));
        return t.engine().runKernel(BATCH_NORM_GRAD_KERNEL, inputs, { epsilon: BN_EPS }) as Tensor[];
      },
    };
  });
  const y = op(x, gamma, beta);
  return { y, mean: mean!, variance: variance! };
}

/** A batch-norm layer of a model, as channel pruning sees it. */
export interface BatchNormLayer {
  /** Its scale and shift tensors (`<bn>.gamma`, `<bn>.beta`). */
  gamma: string;
  beta: string;
  channels: number;
  /** The kernel whose output channels it normalizes (see ParamSpec.producer), if any. */
  producer?: string;
}

/** The batch-norm layers of a model's params, in the model's order. */
export function batchNormLayers(params: readonly ParamSpec[]): BatchNormLayer[] {
  const out: BatchNormLayer[] = [];
  for (const p of params) {
    if (p.role !== 'gamma') continue;
    const beta = `${p.name.slice(0, -'gamma'.length)}beta`;
    out.push({ gamma: p.name, beta, channels: p.shape[0]!, ...(p.producer === undefined ? {} : { producer: p.producer }) });
  }
  return out;
}

/**
 * What a mask may hold (the one definition, for the trainer and src/lth/masks.ts): the prunable
 * kernels, and the batch-norm scales and shifts. Pruning selects kernel entries only; channel
 * pruning (src/lth/channel-masks.ts) also zeroes a pruned channel's scale and shift, which the
 * masked optimizers then keep at exactly zero like any masked weight.
 */
export function maskableNames(model: { prunable: readonly string[]; params: readonly ParamSpec[] }): string[] {
  return [...model.prunable, ...model.params.filter((p) => p.role === 'gamma' || p.role === 'beta').map((p) => p.name)];
}
