/**
 * MaxPoolGrad for 'wasm' (a scalar loop upstream): our SIMD module's (./simd/) where it is loaded
 * and the channel count is a multiple of 4, else a channels-innermost loop over the heap.
 */
import type { backend_util, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { core } from '../tfjs-core.js';
import { heapOffset, kernel, simdKernels, wasmBackend } from './wasm-backend.js';

/**
 * MaxPoolGrad (upstream: a scalar loop that took ~85 ms CPU on Conv-2's [60,32,32,64] input, 8% of
 * a step): one pass over each window, channels innermost; the gradient goes to the first maximum
 * of each window in row-major order, as in the CPU backend (ties included).
 */
export const maxPoolGrad: KernelFunc = (args) => {
  const b = wasmBackend(args.backend);
  const { dy, input } = args.inputs as { dy: TensorInfo; input: TensorInfo };
  const a = args.attrs as unknown as {
    filterSize: number | [number, number];
    strides: number | [number, number];
    pad: 'same' | 'valid' | number | backend_util.ExplicitPadding;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  };
  const info = core().backend_util.computePool2DInfo(input.shape as [number, number, number, number], a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1 || input.dtype !== 'float32') return kernel('MaxPoolGrad')(args);
  const { batchSize: nb, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw } = info;
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;
  const out = b.makeOutput([...input.shape], 'float32');
  const simd = simdKernels();
  if (simd && c % 4 === 0 && dy.dtype === 'float32') {
    b.typedArrayFromHeap(out).fill(0);
    simd.maxPoolGrad({ x: heapOffset(b, input), dy: heapOffset(b, dy), dx: heapOffset(b, out), n: nb, h, w, c, oh, ow, fh, fw, sh, sw, pt, pl });
    return out;
  }
  const X = b.typedArrayFromHeap(input);
  const DY = b.typedArrayFromHeap(dy);
  const DX = b.typedArrayFromHeap(out);
  DX.fill(0);
  const maxv = new Float64Array(c);
  const maxp = new Int32Array(c);
  for (let n = 0; n < nb; n++) {
    for (let yr = 0; yr < oh; yr++) {
      const r0 = yr * sh - pt;
      const rMin = Math.max(0, r0);
      const rMax = Math.min(h, r0 + fh);
      for (let yc = 0; yc < ow; yc++) {
        const c0 = yc * sw - pl;
        const cMin = Math.max(0, c0);
        const cMax = Math.min(w, c0 + fw);
        maxv.fill(-Infinity);
        maxp.fill(-1);
        for (let xr = rMin; xr < rMax; xr++) {
          for (let xc = cMin; xc < cMax; xc++) {
            const base = ((n * h + xr) * w + xc) * c;
            for (let d = 0; d < c; d++) {
              const v = X[base + d]!;
              if (v > maxv[d]!) {
                maxv[d] = v;
                maxp[d] = base + d;
              }
            }
          }
        }
        const ob = ((n * oh + yr) * ow + yc) * c;
        for (let d = 0; d < c; d++) {
          const pos = maxp[d]!;
          if (pos >= 0) DX[pos] = DX[pos]! + DY[ob + d]!;
        }
      }
    }
  }
  return out;
};
