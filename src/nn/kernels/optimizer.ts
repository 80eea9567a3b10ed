/**
 * A fused, masked optimizer update as one kernel (`LthOptimizerUpdate`) for the 'wasm' and 'cpu'
 * backends (and, through our TensorFlow op with the same loops, for the native one: ./native.ts): one pass over a parameter's elements on the backend's own memory (the WASM heap or the
 * cpu backend's typed arrays) instead of ~10-17 element-wise kernels per parameter, each with its
 * own allocation and dispatch (the update was ~40% of a LeNet-300-100 step on wasm).
 *
 * Numerics: every operation is the float32 operation of the composed version in src/nn/optim.ts,
 * in the same order (each result rounded with Math.fround; +, -, *, / and sqrt of float32 values
 * computed in double and rounded once are exactly the float32 results), so both paths give
 * bitwise the same weights (checked in test/nn/kernels.test.ts).
 *
 * Inputs: p, g, and optionally mask, s1 (momentum buffer or Adam's m), s2 (Adam's v).
 * Outputs: [newP] (sgd), [newP, newBuf] (momentum, nesterov), [newP, newM, newV] (adam, adamw).
 */
import type { KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { core } from '../tfjs-core.js';
import { heapOffset, simdKernels, wasmBackend } from './wasm-backend.js';
import type { SimdKernels } from './simd/index.js';
import type { OptimizerType } from '../optimizer-types.js';

export const OPTIMIZER_KERNEL = 'LthOptimizerUpdate';

export interface OptimizerUpdateAttrs {
  type: OptimizerType;
  lr: number;
  weightDecay: number;
  momentum: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  /** Adam's bias corrections 1 - beta^t (computed in double, as the composed version does). */
  bc1: number;
  bc2: number;
}

interface Mem {
  get(t: TensorInfo): Float32Array;
  out(shape: number[]): TensorInfo;
}

/** New weights, plus the momentum buffer or Adam's two moments. */
export const optimizerOutputCount = (type: OptimizerUpdateAttrs['type']): number => (type === 'sgd' ? 1 : type === 'adam' || type === 'adamw' ? 3 : 2);

function wasmMem(backend: unknown): Mem {
  const b = wasmBackend(backend);
  return { get: (t) => b.typedArrayFromHeap(t), out: (shape) => b.makeOutput(shape, 'float32') };
}

function cpuMem(backend: unknown): Mem {
  const b = backend as {
    data: { get(id: object): { values: unknown } };
    makeTensorInfo(shape: number[], dtype: string, values?: Float32Array): TensorInfo;
  };
  return {
    get: (t) => {
      const v = b.data.get(t.dataId).values;
      return v instanceof Float32Array ? v : Float32Array.from(v as ArrayLike<number>);
    },
    out: (shape) => b.makeTensorInfo(shape, 'float32', new Float32Array(shape.reduce((x, y) => x * y, 1))),
  };
}

const f = Math.fround;

/**
 * AdamW's factor on the weight before the step, 1 - lr * weightDecay, in float32 operations (the
 * product rounded, then the difference): every path multiplies by this one float32 value, so the
 * composed, fused and SIMD updates agree bit for bit.
 */
export function decoupledDecay(lr: number, weightDecay: number): number {
  return f(1 - f(f(lr) * f(weightDecay)));
}

/** Monomorphic arguments of the loops (absent arrays are replaced by P and a false flag). */
interface LoopArgs {
  n: number;
  P: Float32Array;
  G: Float32Array;
  M: Float32Array;
  hasM: boolean;
  wd: number;
  hasWd: boolean;
  /** AdamW: the weight is multiplied by `decay` before the step (and `hasWd` is false). */
  decay: number;
  hasDecay: boolean;
  NP: Float32Array;
  S1: Float32Array;
  hasS1: boolean;
  S2: Float32Array;
  hasS2: boolean;
  O1: Float32Array;
  O2: Float32Array;
}

// The effective gradient is (g * mask) + p * wd, the new weight (p - upd) * mask, as composed.
function sgdLoop(o: LoopArgs, lr: number): void {
  const { n, P, G, M, hasM, wd, hasWd, NP } = o;
  for (let i = 0; i < n; i++) {
    let gi = G[i]!;
    if (hasM) gi = f(gi * M[i]!);
    if (hasWd) gi = f(gi + f(P[i]! * wd));
    let np = f(P[i]! - f(gi * lr));
    if (hasM) np = f(np * M[i]!);
    NP[i] = np;
  }
}

function momentumLoop(o: LoopArgs, lr: number, mom: number, nesterov: boolean): void {
  const { n, P, G, M, hasM, wd, hasWd, NP, S1, hasS1, O1 } = o;
  for (let i = 0; i < n; i++) {
    let gi = G[i]!;
    if (hasM) gi = f(gi * M[i]!);
    if (hasWd) gi = f(gi + f(P[i]! * wd));
    const buf = hasS1 ? f(f(S1[i]! * mom) + gi) : gi;
    O1[i] = buf;
    const upd = nesterov ? f(f(gi + f(buf * mom)) * lr) : f(buf * lr);
    let np = f(P[i]! - upd);
    if (hasM) np = f(np * M[i]!);
    NP[i] = np;
  }
}

function adamLoop(o: LoopArgs, b1: number, b2: number, c1: number, c2: number, bc2: number, eps: number, step: number): void {
  const { n, P, G, M, hasM, wd, hasWd, decay, hasDecay, NP, S1, hasS1, S2, hasS2, O1, O2 } = o;
  for (let i = 0; i < n; i++) {
    let gi = G[i]!;
    if (hasM) gi = f(gi * M[i]!);
    if (hasWd) gi = f(gi + f(P[i]! * wd));
    const m = hasS1 ? f(f(S1[i]! * b1) + f(gi * c1)) : f(gi * c1);
    const g2 = f(gi * gi);
    const v = hasS2 ? f(f(S2[i]! * b2) + f(g2 * c2)) : f(g2 * c2);
    O1[i] = m;
    O2[i] = v;
    const denom = f(f(Math.sqrt(f(v / bc2))) + eps);
    const p = hasDecay ? f(P[i]! * decay) : P[i]!;
    let np = f(p - f(f(m * step) / denom));
    if (hasM) np = f(np * M[i]!);
    NP[i] = np;
  }
}

function update(mem: Mem, inputs: Record<string, TensorInfo>, a: OptimizerUpdateAttrs): TensorInfo[] {
  const { p, g, mask, s1, s2 } = inputs as { p: TensorInfo; g: TensorInfo; mask?: TensorInfo; s1?: TensorInfo; s2?: TensorInfo };
  const shape = p.shape;
  const nOut = optimizerOutputCount(a.type);
  // Allocate every output before taking views: an allocation can grow (and detach) the WASM heap.
  const outs: TensorInfo[] = [];
  for (let i = 0; i < nOut; i++) outs.push(mem.out([...shape]));
  const P = mem.get(p);
  const G = mem.get(g);
  const M = mask ? mem.get(mask) : undefined;
  const S1 = s1 ? mem.get(s1) : undefined;
  const S2 = s2 ? mem.get(s2) : undefined;
  const NP = mem.get(outs[0]!);
  const lr = f(a.lr);
  const wd = f(a.weightDecay);
  const decoupled = a.type === 'adamw' && a.weightDecay > 0;
  const o: LoopArgs = {
    n: P.length,
    P,
    G,
    M: M ?? P,
    hasM: M !== undefined,
    wd,
    hasWd: a.weightDecay > 0 && a.type !== 'adamw',
    decay: decoupled ? decoupledDecay(a.lr, a.weightDecay) : 1,
    hasDecay: decoupled,
    NP,
    S1: S1 ?? P,
    hasS1: S1 !== undefined,
    S2: S2 ?? P,
    hasS2: S2 !== undefined,
    O1: outs[1] ? mem.get(outs[1]) : P,
    O2: outs[2] ? mem.get(outs[2]) : P,
  };
  switch (a.type) {
    case 'sgd':
      sgdLoop(o, lr);
      break;
    case 'momentum':
    case 'nesterov':
      momentumLoop(o, lr, f(a.momentum), a.type === 'nesterov');
      break;
    case 'adam':
    case 'adamw':
      adamLoop(o, f(a.beta1), f(a.beta2), f(1 - a.beta1), f(1 - a.beta2), f(a.bc2), f(a.epsilon), f(a.lr / a.bc1));
      break;
  }
  return outs;
}

/**
 * The same update on our WASM SIMD module (./simd/), in place on the heap: four elements per
 * instruction, bitwise the scalar loops above (IEEE float32 lanes, same order of operations).
 */
function simdUpdate(k: SimdKernels, backend: unknown, inputs: Record<string, TensorInfo>, a: OptimizerUpdateAttrs): TensorInfo[] {
  const b = wasmBackend(backend);
  const { p, g, mask, s1, s2 } = inputs as { p: TensorInfo; g: TensorInfo; mask?: TensorInfo; s1?: TensorInfo; s2?: TensorInfo };
  const outs: TensorInfo[] = [];
  for (let i = 0; i < optimizerOutputCount(a.type); i++) outs.push(b.makeOutput([...p.shape], 'float32'));
  const at = (t: TensorInfo | undefined): number => (t ? heapOffset(b, t) : 0);
  k.optimizerUpdate({
    kind: a.type,
    n: p.shape.reduce((x, y) => x * y, 1),
    p: at(p),
    g: at(g),
    mask: at(mask),
    s1: at(s1),
    s2: at(s2),
    np: at(outs[0]),
    o1: at(outs[1]),
    o2: at(outs[2]),
    lr: a.lr,
    // AdamW's decay multiplies the weight (the factor may be 0 when lr * weightDecay = 1: hence hasWd).
    hasWd: a.weightDecay > 0,
    wd: a.type === 'adamw' ? decoupledDecay(a.lr, a.weightDecay) : a.weightDecay,
    momentum: a.momentum,
    b1: a.beta1,
    b2: a.beta2,
    c1: 1 - a.beta1,
    c2: 1 - a.beta2,
    bc2: a.bc2,
    eps: a.epsilon,
    step: a.lr / a.bc1,
  });
  return outs;
}

function kernelFor(memOf: (b: unknown) => Mem): KernelFunc {
  return ({ inputs, backend, attrs }) =>
    update(memOf(backend), inputs as Record<string, TensorInfo>, attrs as unknown as OptimizerUpdateAttrs);
}

let registered = false;

/** Register the fused update for 'wasm' and 'cpu' (idempotent). */
export function registerOptimizerKernels(): void {
  if (registered) return;
  registered = true;
  const scalarWasm = kernelFor(wasmMem);
  const wasmKernel: KernelFunc = (args) => {
    const k = simdKernels();
    if (!k) return scalarWasm(args);
    return simdUpdate(k, args.backend, args.inputs as Record<string, TensorInfo>, args.attrs as unknown as OptimizerUpdateAttrs);
  };
  if (!core().getKernel(OPTIMIZER_KERNEL, 'wasm')) core().registerKernel({ kernelName: OPTIMIZER_KERNEL, backendName: 'wasm', kernelFunc: wasmKernel });
  if (!core().getKernel(OPTIMIZER_KERNEL, 'cpu')) core().registerKernel({ kernelName: OPTIMIZER_KERNEL, backendName: 'cpu', kernelFunc: kernelFor(cpuMem) });
}

export type { NamedAttrMap };
