/**
 * What our 'wasm' kernels (this folder) know of the TensorFlow.js WASM backend (4.22.0): the few
 * internals they use, typed once here (`wasmBackend`), and the helpers that call the backend's own
 * kernels directly at kernel level (no tape, no engine scope), intermediate results freed with
 * `backend.disposeData`. Also holds which SIMD module (./simd/) is in use, since every kernel
 * family and the fused kernels read it. The one place that depends on the backend's internals.
 */
import type { KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { core } from '../tfjs-core.js';
import type { SimdKernels } from './simd/index.js';

/** The parts of the WASM backend object that these kernels use. */
export interface WasmBackend {
  makeOutput(shape: number[], dtype: string): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array;
  disposeData(dataId: object, force?: boolean): boolean;
  incRef(dataId: object): void;
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
}

/** A kernel's `backend` argument (typed `{}` by tfjs-core) as the WASM backend it is. */
export function wasmBackend(backend: unknown): WasmBackend {
  return backend as WasmBackend;
}

/** Our SIMD module on the backend's heap, once `useSimdKernels` has been called. */
let simd: SimdKernels | undefined;

/** Use (or, with undefined, stop using) the hand-written SIMD kernels of ./simd/. */
export function useSimdKernels(k: SimdKernels | undefined): void {
  simd = k;
}

/** The SIMD kernels in use, if any (the fused optimizer update reads this). */
export function simdKernels(): SimdKernels | undefined {
  return simd;
}

/** Byte offset of a tensor's data on the WASM heap. */
export function heapOffset(b: WasmBackend, t: TensorInfo): number {
  const d = b.dataIdMap.get(t.dataId);
  if (!d) throw new Error('tensor has no data on the wasm backend');
  return d.memoryOffset;
}

export type Inputs = Record<string, TensorInfo>;
export const BACKEND = 'wasm';

/** The original (upstream) kernel functions, saved before we override any of them. */
export const original = new Map<string, KernelFunc>();

/** The upstream kernel `name` (saved when we replaced it, else the one registered). */
export function kernel(name: string): KernelFunc {
  const saved = original.get(name);
  if (saved) return saved;
  const k = core().getKernel(name, BACKEND);
  if (!k) throw new Error(`wasm backend has no kernel ${name}`);
  return k.kernelFunc;
}

/**
 * Run the upstream kernel `name`; its first output. `attrs` as the kernel reads them (nested
 * arrays, such as explicit paddings, are outside tfjs-core's `NamedAttrMap` type).
 */
export function run(b: WasmBackend, name: string, inputs: Inputs, attrs: object = {}): TensorInfo {
  const out = kernel(name)({ inputs, attrs: attrs as NamedAttrMap, backend: b });
  return (Array.isArray(out) ? out[0] : out) as TensorInfo;
}

export function free(b: WasmBackend, ...ts: TensorInfo[]): void {
  for (const t of ts) b.disposeData(t.dataId);
}

/** A reshaped view of `t` that shares (and does not own) its data. */
export function view(t: TensorInfo, shape: number[]): TensorInfo {
  return { dataId: t.dataId, shape, dtype: t.dtype };
}

export function transpose(b: WasmBackend, x: TensorInfo, perm: number[]): TensorInfo {
  return run(b, 'Transpose', { x }, { perm });
}
