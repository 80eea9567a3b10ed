/**
 * Training-mode batch norm as two kernels for the 'wasm' backend on our SIMD module (./simd/):
 * 3 passes over the activations forward and 2 backward, instead of the 13 full-size element-wise
 * kernels of the composed version (src/nn/models, `batchNormTrain`), which every other backend
 * uses. Same formulas, same order of per-element operations; sums are blocked, so results agree
 * with the composed version to rounding (checked in test/nn/kernels.test.ts).
 *
 * The pair's contract, which the native backend's pair (./native.ts) keeps too:
 * LthBatchNorm: inputs x [..., C], gamma [C], beta [C]; attr epsilon.
 *   Outputs: y, batch mean, batch (biased) variance, then what the gradient needs, saved by the
 *   caller and passed back as s0, s1, ...: here xc = x - mean and rstd = 1 / sqrt(variance + eps).
 * LthBatchNormGrad: inputs dy, x, gamma, s0, s1, ...; attr epsilon. Outputs: dx, dgamma, dbeta.
 */
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { core } from '../tfjs-core.js';
import { free, heapOffset, simdKernels, wasmBackend, type WasmBackend } from './wasm-backend.js';

export const BATCH_NORM_KERNEL = 'LthBatchNorm';
export const BATCH_NORM_GRAD_KERNEL = 'LthBatchNormGrad';

/**
 * A layer's whole training-mode batch norm, where a backend has it (the native backend, with our
 * ops: ./native.ts; wasm has not):
 * LthBatchNormTrain: inputs x [..., C], gamma, beta, runningMean, runningVar [C], and optionally
 *   residual (x's shape); attrs epsilon, keep, m, varM (the running averages' update: running *
 *   keep + batch * m, the variance's batch term times varM = m n / (n - 1), n rows; float32 as the
 *   composed update's scalars) and relu (y = max(0, bn(x)): a batch norm directly followed by
 *   ReLU; with residual, y = max(0, bn(x) + residual): the end of a residual block).
 *   Outputs: y, the updated running mean and variance, then s0, s1, ... for the gradient.
 * LthBatchNormTrainGrad: inputs dy, x, gamma, beta, s0, s1, ..., and y (the forward output) where
 *   the forward pass had a residual; attr relu. Outputs dx, dgamma, dbeta (with relu, of the ReLU's
 *   input: dy counts only where it was > 0), and the residual's gradient where there was one.
 */
export const BATCH_NORM_TRAIN_KERNEL = 'LthBatchNormTrain';
export const BATCH_NORM_TRAIN_GRAD_KERNEL = 'LthBatchNormTrainGrad';

export interface BatchNormTrainAttrs {
  epsilon: number;
  keep: number;
  m: number;
  varM: number;
  relu: boolean;
}

/** Whether the active backend has the LthBatchNormTrain pair (above). */
export function batchNormTrainKernelAvailable(backendName: string): boolean {
  return core().getKernel(BATCH_NORM_TRAIN_KERNEL, backendName) !== undefined && core().getKernel(BATCH_NORM_TRAIN_GRAD_KERNEL, backendName) !== undefined;
}

const f = Math.fround;

function simd() {
  const k = simdKernels();
  if (!k) throw new Error('LthBatchNorm needs the SIMD module (src/nn/kernels/simd/)');
  return k;
}

/** Zeroed per-channel outputs (sums are accumulated into them). */
function zeros(b: WasmBackend, n: number, c: number): TensorInfo[] {
  const outs = Array.from({ length: n }, () => b.makeOutput([c], 'float32'));
  for (const o of outs) b.typedArrayFromHeap(o).fill(0);
  return outs;
}

