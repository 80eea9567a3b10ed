/**
 * Extra and faster kernels for the TensorFlow.js WASM backend (4.22.0), so that it can train
 * convolutional networks at a usable speed. Where our SIMD module (./simd/) is loaded and the
 * shapes suit it (channel counts a multiple of 4), convolutions and matrix products run on it, in
 * place on the backend's heap. Otherwise they are composed of kernels the backend already has
 * (XNNPACK convolutions and matrix products), called directly at kernel level (./wasm-backend.ts).
 *
 * One file per family, each saying what it replaces upstream and why:
 * - ./conv.ts: Conv2D, Conv2DBackpropFilter, Conv2DBackpropInput.
 * - ./matmul.ts: BatchMatMul.
 * - ./reduce.ts: Sum / Mean over leading axes.
 * - ./pool.ts: MaxPoolGrad.
 * - ./identity.ts: Identity, and Cast to the same dtype.
 * - ./segment.ts: UnsortedSegmentSum (upstream has none: the gradient of gather, of an embedding).
 * (The fused batch norm and optimizer kernels, ./batchnorm.ts and ./optimizer.ts, are new kernels
 * registered by their users.) This file registers the overrides above.
 *
 * Every kernel here is checked against the CPU backend in test/nn/kernels.test.ts.
 */
import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { core } from '../tfjs-core.js';
import { conv2D, conv2DBackpropFilter, conv2DBackpropInput } from './conv.js';
import { cast, identity } from './identity.js';
import { batchMatMul } from './matmul.js';
import { maxPoolGrad } from './pool.js';
import { leadingReduce } from './reduce.js';
import { unsortedSegmentSum } from './segment.js';
import { BACKEND, original } from './wasm-backend.js';

export { simdKernels, useSimdKernels } from './wasm-backend.js';

const OVERRIDES: Array<[string, KernelFunc]> = [
  ['Conv2D', conv2D],
  ['Conv2DBackpropFilter', conv2DBackpropFilter],
  ['Conv2DBackpropInput', conv2DBackpropInput],
  ['BatchMatMul', batchMatMul],
  ['Sum', leadingReduce('Sum')],
  ['Mean', leadingReduce('Mean')],
  ['Identity', identity],
  ['MaxPoolGrad', maxPoolGrad],
  ['Cast', cast],
  ['UnsortedSegmentSum', unsortedSegmentSum],
];

/** Names of the kernels this module registers for the 'wasm' backend. */
export const WASM_KERNEL_NAMES: readonly string[] = OVERRIDES.map(([n]) => n);

let registered = false;

/**
 * Register our kernels for 'wasm' (idempotent). Upstream kernels being replaced keep their
 * `setupFunc`, so this works whether or not the backend has been initialised already.
 */
export function registerWasmKernels(): void {
  if (registered) return;
  registered = true;
  for (const [name, func] of OVERRIDES) {
    const prev = core().getKernel(name, BACKEND);
    const config: KernelConfig = { kernelName: name, backendName: BACKEND, kernelFunc: func };
    if (prev) {
      original.set(name, prev.kernelFunc);
      if (prev.setupFunc) config.setupFunc = prev.setupFunc;
      core().unregisterKernel(name, BACKEND);
    }
    core().registerKernel(config);
  }
}

/** For tests: run with the upstream kernels again (and back with `registerWasmKernels`). */
export function unregisterWasmKernels(): void {
  if (!registered) return;
  registered = false;
  for (const [name] of OVERRIDES) {
    core().unregisterKernel(name, BACKEND);
    const prev = original.get(name);
    if (prev) core().registerKernel({ kernelName: name, backendName: BACKEND, kernelFunc: prev });
  }
}
