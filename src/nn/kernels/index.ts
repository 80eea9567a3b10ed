/**
 * Extra and faster kernels for the TensorFlow.js WASM backend (4.22.0), so that it can train
 * convolutional networks at a usable speed. Where our SIMD module (./simd/) is loaded and the
 * shapes suit it (channel counts a multiple of 4), convolutions and matrix products run on it, in
 * place on the backend's heap. Otherwise they are composed of kernels the backend already has
 * (XNNPACK convolutions and matrix products), called directly at kernel level (no tape, no engine
 * scope), intermediate results freed with `backend.disposeData`:
 *
 * - Conv2D: the SIMD forward convolution, else upstream's.
 * - Conv2DBackpropFilter (missing in the backend): the SIMD filter gradient, else one conv2d with
 *   the batch as the summed channel, dy as the filter and dilation = stride.
 * - Conv2DBackpropInput (a naive loop upstream): a convolution of the stride-dilated dy with the
 *   flipped, transposed filter.
 * - BatchMatMul: A B, A^T B and A B^T on the SIMD module; batched products and other shapes with
 *   an explicit transpose, then the plain XNNPACK path (upstream: a scalar loop for transposes).
 * - Sum / Mean over leading axes (upstream transposes the whole tensor first; batch norm and every
 *   broadcast bias gradient hit this): XNNPACK average pooling. (A [1,R] x [R,C] product with a
 *   vector of ones looks fast in isolation, but XNNPACK repacks the [R,C] operand as matmul
 *   weights on every new tensor: 15-80 ms per call in training against ~1 ms.)
 * - MaxPoolGrad (a scalar loop upstream): the SIMD module's, else a channels-innermost loop.
 * - Identity, and Cast to the same dtype: share the input's memory (upstream copies it).
 *
 * Every kernel here is checked against the CPU backend in test/nn/kernels.test.ts.
 */