const forward: KernelFunc = ({ inputs, backend, attrs }) => {
  const b = wasmBackend(backend);
  const { x, gamma, beta } = inputs as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
  const eps = (attrs as { epsilon: number }).epsilon;
  const c = x.shape[x.shape.length - 1]!;
  const rows = x.shape.reduce((p, q) => p * q, 1) / c;
  const y = b.makeOutput([...x.shape], 'float32');
  const xc = b.makeOutput([...x.shape], 'float32');
  const [mean, variance, rstd, scale] = zeros(b, 4, c) as [TensorInfo, TensorInfo, TensorInfo, TensorInfo];
  const k = simd();
  const ptr = (t: TensorInfo): number => heapOffset(b, t);
  k.chanSum(ptr(x), ptr(mean), rows, c);
  const m = b.typedArrayFromHeap(mean);
  for (let i = 0; i < c; i++) m[i] = f(m[i]! / rows);
  k.bnCenter(ptr(x), ptr(mean), ptr(xc), ptr(variance), rows, c);
  const v = b.typedArrayFromHeap(variance);
  const r = b.typedArrayFromHeap(rstd);
  const s = b.typedArrayFromHeap(scale);
  const g = b.typedArrayFromHeap(gamma);
  for (let i = 0; i < c; i++) {
    v[i] = f(v[i]! / rows);
    r[i] = f(1 / f(Math.sqrt(f(v[i]! + eps))));
    s[i] = f(r[i]! * g[i]!);
  }
  k.chanAffine(ptr(xc), ptr(scale), ptr(beta), ptr(y), rows, c);
  free(b, scale);
  return [y, mean, variance, xc, rstd];
};

const backward: KernelFunc = ({ inputs, backend }) => {
  const b = wasmBackend(backend);
  const { dy, s0: xc, s1: rstd, gamma } = inputs as { dy: TensorInfo; s0: TensorInfo; s1: TensorInfo; gamma: TensorInfo };
  const c = dy.shape[dy.shape.length - 1]!;
  const rows = dy.shape.reduce((p, q) => p * q, 1) / c;
  const dx = b.makeOutput([...dy.shape], 'float32');
  const [dbeta, dgamma, a, bc, cc] = zeros(b, 5, c) as [TensorInfo, TensorInfo, TensorInfo, TensorInfo, TensorInfo];
  const k = simd();
  const ptr = (t: TensorInfo): number => heapOffset(b, t);
  k.chanDot(ptr(dy), ptr(xc), ptr(dbeta), ptr(dgamma), rows, c);
  const [DB, DG, A, BC, CC] = [dbeta, dgamma, a, bc, cc].map((t) => b.typedArrayFromHeap(t)) as Float32Array[];
  const R = b.typedArrayFromHeap(rstd);
  const G = b.typedArrayFromHeap(gamma);
  const inv = f(-1 / rows);
  for (let i = 0; i < c; i++) {
    // As the composed gradient: dgamma = rstd * sum(dy xc); dx = a dy + bc xc + c.
    DG![i] = f(DG![i]! * R[i]!);
    A![i] = f(G[i]! * R[i]!);
    BC![i] = f(A![i]! * f(R[i]! * f(DG![i]! * inv)));
    CC![i] = f(A![i]! * f(DB![i]! * inv));
  }
  k.chanAffine2(ptr(dy), ptr(a), ptr(xc), ptr(bc), ptr(cc), ptr(dx), rows, c);
  free(b, a, bc, cc);
  return [dx, dgamma, dbeta];
};

/**
 * Whether a fused batch norm pair can run on the active backend for activations of this shape:
 * this file's on wasm with the SIMD module (channels in multiples of 4), or one that another
 * backend registered (the native backend's, with our ops: ./native.ts).
 */
export function fusedBatchNormAvailable(backendName: string, shape: readonly number[]): boolean {
  if (backendName === 'wasm') return shape[shape.length - 1]! % 4 === 0 && simdKernels() !== undefined;
  return core().getKernel(BATCH_NORM_KERNEL, backendName) !== undefined;
}

let registered = false;

/** Register both kernels for 'wasm' (idempotent). */
export function registerBatchNormKernels(): void {
  if (registered) return;
  registered = true;
  if (!core().getKernel(BATCH_NORM_KERNEL, 'wasm')) core().registerKernel({ kernelName: BATCH_NORM_KERNEL, backendName: 'wasm', kernelFunc: forward });
  if (!core().getKernel(BATCH_NORM_GRAD_KERNEL, 'wasm')) core().registerKernel({ kernelName: BATCH_NORM_GRAD_KERNEL, backendName: 'wasm', kernelFunc: backward });
}
