/**
 * The convolution kernels for 'wasm' (NHWC only): the forward convolution and both gradients, on
 * our SIMD module (./simd/) where it is loaded and the shapes suit it (output channels a multiple
 * of 4), in place on the backend's heap; otherwise composed of the backend's XNNPACK convolution.
 *
 * - Conv2D: the SIMD forward convolution, else upstream's.
 * - Conv2DBackpropFilter (missing in the backend): the SIMD filter gradient, else one conv2d with
 *   the batch as the summed channel, dy as the filter and dilation = stride.
 * - Conv2DBackpropInput (a naive loop upstream): a convolution of the stride-dilated dy with the
 *   flipped, transposed filter.
 */
import type { backend_util, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { core } from '../tfjs-core.js';
import type { SimdKernels, Window } from './simd/index.js';
import { free, heapOffset, kernel, run, simdKernels, transpose, view, wasmBackend, type WasmBackend } from './wasm-backend.js';

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
      dimRoundingMode: undefined,
    },
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
  return core().backend_util.computeConv2DInfo(xShape as Shape4, filterShape as Shape4, a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode);
}

function checkNHWC(dataFormat: unknown, name: string): void {
  if (dataFormat !== undefined && dataFormat !== 'NHWC') {
    throw new Error(`wasm ${name}: only NHWC is supported, got ${String(dataFormat)}`);
  }
}

/** dW[i,j,ci,co] = sum_{n,oh,ow} x[n, oh*s+i-pt, ow*s+j-pl, ci] * dy[n,oh,ow,co] */
export const conv2DBackpropFilter: KernelFunc = ({ inputs, backend, attrs }) => {
  const b = wasmBackend(backend);
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
  const simd = simdKernels();
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
export const conv2D: KernelFunc = (args) => {
  const b = wasmBackend(args.backend);
  const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
  const a = args.attrs as unknown as ConvAttrs;
  const info = convInfo(a, x.shape, filter.shape);
  const plain = (a.dataFormat ?? 'NHWC') === 'NHWC' && info.dilationHeight === 1 && info.dilationWidth === 1;
  const simd = simdKernels();
  if (!simd || !plain || !simdConvOk(info.outChannels, x, filter)) return kernel('Conv2D')(args);
  return simdConv(b, simd, x, filter, windowOf(info));
};

/** dx = conv2d(dilate(dy, stride), flip(W)^T) with full padding, cropped to the input size. */
export const conv2DBackpropInput: KernelFunc = ({ inputs, backend, attrs }) => {
  const b = wasmBackend(backend);
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
      },
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
  const simd = simdKernels();
  const out =
    simd && simdConvOk(wT.shape[3]!, d, wT)
      ? simdConv(b, simd, d, wT, { fh, fw, sh: 1, sw: 1, pt: top, pl: left, oh: h, ow: w })
      : conv2dExplicit(b, d, wT, [top, bottom, left, right], [1, 1]);
  free(b, wT);
  if (dOwned) free(b, d);
  return out;
};