import {
  backend_util,
  getKernel,
  registerKernel,
  unregisterKernel,
  type KernelConfig,
  type KernelFunc,
  type NamedAttrMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import type { SimdKernels, Window } from './simd/index.js';

/** The parts of the WASM backend object that these kernels use. */
interface WasmBackend {
  makeOutput(shape: number[], dtype: string): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array;
  disposeData(dataId: object, force?: boolean): boolean;
  incRef(dataId: object): void;
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
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

type Inputs = Record<string, TensorInfo>;
const BACKEND = 'wasm';

/** The original (upstream) kernel functions, saved before we override any of them. */
const original = new Map<string, KernelFunc>();

function kernel(name: string): KernelFunc {
  const saved = original.get(name);
  if (saved) return saved;
  const k = getKernel(name, BACKEND);
  if (!k) throw new Error(`wasm backend has no kernel ${name}`);
  return k.kernelFunc;
}

function run(b: WasmBackend, name: string, inputs: Inputs, attrs: NamedAttrMap = {}): TensorInfo {
  const out = kernel(name)({ inputs, attrs, backend: b as never });
  return (Array.isArray(out) ? out[0] : out) as TensorInfo;
}

function free(b: WasmBackend, ...ts: TensorInfo[]): void {
  for (const t of ts) b.disposeData(t.dataId);
}

/** A reshaped view of `t` that shares (and does not own) its data. */
function view(t: TensorInfo, shape: number[]): TensorInfo {
  return { dataId: t.dataId, shape, dtype: t.dtype };
}

function transpose(b: WasmBackend, x: TensorInfo, perm: number[]): TensorInfo {
  return run(b, 'Transpose', { x }, { perm });
}

/**
 * Crop (negative pads) or keep rows/columns of an NHWC tensor so that explicit non-negative
 * padding remains. Returns the possibly sliced tensor (owned when `owned` is true) and the pads.
 */
function cropForPads(
  b: WasmBackend,
  x: TensorInfo,
  pads: [number, number, number, number],
): { x: TensorInfo; sliced: boolean; pads: [number, number, number, number] } {
  const [t, bo, l, r] = pads;
  if (t >= 0 && bo >= 0 && l >= 0 && r >= 0) return { x, sliced: false, pads };
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const begin = [0, Math.max(0, -t), Math.max(0, -l), 0];
  const size = [n, h - Math.max(0, -t) - Math.max(0, -bo), w - Math.max(0, -l) - Math.max(0, -r), c];
  const y = run(b, 'Slice', { x }, { begin, size });
  return { x: y, sliced: true, pads: [Math.max(0, t), Math.max(0, bo), Math.max(0, l), Math.max(0, r)] };
}

function conv2dExplicit(
  b: WasmBackend,
  x: TensorInfo,
  filter: TensorInfo,
  pads: [number, number, number, number],
  dilations: [number, number],
): TensorInfo {
  const c = cropForPads(b, x, pads);
  const [t, bo, l, r] = c.pads;
  const out = run(
    b,
    'Conv2D',
    { x: c.x, filter },
    {
      strides: [1, 1],
      pad: [
        [0, 0],
        [t, bo],
        [l, r],
        [0, 0],
      ],
      dataFormat: 'NHWC',
      dilations,
      dimRoundingMode: undefined as never,
    } as unknown as NamedAttrMap,
  );
  if (c.sliced) free(b, c.x);
  return out;
}

/** The attributes the convolution kernels share (tfjs-core's Conv2D* attrs). */
interface ConvAttrs {
  strides: number | [number, number];
  pad: 'same' | 'valid' | number | backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** The geometry of a convolution of an input of `xShape` with a filter of `filterShape`. */
function convInfo(a: ConvAttrs, xShape: number[], filterShape: number[]): backend_util.Conv2DInfo {
  type Shape4 = [number, number, number, number];
  return backend_util.computeConv2DInfo(xShape as Shape4, filterShape as Shape4, a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode);
}

function checkNHWC(dataFormat: unknown, name: string): void {
  if (dataFormat !== undefined && dataFormat !== 'NHWC') {
    throw new Error(`wasm ${name}: only NHWC is supported, got ${String(dataFormat)}`);
  }
}

/** dW[i,j,ci,co] = sum_{n,oh,ow} x[n, oh*s+i-pt, ow*s+j-pl, ci] * dy[n,oh,ow,co] */
const conv2DBackpropFilter: KernelFunc = ({ inputs, backend, attrs }) => {
  const b = backend as unknown as WasmBackend;
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const a = attrs as unknown as ConvAttrs & { filterShape: number[] };
  checkNHWC(a.dataFormat, 'Conv2DBackpropFilter');
  const info = convInfo(a, x.shape, a.filterShape);
  const [, h, w] = x.shape as [number, number, number, number];
  const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw, outHeight: oh, outWidth: ow } = info;
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;
  const pb = fh + sh * (oh - 1) - h - pt;
  const pr = fw + sw * (ow - 1) - w - pl;
  if (simd && simdConvOk(info.outChannels, x, dy)) return simdFilterGrad(b, simd, x, dy, windowOf(info));
  const xT = transpose(b, x, [3, 1, 2, 0]); // [Cin, H, W, N]
  const dyT = transpose(b, dy, [1, 2, 0, 3]); // [OH, OW, N, Cout]
  const out = conv2dExplicit(b, xT, dyT, [pt, pb, pl, pr], [sh, sw]); // [Cin, fh, fw, Cout]
  free(b, xT, dyT);
  const res = transpose(b, out, [1, 2, 0, 3]);
  free(b, out);
  return res;
};

/**
 * `x` [N, H, W, C] copied into a zero-filled [N, hp, wp, C] buffer with its origin at (pt, pl)
 * (negative: cropped), so that every convolution window is in bounds and each window row is
 * KW*C contiguous floats for our SIMD kernels; `x` itself when that would be a plain copy.
 */
function padWindows(b: WasmBackend, x: TensorInfo, pt: number, pl: number, hp: number, wp: number): { xp: TensorInfo; owned: boolean } {
  const [n, h, w, ch] = x.shape as [number, number, number, number];
  if (pt === 0 && pl === 0 && hp === h && wp === w) return { xp: x, owned: false };
  const xp = b.makeOutput([n, hp, wp, ch], 'float32');
  const src = b.typedArrayFromHeap(x);
  const dst = b.typedArrayFromHeap(xp);
  const c0 = Math.max(0, pl); // first padded column with data
  const c1 = Math.max(c0, Math.min(wp, pl + w)); // one past the last
  const r0 = Math.max(0, pt);
  const r1 = Math.max(r0, Math.min(hp, pt + h));
  const rowLen = wp * ch;
  // Only the border is zeroed: a full fill first would write the whole buffer twice.
  for (let img = 0; img < n; img++) {
    const base = img * hp * rowLen;
    dst.fill(0, base, base + r0 * rowLen);
    dst.fill(0, base + r1 * rowLen, base + hp * rowLen);
    for (let r = r0; r < r1; r++) {
      const row = base + r * rowLen;
      const s = ((img * h + (r - pt)) * w + (c0 - pl)) * ch;
      dst.fill(0, row, row + c0 * ch);
      dst.set(src.subarray(s, s + (c1 - c0) * ch), row + c0 * ch);
      dst.fill(0, row + c1 * ch, row + rowLen);
    }
  }
  return { xp, owned: true };
}

function windowOf(info: backend_util.Conv2DInfo): Window {
  const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw, outHeight: oh, outWidth: ow } = info;
  return { fh, fw, sh, sw, pt: info.padInfo.top, pl: info.padInfo.left, oh, ow };
}

/** The padded input of a convolution and the kernel arguments that describe it. */
function paddedInput(b: WasmBackend, x: TensorInfo, win: Window, cout: number) {
  const [n, , , cin] = x.shape as [number, number, number, number];
  const hp = (win.oh - 1) * win.sh + win.fh;
  const wp = (win.ow - 1) * win.sw + win.fw;
  const { xp, owned } = padWindows(b, x, win.pt, win.pl, hp, wp);
  const shape = { n, hp, wp, cin, oh: win.oh, ow: win.ow, cout, kh: win.fh, kw: win.fw, sh: win.sh, sw: win.sw };
  return { xp, owned, shape };
}

/** Forward convolution on our SIMD kernel: y [N, OH, OW, Cout]. */
function simdConv(b: WasmBackend, k: SimdKernels, x: TensorInfo, filter: TensorInfo, win: Window): TensorInfo {
  const cout = filter.shape[3]!;
  const { xp, owned, shape } = paddedInput(b, x, win, cout);
  const y = b.makeOutput([shape.n, win.oh, win.ow, cout], 'float32');
  k.conv({ ...shape, xp: heapOffset(b, xp), w: heapOffset(b, filter), y: heapOffset(b, y) });
  if (owned) free(b, xp);
  return y;
}

/** The filter gradient on our SIMD kernel, accumulated into a zeroed [fh, fw, Cin, Cout]. */
function simdFilterGrad(b: WasmBackend, k: SimdKernels, x: TensorInfo, dy: TensorInfo, win: Window): TensorInfo {
  const cout = dy.shape[3]!;
  const { xp, owned, shape } = paddedInput(b, x, win, cout);
  const out = b.makeOutput([win.fh, win.fw, shape.cin, cout], 'float32');
  // A view only after every allocation: an allocation can grow (and detach) the heap.
  b.typedArrayFromHeap(out).fill(0);
  k.convFilterGrad({ ...shape, xp: heapOffset(b, xp), dy: heapOffset(b, dy), dw: heapOffset(b, out) });
  if (owned) free(b, xp);
  return out;
}

/** Whether our SIMD kernels can compute a convolution with these tensors and output channels. */
const simdConvOk = (cout: number, ...ts: TensorInfo[]): boolean => cout % 4 === 0 && ts.every((t) => t.dtype === 'float32');

/**
 * Conv2D (forward) on our SIMD kernel where it applies (NHWC, no dilation, Cout a multiple of 4):
 * ~37-44 GFLOP/s on ResNet-20's layers against XNNPACK's ~30, and no filter packing per call.
 */
const conv2D: KernelFunc = (args) => {
  const b = args.backend as unknown as WasmBackend;
  const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
  const a = args.attrs as unknown as ConvAttrs;
  const info = convInfo(a, x.shape, filter.shape);
  const plain = (a.dataFormat ?? 'NHWC') === 'NHWC' && info.dilationHeight === 1 && info.dilationWidth === 1;
  if (!simd || !plain || !simdConvOk(info.outChannels, x, filter)) return kernel('Conv2D')(args);
  return simdConv(b, simd, x, filter, windowOf(info));
};

/** dx = conv2d(dilate(dy, stride), flip(W)^T) with full padding, cropped to the input size. */
const conv2DBackpropInput: KernelFunc = ({ inputs, backend, attrs }) => {
  const b = backend as unknown as WasmBackend;
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const a = attrs as unknown as ConvAttrs & { inputShape: [number, number, number, number] };
  checkNHWC(a.dataFormat, 'Conv2DBackpropInput');
  const info = convInfo(a, a.inputShape, filter.shape);
  const [n, h, w] = a.inputShape;
  const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw, outHeight: oh, outWidth: ow } = info;
  const cout = info.outChannels;
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;
  // Stride-dilated dy: [N, OH*sh, OW*sw, Cout], zeros between (and after) the rows/columns of dy.
  let d = dy;
  let dOwned = false;
  if (sh > 1 || sw > 1) {
    const v = view(dy, [n, oh, 1, ow, 1, cout]);
    const padded = run(
      b,
      'PadV2',
      { x: v },
      {
        paddings: [
          [0, 0],
          [0, 0],
          [0, sh - 1],
          [0, 0],
          [0, sw - 1],
          [0, 0],
        ],
        constantValue: 0,
      } as unknown as NamedAttrMap,
    );
    d = view(padded, [n, oh * sh, ow * sw, cout]);
    dOwned = true;
  }
  const rev = run(b, 'Reverse', { x: filter }, { dims: [0, 1] });
  const wT = transpose(b, rev, [0, 1, 3, 2]); // [fh, fw, Cout, Cin]
  free(b, rev);
  const dh = d.shape[1]!;
  const dw = d.shape[2]!;
  const top = fh - 1 - pt;
  const left = fw - 1 - pl;
  const bottom = h + fh - 1 - top - dh;
  const right = w + fw - 1 - left - dw;
  const out =
    simd && simdConvOk(wT.shape[3]!, d, wT)
      ? simdConv(b, simd, d, wT, { fh, fw, sh: 1, sw: 1, pt: top, pl: left, oh: h, ow: w })
      : conv2dExplicit(b, d, wT, [top, bottom, left, right], [1, 1]);
  free(b, wT);
  if (dOwned) free(b, d);
  return out;
};

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
const batchMatMul: KernelFunc = ({ inputs, backend, attrs }) => {
  const b = backend as unknown as WasmBackend;
  const { a, b: bb } = inputs as { a: TensorInfo; b: TensorInfo };
  const { transposeA = false, transposeB = false } = attrs as { transposeA?: boolean; transposeB?: boolean };
  const ra = a.shape.length;
  const batch = a.shape.slice(0, -2).reduce((p, q) => p * q, 1) * bb.shape.slice(0, -2).reduce((p, q) => p * q, 1);
  if (batch !== 1) return plainMatMul(b, a, bb, transposeA, transposeB); // upstream loop either way
  const m = transposeA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
  const k = transposeA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
  const n = transposeB ? bb.shape[bb.shape.length - 2]! : bb.shape[bb.shape.length - 1]!;
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

function avgPoolRows(b: WasmBackend, x: TensorInfo, rows: number, groups: number, c: number): TensorInfo {
  // x viewed as [groups, rows, 1, c]; one average over the rows of each group -> [groups, 1, 1, c].
  return run(
    b,
    'AvgPool',
    { x: view(x, [groups, rows, 1, c]) },
    { filterSize: [rows, 1], strides: [rows, 1], pad: 'valid', dimRoundingMode: undefined as never } as unknown as NamedAttrMap,
  );
}

/**
 * Sum or mean over a prefix of the axes as XNNPACK average pooling (one pass, SIMD over the
 * channels): first over the inner reduced axes per leading index, then over the leading axis;
 * a sum is the mean times the count.
 */
function leadingReduce(name: 'Sum' | 'Mean'): KernelFunc {
  return (args) => {
    const b = args.backend as unknown as WasmBackend;
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

/** Identity and same-dtype Cast share the input's memory (tensors are immutable) instead of copying it. */
const identity: KernelFunc = ({ inputs, backend }) => {
  const { x } = inputs as { x: TensorInfo };
  (backend as unknown as WasmBackend).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
};

const cast: KernelFunc = (args) => {
  const { x } = args.inputs as { x: TensorInfo };
  if ((args.attrs as { dtype: string }).dtype !== x.dtype) return kernel('Cast')(args);
  return identity(args);
};

/**
 * MaxPoolGrad (upstream: a scalar loop that took ~85 ms CPU on Conv-2's [60,32,32,64] input, 8% of
 * a step): one pass over each window, channels innermost; the gradient goes to the first maximum
 * of each window in row-major order, as in the CPU backend (ties included).
 */
const maxPoolGrad: KernelFunc = (args) => {
  const b = args.backend as unknown as WasmBackend;
  const { dy, input } = args.inputs as { dy: TensorInfo; input: TensorInfo };
  const a = args.attrs as unknown as {
    filterSize: number | [number, number];
    strides: number | [number, number];
    pad: 'same' | 'valid' | number | backend_util.ExplicitPadding;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  };
  const info = backend_util.computePool2DInfo(input.shape as [number, number, number, number], a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1 || input.dtype !== 'float32') return kernel('MaxPoolGrad')(args);
  const { batchSize: nb, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw } = info;
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;
  const out = b.makeOutput([...input.shape], 'float32');
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
    const prev = getKernel(name, BACKEND);
    const config: KernelConfig = { kernelName: name, backendName: BACKEND, kernelFunc: func };
    if (prev) {
      original.set(name, prev.kernelFunc);
      if (prev.setupFunc) config.setupFunc = prev.setupFunc;
      unregisterKernel(name, BACKEND);
    }
    registerKernel(config);
  }
}

/** For tests: run with the upstream kernels again (and back with `registerWasmKernels`). */
export function unregisterWasmKernels(): void {
  if (!registered) return;
  registered = false;
  for (const [name] of OVERRIDES) {
    unregisterKernel(name, BACKEND);
    const prev = original.get(name);
    if (prev) registerKernel({ kernelName: name, backendName: BACKEND, kernelFunc: prev });
  }
}
