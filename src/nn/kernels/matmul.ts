/**
 * BatchMatMul for 'wasm' (dense layers and their gradients). Upstream multiplies transposed
 * operands in a scalar loop; here A B, A^T B and A B^T run on our SIMD module (./simd/) where it
 * is loaded, reading both operands in place; batched products and other shapes get an explicit
 * transpose, then the plain XNNPACK path, in whichever of two forms the cost model below prefers.
 */
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { free, heapOffset, run, simdKernels, transpose, wasmBackend, type Inputs, type WasmBackend } from './wasm-backend.js';

/**
 * Cost model of the two forms (in element operations): packing the right operand costs ~2 per
 * element against 1 for an in-cache transpose; transposes of matrices larger than the cache
 * (~1 MB here) are ~4x slower per element (measured: the swapped form won on LeNet's
 * [60,784]x[784,300], the direct one by 2.3x on Conv-2's [60,16384]x[16384,256]).
 */
const PACK_COST = 2;
const transposeCost = (elems: number): number => elems * (elems > 262144 ? 4 : 1);

function swapLast(b: WasmBackend, t: TensorInfo): TensorInfo {
  const r = t.shape.length;
  const perm = [...Array(r).keys()];
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return transpose(b, t, perm);
}

/** op(a) x op(b) on the XNNPACK path, materialising the transposed operands. */
function plainMatMul(b: WasmBackend, a: TensorInfo, bb: TensorInfo, ta: boolean, tb: boolean): TensorInfo {
  const aT = ta ? swapLast(b, a) : a;
  const bT = tb ? swapLast(b, bb) : bb;
  const out = run(b, 'BatchMatMul', { a: aT, b: bT }, { transposeA: false, transposeB: false });
  if (ta) free(b, aT);
  if (tb) free(b, bT);
  return out;
}

/**
 * C = op(A) op(B). XNNPACK only multiplies untransposed operands and packs the right operand
 * (as "weights") on every new tensor, so a large right operand is expensive. Either compute C
 * directly, or as (op(B)^T op(A)^T)^T, whichever transposes and packs fewer elements: for a dense
 * layer's input gradient dY W^T that avoids transposing and packing the whole weight matrix.
 */
export const batchMatMul: KernelFunc = ({ inputs, backend, attrs }) => {
  const b = wasmBackend(backend);
  const { a, b: bb } = inputs as { a: TensorInfo; b: TensorInfo };
  const { transposeA = false, transposeB = false } = attrs as { transposeA?: boolean; transposeB?: boolean };
  const ra = a.shape.length;
  const batch = a.shape.slice(0, -2).reduce((p, q) => p * q, 1) * bb.shape.slice(0, -2).reduce((p, q) => p * q, 1);
  if (batch !== 1) return plainMatMul(b, a, bb, transposeA, transposeB); // upstream loop either way
  const m = transposeA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
  const k = transposeA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
  const n = transposeB ? bb.shape[bb.shape.length - 2]! : bb.shape[bb.shape.length - 1]!;
  const simd = simdKernels();
  if (simd && a.dtype === 'float32' && bb.dtype === 'float32' && !(transposeA && transposeB)) {
    // Our kernels read both operands as they are (no transposes, no packing).
    const outShape = [...a.shape.slice(0, -2), m, n];
    if (!transposeB && n % 4 === 0) {
      const out = b.makeOutput(outShape, 'float32');
      (transposeA ? simd.matMulTN : simd.matMul)(heapOffset(b, a), heapOffset(b, bb), heapOffset(b, out), m, k, n);
      return out;
    }
    if (transposeB && k % 4 === 0) {
      const out = b.makeOutput(outShape, 'float32');
      simd.matMulNT(heapOffset(b, a), heapOffset(b, bb), heapOffset(b, out), m, k, n);
      return out;
    }
    if (transposeB && !transposeA && n % 4 === 0) {
      // K not a multiple of 4 (a small layer's dY W^T): transposing B is cheap, the product then plain.
      const bT = swapLast(b, bb);
      const out = b.makeOutput(outShape, 'float32');
      simd.matMul(heapOffset(b, a), heapOffset(b, bT), heapOffset(b, out), m, k, n);
      free(b, bT);
      return out;
    }
  }
  const direct = (transposeA ? transposeCost(m * k) : 0) + (transposeB ? transposeCost(k * n) : 0) + PACK_COST * k * n;
  const swapped = (transposeB ? 0 : transposeCost(k * n)) + (transposeA ? 0 : transposeCost(m * k)) + PACK_COST * m * k + transposeCost(m * n);
  if (direct <= swapped) {
    if (!transposeA && !transposeB) return run(b, 'BatchMatMul', inputs as Inputs, attrs);
    return plainMatMul(b, a, bb, transposeA, transposeB);
  }
  const ct = plainMatMul(b, bb, a, !transposeB, !transposeA);
  const c = swapLast(b, ct);
  free(b, ct);
  return c;
};
