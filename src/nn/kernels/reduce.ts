/**
 * Sum / Mean over leading axes for 'wasm' (batch norm and every broadcast bias gradient reduce
 * this way). Upstream transposes the whole tensor first; here it is XNNPACK average pooling. (A
 * [1,R] x [R,C] product with a vector of ones looks fast in isolation, but XNNPACK repacks the
 * [R,C] operand as matmul weights on every new tensor: 15-80 ms per call in training against
 * ~1 ms.) Other reductions go to upstream's kernels.
 */
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { free, run, view, wasmBackend, type Inputs, type WasmBackend } from './wasm-backend.js';

function avgPoolRows(b: WasmBackend, x: TensorInfo, rows: number, groups: number, c: number): TensorInfo {
  // x viewed as [groups, rows, 1, c]; one average over the rows of each group -> [groups, 1, 1, c].
  return run(
    b,
    'AvgPool',
    { x: view(x, [groups, rows, 1, c]) },
    { filterSize: [rows, 1], strides: [rows, 1], pad: 'valid', dimRoundingMode: undefined },
  );
}

/**
 * Sum or mean over a prefix of the axes as XNNPACK average pooling (one pass, SIMD over the
 * channels): first over the inner reduced axes per leading index, then over the leading axis;
 * a sum is the mean times the count.
 */
export function leadingReduce(name: 'Sum' | 'Mean'): KernelFunc {
  return (args) => {
    const b = wasmBackend(args.backend);
    const { x } = args.inputs as { x: TensorInfo };
    const { axis, keepDims } = args.attrs as { axis: number | number[]; keepDims?: boolean };
    const rank = x.shape.length;
    const axes = (Array.isArray(axis) ? axis : [axis]).map((v) => (v < 0 ? v + rank : v)).sort((p, q) => p - q);
    const prefix = axes.length > 0 && axes.length < rank && axes.every((v, i) => v === i);
    if (!prefix || x.dtype !== 'float32') return run(b, name, args.inputs as Inputs, args.attrs);
    const r = x.shape.slice(0, axes.length).reduce((p, q) => p * q, 1);
    const c = x.shape.slice(axes.length).reduce((p, q) => p * q, 1);
    if (r < 2 || c < 1) return run(b, name, args.inputs as Inputs, args.attrs);
    const r1 = x.shape[0]!;
    const r2 = r / r1;
    let out: TensorInfo;
    if (axes.length >= 2 && r1 > 1 && r2 > 1) {
      const partial = avgPoolRows(b, x, r2, r1, c);
      out = avgPoolRows(b, partial, r1, 1, c);
      free(b, partial);
    } else {
      out = avgPoolRows(b, x, r, 1, c);
    }
    if (name === 'Sum') {
      const k = b.makeOutput([], 'float32');
      b.typedArrayFromHeap(k)[0] = r;
      const scaled = run(b, 'Multiply', { a: out, b: k });
      free(b, out, k);
      out = scaled;
    }
    const outShape = keepDims ? x.shape.map((s, i) => (i < axes.length ? 1 : s)) : x.shape.slice(axes.length);
    return view(out, outShape);
  };
}
