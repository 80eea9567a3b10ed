/**
 * Hand-written WebAssembly SIMD kernels that work in place on the TensorFlow.js WASM backend's
 * heap: our module imports the backend's `WebAssembly.Memory`, so tensors are read and written at
 * their heap offsets with no copies.
 *
 * Why by hand: the kernels XNNPACK lacks are the two that dominate a conv-net training step
 * (see bench/RESULTS.md). Its GEMM streams the whole packed operand once per output tile, so the
 * filter gradient - a product with a small M x N and a huge K - is memory-bound at ~12 GFLOP/s.
 * The kernel here walks K in blocks that stay in cache, keeping the whole dW tile in registers.
 * The module is written as WebAssembly text generated below (loops unrolled by the generator),
 * assembled by wabt (`wabt` on npm) when the backend starts: no native tool chain, no generated
 * binary in git.
 *
 * Numerics are plain IEEE float32 SIMD (no relaxed/fused operations), so results are the same on
 * every machine, as with XNNPACK's WASM kernels.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { KernelThreads, splitRange } from './simd-threads.js';

/** The functions of the module; pointers are byte offsets into the backend's heap. */
export interface SimdKernels {
  /** Digest of the module's text: which kernels computed a result, for provenance. */
  version: string;
  /**
   * Filter gradient of a 2-D convolution, accumulated into `dw` (zero it first).
   * xp: the input padded so that every window is in bounds, [N, HP, WP, Cin];
   * dy: [N, OH, OW, Cout] (Cout a multiple of 4); dw: [KH, KW*Cin, Cout].
   */
  convFilterGrad(a: ConvFilterGradArgs): void;
  /**
   * Forward 2-D convolution: xp padded as for `convFilterGrad`, w [KH, KW*Cin, Cout] (Cout a
   * multiple of 4), y [N, OH, OW, Cout] (written, not accumulated).
   */
  conv(a: ConvArgs): void;
  /** Max-pool gradient into a zeroed dx [N, H, W, C] (C a multiple of 4); see ./index.ts. */
  maxPoolGrad(a: MaxPoolGradArgs): void;
  /**
   * Batch norm's passes over [rows, C] tensors (C a multiple of 4), per-channel arrays of C floats;
   * sums are added to what their arrays hold. See ./batchnorm.ts.
   */
  chanSum(x: number, sum: number, rows: number, c: number): void;
  /** xc = x - mean (written) and ssq += sum of xc^2. */
  bnCenter(x: number, mean: number, xc: number, ssq: number, rows: number, c: number): void;
  /** sdy += sum of dy, sdyxc += sum of dy * xc. */
  chanDot(dy: number, xc: number, sdy: number, sdyxc: number, rows: number, c: number): void;
  /** y = u * a + b, per channel. */
  chanAffine(u: number, a: number, b: number, y: number, rows: number, c: number): void;
  /** y = u * a + v * b + d, per channel. */
  chanAffine2(u: number, a: number, v: number, b: number, d: number, y: number, rows: number, c: number): void;
  /** C[M, N] = A[M, K] B[K, N] (row-major; N a multiple of 4). */
  matMul(a: number, b: number, c: number, m: number, k: number, n: number): void;
  /** C[M, N] = A[K, M]^T B[K, N] (row-major; N a multiple of 4). */
  matMulTN(a: number, b: number, c: number, m: number, k: number, n: number): void;
  /** C[M, N] = A[M, K] B[N, K]^T (row-major; K a multiple of 4). */
  matMulNT(a: number, b: number, c: number, m: number, k: number, n: number): void;
  /** The fused masked optimizer update (see ./optimizer.ts for the exact operations). */
  optimizerUpdate(a: OptimizerArgs): void;
}

/** Shapes of a convolution on the padded input (see `SimdKernels`). */
export interface ConvShape {
  n: number;
  hp: number;
  wp: number;
  cin: number;
  oh: number;
  ow: number;
  cout: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
}

export interface ConvFilterGradArgs extends ConvShape {
  xp: number;
  dy: number;
  dw: number;
}

export interface ConvArgs extends ConvShape {
  xp: number;
  w: number;
  y: number;
}

export interface MaxPoolGradArgs {
  x: number;
  dy: number;
  dx: number;
  n: number;
  h: number;
  w: number;
  c: number;
  oh: number;
  ow: number;
  fh: number;
  fw: number;
  sh: number;
  sw: number;
  pt: number;
  pl: number;
}

export type OptimizerKind = 'sgd' | 'momentum' | 'nesterov' | 'adam';

/** Pointers (0 = absent) and the float32 scalars of one update; see ./optimizer.ts. */
export interface OptimizerArgs {
  kind: OptimizerKind;
  n: number;
  p: number;
  g: number;
  mask: number;
  s1: number;
  s2: number;
  np: number;
  o1: number;
  o2: number;
  lr: number;
  wd: number;
  momentum: number;
  b1: number;
  b2: number;
  c1: number;
  c2: number;
  bc2: number;
  eps: number;
  step: number;
}

// ---------------------------------------------------------------------------------------------
// WebAssembly text helpers and register tiles
// ---------------------------------------------------------------------------------------------

/** Rows (or pixels) per register tile; columns are 2 vectors (8 floats), then 1 (4). */
const MR = 4;
/** Bytes of dy per block of output rows: the block is re-read once per tile, from L1. */
const DY_BLOCK_BYTES = 16 * 1024;
/** Rows of B per block in the plain product: an 8-column panel of 256 rows is 8 KB, in L1. */
const KB = 256;

const range = (n: number): number[] => [...Array(n).keys()];
const get = (name: string): string => `(local.get ${name})`;
const set = (name: string, v: string): string => `(local.set ${name} ${v})`;
const add = (a: string, b: string): string => `(i32.add ${a} ${b})`;
const mul = (a: string, b: string): string => `(i32.mul ${a} ${b})`;
const c = (v: number): string => `(i32.const ${v})`;
/** Accumulator i (row), j (vector) and its multiply-add with x (a splat) and the vector d. */
const acc = (i: number, j: number): string => `$a${i}${j}`;
const fmaInto = (i: number, j: number, x: string, d: string): string =>
  set(acc(i, j), `(f32x4.add ${get(acc(i, j))} (f32x4.mul ${x} ${d}))`);
/** Load or store `mr` x `nv` accumulators from/to row pointers $w0.. (column offset 16 j). */
const accLoads = (mr: number, nv: number): string =>
  range(mr).flatMap((i) => range(nv).map((j) => set(acc(i, j), `(v128.load offset=${16 * j} ${get(`$w${i}`)})`))).join(' ');
const accStores = (mr: number, nv: number): string =>
  range(mr).flatMap((i) => range(nv).map((j) => `(v128.store offset=${16 * j} ${get(`$w${i}`)} ${get(acc(i, j))})`)).join(' ');
const accZero = (mr: number, nv: number): string =>
  range(mr).flatMap((i) => range(nv).map((j) => set(acc(i, j), '(v128.const i32x4 0 0 0 0)'))).join(' ');
/** $w_i = $wt + i * $cstride: the output rows of a tile. */
const rowPtrs = (mr: number): string => range(mr).map((i) => set(`$w${i}`, add(get('$wt'), mul(c(i), get('$cstride'))))).join(' ');
const accLocals = (): string => range(MR).map((i) => `(local $a${i}0 v128) (local $a${i}1 v128) (local $w${i} i32)`).join(' ');

/**
 * A loop over the columns of the output in tiles of 8 (then one of 4 if 4 remain), emitting
 * `tile(nv)` for each; `$c0` is the tile's first column, `$cout` the column count.
 */
function columnTiles(label: string, tile: (nv: number) => string): string {
  return `
  ${set('$c0', c(0))}
  (block $${label}_full
    (br_if $${label}_full (i32.gt_u ${add(get('$c0'), c(8))} ${get('$cout')}))
    (loop $${label}
      ${tile(2)}
      ${set('$c0', add(get('$c0'), c(8)))}
      (br_if $${label} (i32.le_u ${add(get('$c0'), c(8))} ${get('$cout')}))))
  (if (i32.lt_u ${get('$c0')} ${get('$cout')}) (then ${tile(1)}))`;
}

// ---------------------------------------------------------------------------------------------
// Convolutions and pooling
// ---------------------------------------------------------------------------------------------

/**
 * One register tile of dW (`mr` rows from $r0, `nv` vectors from $c0): load the accumulators, run
 * over the block's output pixels, store them back. Expects the locals of `convDwFunc`.
 */
function dwTile(mr: number, nv: number): string {
  const body = range(mr)
    .map((i) => `${set('$x', `(v128.load32_splat offset=${i * 4} ${get('$xptr')})`)} ${range(nv).map((j) => fmaInto(i, j, get('$x'), get(`$d${j}`))).join(' ')}`)
    .join('\n        ');
  return `
    ;; $wt: dW[k, r0, c0]
    ${set('$wt', add(get('$dw'), `(i32.shl ${add(mul(add(mul(get('$k'), get('$R')), get('$r0')), get('$cout')), get('$c0'))} ${c(2)})`))}
    ${rowPtrs(mr)}
    ${accLoads(mr, nv)}
    ${set('$row', get('$rb0'))}
    ${set('$img', `(i32.div_u ${get('$row')} ${get('$oh')})`)}
    ${set('$o', `(i32.rem_u ${get('$row')} ${get('$oh')})`)}
    (loop $rl
      ${set('$xptr', add(get('$xp'), add(mul(get('$img'), get('$xImg')), add(mul(add(mul(get('$o'), get('$sh')), get('$k')), get('$xRow')), `(i32.shl ${get('$r0')} ${c(2)})`))))}
      ${set('$dptr', add(get('$dy'), add(mul(get('$row'), get('$dyRow')), `(i32.shl ${get('$c0')} ${c(2)})`)))}
      ${set('$xend', add(get('$xptr'), mul(get('$ow'), get('$xStep'))))}
      (loop $pl
        ${range(nv).map((j) => set(`$d${j}`, `(v128.load offset=${16 * j} ${get('$dptr')})`)).join(' ')}
        ${body}
        ${set('$dptr', add(get('$dptr'), get('$cstride')))}
        ${set('$xptr', add(get('$xptr'), get('$xStep')))}
        (br_if $pl (i32.lt_u ${get('$xptr')} ${get('$xend')})))
      ${set('$row', add(get('$row'), c(1)))}
      ${set('$o', add(get('$o'), c(1)))}
      (if (i32.eq ${get('$o')} ${get('$oh')}) (then ${set('$o', c(0))} ${set('$img', add(get('$img'), c(1)))}))
      (br_if $rl (i32.lt_u ${get('$row')} ${get('$rb1')})))
    ${accStores(mr, nv)}`;
}

/**
 * dW[k, r, c] += sum over output pixels p of xp[pixel p's window row k][r] * dy[p, c] for r in
 * [rBegin, rEnd) (rows of R = KW*Cin): the filter gradient, and (with a 1x1 window) any product
 * A^T B. Blocks of output rows stay in cache while every tile runs over them.
 */
function convDwFunc(): string {
  return `
(func (export "conv_dw")
  (param $xp i32) (param $dy i32) (param $dw i32) (param $rows i32) (param $oh i32) (param $ow i32)
  (param $cout i32) (param $KH i32) (param $R i32) (param $xRow i32) (param $xImg i32) (param $sh i32)
  (param $xStep i32) (param $rowBlock i32) (param $rBegin i32) (param $rEnd i32)
  (local $rb0 i32) (local $rb1 i32) (local $k i32) (local $r0 i32) (local $c0 i32) (local $wt i32)
  (local $row i32) (local $img i32) (local $o i32) (local $xptr i32) (local $xend i32) (local $dptr i32)
  (local $cstride i32) (local $dyRow i32) (local $x v128) (local $d0 v128) (local $d1 v128)
  ${accLocals()}
  ${set('$cstride', `(i32.shl ${get('$cout')} ${c(2)})`)}
  ${set('$dyRow', mul(get('$ow'), get('$cstride')))}
  ${set('$rb0', c(0))}
  (loop $bl
    ${set('$rb1', add(get('$rb0'), get('$rowBlock')))}
    (if (i32.gt_u ${get('$rb1')} ${get('$rows')}) (then ${set('$rb1', get('$rows'))}))
    ${set('$k', c(0))}
    (loop $kl
      ${set('$r0', get('$rBegin'))}
      (block $full
        (br_if $full (i32.gt_u ${add(get('$r0'), c(MR))} ${get('$rEnd')}))
        (loop $r4
          ${columnTiles('c4', (nv) => dwTile(MR, nv))}
          ${set('$r0', add(get('$r0'), c(MR)))}
          (br_if $r4 (i32.le_u ${add(get('$r0'), c(MR))} ${get('$rEnd')}))))
      (block $tail
        (br_if $tail (i32.ge_u ${get('$r0')} ${get('$rEnd')}))
        (loop $r1
          ${columnTiles('c1', (nv) => dwTile(1, nv))}
          ${set('$r0', add(get('$r0'), c(1)))}
          (br_if $r1 (i32.lt_u ${get('$r0')} ${get('$rEnd')}))))
      ${set('$k', add(get('$k'), c(1)))}
      (br_if $kl (i32.lt_u ${get('$k')} ${get('$KH')})))
    ${set('$rb0', get('$rb1'))}
    (br_if $bl (i32.lt_u ${get('$rb0')} ${get('$rows')}))))`;
}

/**
 * One register tile of the forward convolution: `mp` output pixels from $q0 of output row ($img,
 * $o) by `nv` vectors of output channels from $c0, summed over the window rows kh and the KW*Cin
 * floats of each (the filter [KH, KW*Cin, Cout] is read row after row).
 */
function fwdTile(mp: number, nv: number): string {
  const body = range(mp)
    .map((i) => `${set('$x', `(v128.load32_splat ${get(`$p${i}`)})`)} ${range(nv).map((j) => fmaInto(i, j, get('$x'), get(`$d${j}`))).join(' ')} ${set(`$p${i}`, add(get(`$p${i}`), c(4)))}`)
    .join('\n          ');
  return `
    ${accZero(mp, nv)}
    ${set('$bptr', add(get('$w'), `(i32.shl ${get('$c0')} ${c(2)})`))}
    ${set('$k', c(0))}
    (loop $khl
      ${set('$xptr', add(get('$xp'), add(mul(get('$img'), get('$xImg')), add(mul(add(mul(get('$o'), get('$sh')), get('$k')), get('$xRow')), mul(get('$q0'), get('$xStep'))))))}
      ${range(mp).map((i) => set(`$p${i}`, add(get('$xptr'), mul(c(i), get('$xStep'))))).join(' ')}
      ${set('$xend', add(get('$xptr'), `(i32.shl ${get('$R')} ${c(2)})`))}
      (loop $rl
        ${range(nv).map((j) => set(`$d${j}`, `(v128.load offset=${16 * j} ${get('$bptr')})`)).join(' ')}
        ${body}
        ${set('$bptr', add(get('$bptr'), get('$cstride')))}
        (br_if $rl (i32.lt_u ${get('$p0')} ${get('$xend')})))
      ${set('$k', add(get('$k'), c(1)))}
      (br_if $khl (i32.lt_u ${get('$k')} ${get('$KH')})))
    ${set('$wt', add(get('$y'), `(i32.shl ${add(mul(add(mul(get('$row'), get('$ow')), get('$q0')), get('$cout')), get('$c0'))} ${c(2)})`))}
    ${rowPtrs(mp)}
    ${accStores(mp, nv)}`;
}

/**
 * y[n, oh, ow, c] = sum over kh and r of xp[window row kh of (oh, ow)][r] * w[kh, r, c]: a 2-D
 * convolution of the padded input (every window in bounds), one output row at a time; for each
 * 8-channel filter panel (in L1), tiles of 4 pixels of the row, then single pixels.
 */
function convFwdFunc(): string {
  const pixelTiles = (nv: number): string => `
    ${set('$q0', c(0))}
    (block $q4_${nv}
      (br_if $q4_${nv} (i32.gt_u ${add(get('$q0'), c(MR))} ${get('$ow')}))
      (loop $q4l_${nv}
        ${fwdTile(MR, nv)}
        ${set('$q0', add(get('$q0'), c(MR)))}
        (br_if $q4l_${nv} (i32.le_u ${add(get('$q0'), c(MR))} ${get('$ow')}))))
    (block $q1_${nv}
      (br_if $q1_${nv} (i32.ge_u ${get('$q0')} ${get('$ow')}))
      (loop $q1l_${nv}
        ${fwdTile(1, nv)}
        ${set('$q0', add(get('$q0'), c(1)))}
        (br_if $q1l_${nv} (i32.lt_u ${get('$q0')} ${get('$ow')}))))`;
  return `
(func (export "conv_fwd")
  (param $xp i32) (param $w i32) (param $y i32) (param $rows i32) (param $oh i32) (param $ow i32)
  (param $cout i32) (param $KH i32) (param $R i32) (param $xRow i32) (param $xImg i32) (param $sh i32)
  (param $xStep i32)
  (local $row i32) (local $img i32) (local $o i32) (local $q0 i32) (local $c0 i32) (local $k i32)
  (local $wt i32) (local $bptr i32) (local $xptr i32) (local $xend i32) (local $cstride i32)
  (local $x v128) (local $d0 v128) (local $d1 v128) (local $p0 i32) (local $p1 i32) (local $p2 i32) (local $p3 i32)
  ${accLocals()}
  ${set('$cstride', `(i32.shl ${get('$cout')} ${c(2)})`)}
  (loop $rows
    ${columnTiles('cf', pixelTiles)}
    ${set('$row', add(get('$row'), c(1)))}
    ${set('$o', add(get('$o'), c(1)))}
    (if (i32.eq ${get('$o')} ${get('$oh')}) (then ${set('$o', c(0))} ${set('$img', add(get('$img'), c(1)))}))
    (br_if $rows (i32.lt_u ${get('$row')} ${get('$rows')}))))`;
}

/**
 * Max-pool gradient, channels in vectors of 4 (C a multiple of 4): per window, the first maximum
 * in row-major order gets the window's dy (as the CPU backend; NaN and -Infinity never win), added
 * window after window in the same order as the scalar loop of ./index.ts. dx must be zeroed.
 */
function maxPoolGradFunc(): string {
  /** [lo, hi) = [origin, origin + extent) clipped to [0, limit). */
  const clampWindow = (lo: string, hi: string, origin: string, extent: string, limit: string): string =>
    `${set(lo, `(select ${get(origin)} ${c(0)} (i32.gt_s ${get(origin)} ${c(0)}))`)}
    ${set(hi, add(get(origin), get(extent)))}
    (if (i32.gt_s ${get(hi)} ${get(limit)}) (then ${set(hi, get(limit))}))`;
  const lane = (l: number): string => `
        ${set('$pos', `(i32x4.extract_lane ${l} ${get('$maxp')})`)}
        (if (i32.ge_s ${get('$pos')} ${c(0)}) (then
          ${set('$addr', add(get('$dx'), `(i32.shl ${get('$pos')} ${c(2)})`))}
          (f32.store ${get('$addr')} (f32.add (f32.load ${get('$addr')}) (f32x4.extract_lane ${l} ${get('$g')})))))`;
  return `
(func (export "max_pool_grad")
  (param $x i32) (param $dy i32) (param $dx i32) (param $N i32) (param $H i32) (param $W i32) (param $C i32)
  (param $OH i32) (param $OW i32) (param $fh i32) (param $fw i32) (param $sh i32) (param $sw i32) (param $pt i32) (param $pl i32)
  (local $n i32) (local $yr i32) (local $yc i32) (local $r0 i32) (local $rMin i32) (local $rMax i32) (local $q0 i32)
  (local $cMin i32) (local $cMax i32) (local $c0 i32) (local $xr i32) (local $xc i32) (local $idx i32) (local $pos i32)
  (local $addr i32) (local $ob i32) (local $v v128) (local $gt v128) (local $maxv v128) (local $maxp v128) (local $g v128)
  (loop $nl
    ${set('$yr', c(0))}
    (loop $yrl
      ${set('$r0', `(i32.sub ${mul(get('$yr'), get('$sh'))} ${get('$pt')})`)}
      ${clampWindow('$rMin', '$rMax', '$r0', '$fh', '$H')}
      ${set('$yc', c(0))}
      (loop $ycl
        ${set('$q0', `(i32.sub ${mul(get('$yc'), get('$sw'))} ${get('$pl')})`)}
        ${clampWindow('$cMin', '$cMax', '$q0', '$fw', '$W')}
        ${set('$ob', mul(add(mul(add(mul(get('$n'), get('$OH')), get('$yr')), get('$OW')), get('$yc')), get('$C')))}
        ${set('$c0', c(0))}
        (loop $cl
          ${set('$maxv', '(f32x4.splat (f32.const -inf))')}
          ${set('$maxp', '(i32x4.splat (i32.const -1))')}
          ${set('$xr', get('$rMin'))}
          (block $rows_done
            (br_if $rows_done (i32.ge_s ${get('$xr')} ${get('$rMax')}))
            (loop $xrl
              ${set('$xc', get('$cMin'))}
              (block $cols_done
                (br_if $cols_done (i32.ge_s ${get('$xc')} ${get('$cMax')}))
                (loop $xcl
                  ${set('$idx', add(mul(add(mul(add(mul(get('$n'), get('$H')), get('$xr')), get('$W')), get('$xc')), get('$C')), get('$c0')))}
                  ${set('$v', `(v128.load ${add(get('$x'), `(i32.shl ${get('$idx')} ${c(2)})`)})`)}
                  ${set('$gt', `(f32x4.gt ${get('$v')} ${get('$maxv')})`)}
                  ${set('$maxv', `(v128.bitselect ${get('$v')} ${get('$maxv')} ${get('$gt')})`)}
                  ${set('$maxp', `(v128.bitselect (i32x4.add (i32x4.splat ${get('$idx')}) (v128.const i32x4 0 1 2 3)) ${get('$maxp')} ${get('$gt')})`)}
                  ${set('$xc', add(get('$xc'), c(1)))}
                  (br_if $xcl (i32.lt_s ${get('$xc')} ${get('$cMax')}))))
              ${set('$xr', add(get('$xr'), c(1)))}
              (br_if $xrl (i32.lt_s ${get('$xr')} ${get('$rMax')}))))
          ${set('$g', `(v128.load ${add(get('$dy'), `(i32.shl ${add(get('$ob'), get('$c0'))} ${c(2)})`)})`)}
          ${range(4).map(lane).join('')}
          ${set('$c0', add(get('$c0'), c(4)))}
          (br_if $cl (i32.lt_u ${get('$c0')} ${get('$C')})))
        ${set('$yc', add(get('$yc'), c(1)))}
        (br_if $ycl (i32.lt_u ${get('$yc')} ${get('$OW')})))
      ${set('$yr', add(get('$yr'), c(1)))}
      (br_if $yrl (i32.lt_u ${get('$yr')} ${get('$OH')})))
    ${set('$n', add(get('$n'), c(1)))}
    (br_if $nl (i32.lt_u ${get('$n')} ${get('$N')}))))`;
}

// ---------------------------------------------------------------------------------------------
// Per-channel reductions and affine maps (batch norm)
// ---------------------------------------------------------------------------------------------

/**
 * A reduction over the rows of [rows, C] tensors into per-channel sums (added to what the output
 * arrays hold), for the channels [cBegin, cEnd) (multiples of 4). Rows are taken in blocks of
 * `blk` that stay in L1 while each 4-channel group is summed down the block (one partial sum per
 * block, then added to the total: better rounding than one long running sum).
 * `body` reads the element(s) at byte offset $off and updates the v128 accumulators $s0/$s1.
 */
function channelReduceFunc(name: string, inputs: string[], outs: string[], setup: string, body: string): string {
  const params = [...inputs, ...outs].map((p) => `(param ${p} i32)`).join(' ');
  return `
(func (export "${name}") ${params} (param $rows i32) (param $C i32) (param $blk i32) (param $cBegin i32) (param $cEnd i32)
  (local $r0 i32) (local $r1 i32) (local $c i32) (local $off i32) (local $end i32) (local $rowB i32)
  (local $s0 v128) (local $s1 v128) (local $m v128) (local $v v128)
  ${set('$rowB', `(i32.shl ${get('$C')} ${c(2)})`)}
  (loop $blocks
    ${set('$r1', add(get('$r0'), get('$blk')))}
    (if (i32.gt_u ${get('$r1')} ${get('$rows')}) (then ${set('$r1', get('$rows'))}))
    ${set('$c', get('$cBegin'))}
    (loop $chans
      ${set('$s0', '(v128.const i32x4 0 0 0 0)')} ${set('$s1', '(v128.const i32x4 0 0 0 0)')}
      ${setup}
      ${set('$off', add(mul(get('$r0'), get('$rowB')), `(i32.shl ${get('$c')} ${c(2)})`))}
      ${set('$end', add(mul(get('$r1'), get('$rowB')), `(i32.shl ${get('$c')} ${c(2)})`))}
      (loop $rl
        ${body}
        ${set('$off', add(get('$off'), get('$rowB')))}
        (br_if $rl (i32.lt_u ${get('$off')} ${get('$end')})))
      ${outs
        .map((o, i) => `(v128.store ${add(get(o), `(i32.shl ${get('$c')} ${c(2)})`)} (f32x4.add (v128.load ${add(get(o), `(i32.shl ${get('$c')} ${c(2)})`)}) ${get(`$s${i}`)}))`)
        .join(' ')}
      ${set('$c', add(get('$c'), c(4)))}
      (br_if $chans (i32.lt_u ${get('$c')} ${get('$cEnd')})))
    ${set('$r0', get('$r1'))}
    (br_if $blocks (i32.lt_u ${get('$r0')} ${get('$rows')}))))`;
}

const at = (ptr: string): string => `(v128.load ${add(get(ptr), get('$off'))})`;
const f4 = (op: string, a: string, b: string): string => `(f32x4.${op} ${a} ${b})`;

/** sum[c] += sum over rows of x[r, c]. */
const chanSum = (): string => channelReduceFunc('chan_sum', ['$x'], ['$sum'], '', set('$s0', f4('add', get('$s0'), at('$x'))));

/** xc = x - mean[c] (written), ssq[c] += sum of xc^2. */
const bnCenter = (): string =>
  channelReduceFunc(
    'bn_center',
    ['$x', '$mean', '$xc'],
    ['$ssq'],
    set('$m', `(v128.load ${add(get('$mean'), `(i32.shl ${get('$c')} ${c(2)})`)})`),
    `${set('$v', f4('sub', at('$x'), get('$m')))}
        (v128.store ${add(get('$xc'), get('$off'))} ${get('$v')})
        ${set('$s0', f4('add', get('$s0'), f4('mul', get('$v'), get('$v'))))}`,
  );

/** sdy[c] += sum of dy, sdyxc[c] += sum of dy * xc. */
const chanDot = (): string =>
  channelReduceFunc(
    'chan_dot',
    ['$dy', '$xc'],
    ['$sdy', '$sdyxc'],
    '',
    `${set('$v', at('$dy'))}
        ${set('$s0', f4('add', get('$s0'), get('$v')))}
        ${set('$s1', f4('add', get('$s1'), f4('mul', get('$v'), at('$xc'))))}`,
  );

/**
 * y = u * a[c] + v * b[c] + d[c] over [rows, C] (with `two` false: y = u * a[c] + b[c]), row by
 * row; the per-channel vectors are re-read from L1.
 */
function chanAffineFunc(two: boolean): string {
  const ch = (p: string): string => `(v128.load ${add(get(p), get('$k'))})`;
  const value = two ? f4('add', f4('add', f4('mul', at('$u'), ch('$a')), f4('mul', at('$v'), ch('$b'))), ch('$d')) : f4('add', f4('mul', at('$u'), ch('$a')), ch('$b'));
  return `
(func (export "${two ? 'chan_affine2' : 'chan_affine'}") (param $u i32) (param $a i32) ${two ? '(param $v i32)' : ''} (param $b i32) ${two ? '(param $d i32)' : ''}
  (param $y i32) (param $rows i32) (param $C i32)
  (local $off i32) (local $end i32) (local $k i32) (local $rowB i32)
  ${set('$rowB', `(i32.shl ${get('$C')} ${c(2)})`)}
  ${set('$end', mul(get('$rows'), get('$rowB')))}
  (loop $el
    (v128.store ${add(get('$y'), get('$off'))} ${value})
    ${set('$off', add(get('$off'), c(16)))}
    ${set('$k', add(get('$k'), c(16)))}
    (if (i32.eq ${get('$k')} ${get('$rowB')}) (then ${set('$k', c(0))}))
    (br_if $el (i32.lt_u ${get('$off')} ${get('$end')}))))`;
}

// ---------------------------------------------------------------------------------------------
// Matrix products
// ---------------------------------------------------------------------------------------------

/**
 * One register tile of C = A B (`mr` rows from $i0, `nv` vectors from $c0) over the rows
 * $k0..$k1 of B: zero (first block) or load the accumulators, run over k, store them back.
 */
function nnTile(mr: number, nv: number): string {
  const aRows = range(mr).map((i) => set(`$p${i}`, add(get('$a'), `(i32.shl ${add(mul(add(get('$i0'), c(i)), get('$K')), get('$k0'))} ${c(2)})`))).join(' ');
  const body = range(mr)
    .map((i) => `${set('$x', `(v128.load32_splat ${get(`$p${i}`)})`)} ${range(nv).map((j) => fmaInto(i, j, get('$x'), get(`$d${j}`))).join(' ')} ${set(`$p${i}`, add(get(`$p${i}`), c(4)))}`)
    .join('\n        ');
  return `
    ${set('$wt', add(get('$cm'), `(i32.shl ${add(mul(get('$i0'), get('$cout')), get('$c0'))} ${c(2)})`))}
    ${rowPtrs(mr)}
    (if (i32.eqz ${get('$k0')}) (then ${accZero(mr, nv)}) (else ${accLoads(mr, nv)}))
    ${aRows}
    ${set('$bptr', add(get('$b'), `(i32.shl ${add(mul(get('$k0'), get('$cout')), get('$c0'))} ${c(2)})`))}
    ${set('$bend', add(get('$bptr'), mul(`(i32.sub ${get('$k1')} ${get('$k0')})`, get('$cstride'))))}
    (loop $kl
      ${range(nv).map((j) => set(`$d${j}`, `(v128.load offset=${16 * j} ${get('$bptr')})`)).join(' ')}
      ${body}
      ${set('$bptr', add(get('$bptr'), get('$cstride')))}
      (br_if $kl (i32.lt_u ${get('$bptr')} ${get('$bend')})))
    ${accStores(mr, nv)}`;
}

/** Row tiles of 4, then single rows, over $i0 in [0, $M), each emitting `tile(mr)`. */
function rowTiles(label: string, tile: (mr: number) => string): string {
  return `
  ${set('$i0', c(0))}
  (block $${label}_full
    (br_if $${label}_full (i32.gt_u ${add(get('$i0'), c(MR))} ${get('$M')}))
    (loop $${label}
      ${tile(MR)}
      ${set('$i0', add(get('$i0'), c(MR)))}
      (br_if $${label} (i32.le_u ${add(get('$i0'), c(MR))} ${get('$M')}))))
  (block $${label}_tail
    (br_if $${label}_tail (i32.ge_u ${get('$i0')} ${get('$M')}))
    (loop $${label}_1
      ${tile(1)}
      ${set('$i0', add(get('$i0'), c(1)))}
      (br_if $${label}_1 (i32.lt_u ${get('$i0')} ${get('$M')}))))`;
}

/** C[M, N] = A[M, K] B[K, N], all row-major and dense; N a multiple of 4. */
function gemmNnFunc(): string {
  return `
(func (export "gemm_nn")
  (param $a i32) (param $b i32) (param $cm i32) (param $M i32) (param $K i32) (param $cout i32)
  (local $k0 i32) (local $k1 i32) (local $i0 i32) (local $c0 i32) (local $wt i32) (local $cstride i32)
  (local $bptr i32) (local $bend i32) (local $x v128) (local $d0 v128) (local $d1 v128)
  (local $p0 i32) (local $p1 i32) (local $p2 i32) (local $p3 i32)
  ${accLocals()}
  ${set('$cstride', `(i32.shl ${get('$cout')} ${c(2)})`)}
  (loop $blocks
    ${set('$k1', add(get('$k0'), c(KB)))}
    (if (i32.gt_u ${get('$k1')} ${get('$K')}) (then ${set('$k1', get('$K'))}))
    ${columnTiles('cols', (nv) => rowTiles(`rows${nv}`, (mr) => nnTile(mr, nv)))}
    ${set('$k0', get('$k1'))}
    (br_if $blocks (i32.lt_u ${get('$k0')} ${get('$K')}))))`;
}

/**
 * C[M, J] = A[M, K] B[J, K]^T as dot products of rows (K a multiple of 4): tiles of 4 rows of A
 * by 2 rows of B, one vector accumulator per pair, summed across lanes at the end.
 */
function gemmNtFunc(): string {
  const tile = (mr: number, nj: number): string => {
    const pairs = range(mr).flatMap((i) => range(nj).map((j) => [i, j] as const));
    const hsum = (v: string): string =>
      `(f32.add (f32.add (f32x4.extract_lane 0 ${v}) (f32x4.extract_lane 1 ${v})) (f32.add (f32x4.extract_lane 2 ${v}) (f32x4.extract_lane 3 ${v})))`;
    return `
      ${pairs.map(([i, j]) => set(acc(i, j), '(v128.const i32x4 0 0 0 0)')).join(' ')}
      ${range(mr).map((i) => set(`$p${i}`, add(get('$a'), mul(add(get('$i0'), c(i)), get('$rowB'))))).join(' ')}
      ${range(nj).map((j) => set(`$q${j}`, add(get('$b'), mul(add(get('$j0'), c(j)), get('$rowB'))))).join(' ')}
      ${set('$off', c(0))}
      (loop $kl
        ${range(nj).map((j) => set(`$d${j}`, `(v128.load ${add(get(`$q${j}`), get('$off'))})`)).join(' ')}
        ${range(mr).map((i) => `${set('$x', `(v128.load ${add(get(`$p${i}`), get('$off'))})`)} ${range(nj).map((j) => fmaInto(i, j, get('$x'), get(`$d${j}`))).join(' ')}`).join('\n        ')}
        ${set('$off', add(get('$off'), c(16)))}
        (br_if $kl (i32.lt_u ${get('$off')} ${get('$rowB')})))
      ${pairs.map(([i, j]) => `(f32.store ${add(get('$cm'), `(i32.shl ${add(mul(add(get('$i0'), c(i)), get('$J')), add(get('$j0'), c(j)))} ${c(2)})`)} ${hsum(get(acc(i, j)))})`).join('\n      ')}`;
  };
  const iLoop = (nj: number): string => rowTiles(`i${nj}`, (mr) => tile(mr, nj));
  return `
(func (export "gemm_nt")
  (param $a i32) (param $b i32) (param $cm i32) (param $M i32) (param $K i32) (param $J i32)
  (local $i0 i32) (local $j0 i32) (local $rowB i32) (local $off i32) (local $x v128) (local $d0 v128) (local $d1 v128)
  (local $p0 i32) (local $p1 i32) (local $p2 i32) (local $p3 i32) (local $q0 i32) (local $q1 i32)
  ${accLocals()}
  ${set('$rowB', `(i32.shl ${get('$K')} ${c(2)})`)}
  (block $j_full
    (br_if $j_full (i32.gt_u ${add(get('$j0'), c(2))} ${get('$J')}))
    (loop $jl
      ${iLoop(2)}
      ${set('$j0', add(get('$j0'), c(2)))}
      (br_if $jl (i32.le_u ${add(get('$j0'), c(2))} ${get('$J')}))))
  (if (i32.lt_u ${get('$j0')} ${get('$J')}) (then ${iLoop(1)})))`;
}

// ---------------------------------------------------------------------------------------------
// Optimizer update
// ---------------------------------------------------------------------------------------------

interface Flags {
  kind: OptimizerKind;
  mask: boolean;
  wd: boolean;
  state: boolean;
}

/**
 * The element-wise update as WebAssembly expressions over one lane group: `t` is 'f32x4' (four
 * elements, v128 loads at `$i`) or 'f32' (one element). The order of operations is exactly that
 * of the composed update in src/nn/optim.ts, so results are bitwise the same.
 */
function updateBody(f: Flags, t: 'f32x4' | 'f32'): string {
  const vec = t === 'f32x4';
  const load = (ptr: string): string => `(${vec ? 'v128' : 'f32'}.load (i32.add (local.get ${ptr}) (local.get $i)))`;
  const store = (ptr: string, v: string): string => `(${vec ? 'v128' : 'f32'}.store (i32.add (local.get ${ptr}) (local.get $i)) ${v})`;
  const scalar = (name: string): string => (vec ? `(f32x4.splat (local.get ${name}))` : `(local.get ${name})`);
  const op = (o: string, a: string, b?: string): string => `(${t}.${o} ${a}${b === undefined ? '' : ' ' + b})`;
  const lane = (n: string): string => `(local.get ${n}${vec ? 'v' : 's'})`;
  const setLane = (n: string, v: string): string => `(local.set ${n}${vec ? 'v' : 's'} ${v})`;
  const lines: string[] = [setLane('$g', load('$g'))];
  if (f.mask) lines.push(setLane('$g', op('mul', lane('$g'), load('$mask'))));
  if (f.wd) lines.push(setLane('$g', op('add', lane('$g'), op('mul', load('$p'), scalar('$wd')))));
  let upd: string;
  if (f.kind === 'sgd') {
    upd = op('mul', lane('$g'), scalar('$lr'));
  } else if (f.kind === 'momentum' || f.kind === 'nesterov') {
    lines.push(setLane('$b', f.state ? op('add', op('mul', load('$s1'), scalar('$mom')), lane('$g')) : lane('$g')));
    lines.push(store('$o1', lane('$b')));
    upd =
      f.kind === 'nesterov'
        ? op('mul', op('add', lane('$g'), op('mul', lane('$b'), scalar('$mom'))), scalar('$lr'))
        : op('mul', lane('$b'), scalar('$lr'));
  } else {
    const gc1 = op('mul', lane('$g'), scalar('$c1'));
    lines.push(setLane('$b', f.state ? op('add', op('mul', load('$s1'), scalar('$b1')), gc1) : gc1));
    const g2c2 = op('mul', op('mul', lane('$g'), lane('$g')), scalar('$c2'));
    lines.push(setLane('$v', f.state ? op('add', op('mul', load('$s2'), scalar('$b2')), g2c2) : g2c2));
    lines.push(store('$o1', lane('$b')), store('$o2', lane('$v')));
    const denom = op('add', op('sqrt', op('div', lane('$v'), scalar('$bc2'))), scalar('$eps'));
    upd = op('div', op('mul', lane('$b'), scalar('$step')), denom);
  }
  let np = op('sub', load('$p'), upd);
  if (f.mask) np = op('mul', np, load('$mask'));
  lines.push(store('$np', np));
  return lines.join('\n      ');
}

function updateName(f: Flags): string {
  return `upd_${f.kind}_${f.mask ? 'm' : ''}${f.wd ? 'w' : ''}${f.state ? 's' : ''}`;
}

function updateFunc(f: Flags): string {
  return `
(func (export "${updateName(f)}")
  (param $n i32) (param $p i32) (param $g i32) (param $mask i32) (param $s1 i32) (param $s2 i32)
  (param $np i32) (param $o1 i32) (param $o2 i32)
  (param $lr f32) (param $wd f32) (param $mom f32) (param $b1 f32) (param $b2 f32) (param $c1 f32)
  (param $c2 f32) (param $bc2 f32) (param $eps f32) (param $step f32)
  (local $i i32) (local $end i32) (local $vend i32)
  (local $gv v128) (local $bv v128) (local $vv v128) (local $gs f32) (local $bs f32) (local $vs f32)
  (local.set $end (i32.shl (local.get $n) (i32.const 2)))
  (local.set $vend (i32.and (local.get $end) (i32.const -16)))
  (block $vdone
    (br_if $vdone (i32.ge_u (local.get $i) (local.get $vend)))
    (loop $vl
      ${updateBody(f, 'f32x4')}
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br_if $vl (i32.lt_u (local.get $i) (local.get $vend)))))
  (block $sdone
    (br_if $sdone (i32.ge_u (local.get $i) (local.get $end)))
    (loop $sl
      ${updateBody(f, 'f32')}
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br_if $sl (i32.lt_u (local.get $i) (local.get $end))))))`;
}

const ALL_FLAGS: Flags[] = (['sgd', 'momentum', 'nesterov', 'adam'] as const).flatMap((kind) =>
  [false, true].flatMap((mask) =>
    [false, true].flatMap((wd) => (kind === 'sgd' ? [false] : [false, true]).map((state) => ({ kind, mask, wd, state }))),
  ),
);

/** The whole module as WebAssembly text (exported for tests and for inspection). */
export function simdModuleText(shared: boolean): string {
  return `(module
  (import "env" "memory" (memory 1 ${shared ? '65536 shared' : ''}))
  ${convDwFunc()}
  ${convFwdFunc()}
  ${maxPoolGradFunc()}
  ${chanSum()}
  ${bnCenter()}
  ${chanDot()}
  ${chanAffineFunc(false)}
  ${chanAffineFunc(true)}
  ${gemmNnFunc()}
  ${gemmNtFunc()}
  ${ALL_FLAGS.map(updateFunc).join('\n')}
)`;
}

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

type Fn = (...args: number[]) => void;

interface Wabt {
  parseWat(name: string, text: string, features: Record<string, boolean>): {
    toBinary(o: object): { buffer: Uint8Array };
    validate(features: Record<string, boolean>): void;
    destroy(): void;
  };
}

/** Multiply-adds below which a call is not worth splitting across threads. */
const MIN_PARALLEL_WORK = 1 << 20;

/**
 * Assemble and instantiate the module on the given heap. With `threads` > 1 on a shared heap (the
 * backend's threaded build), convolutions, products and the pooling gradient are split across
 * that many threads (./simd-threads.ts), each part writing its own rows of the output.
 */
export async function loadSimdKernels(memory: WebAssembly.Memory, threads = 1): Promise<SimdKernels> {
  const require = createRequire(import.meta.url);
  const wabt = await (require('wabt') as () => Promise<Wabt>)();
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  const features = { simd: true, threads: shared };
  const mod = wabt.parseWat('lth-simd.wat', simdModuleText(shared), features);
  let binary: Uint8Array;
  try {
    mod.validate(features);
    binary = mod.toBinary({}).buffer;
  } finally {
    mod.destroy();
  }
  const module = await WebAssembly.compile(binary as BufferSource);
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  const ex = instance.exports as Record<string, Fn>;
  const parallel = ['conv_fwd', 'conv_dw', 'gemm_nn', 'gemm_nt', 'max_pool_grad', 'chan_sum', 'bn_center', 'chan_dot', 'chan_affine', 'chan_affine2'];
  const pool = shared && threads > 1 ? new KernelThreads(module, memory, parallel, threads - 1) : undefined;
  /** Run `fn` once per argument list: on the pool's threads when there are several. */
  const call = (fn: string, parts: number[][]): void => {
    const f = ex[fn]!;
    if (pool && parts.length > 1) pool.run(fn, parts, f);
    else for (const args of parts) f(...args);
  };
  /** How many parts a call of this much work is split into. */
  const partsFor = (work: number): number => (pool && work >= MIN_PARALLEL_WORK ? pool.size : 1);
  const multipleOf4 = (what: string, v: number): void => {
    if (v % 4 !== 0) throw new Error(`simd kernels: ${what} must be a multiple of 4, got ${v}`);
  };
  /** Row-split products: rows [i0, i1) of A and C. */
  const rowsOf = (fn: string, a: number, b: number, c: number, m: number, k: number, n: number): void =>
    call(fn, splitRange(m, partsFor(m * k * n), MR).map(([i0, i1]) => [a + i0 * k * 4, b, c + i0 * n * 4, i1 - i0, k, n]));
  /** Per-channel reductions: split by channel groups, so each sum keeps its order. */
  const reduceChannels = (fn: string, ptrs: number[], rows: number, ch: number): void => {
    multipleOf4('C', ch);
    const blk = Math.max(1, Math.floor(4096 / ch));
    call(fn, splitRange(ch, partsFor(rows * ch), 4).map(([c0, c1]) => [...ptrs, rows, ch, blk, c0, c1]));
  };
  /** Per-channel affine maps: split by rows; `rowPtrs` advance with the rows, `chanPtrs` do not. */
  const affineRows = (fn: string, args: Array<[number, boolean]>, rows: number, ch: number): void => {
    multipleOf4('C', ch);
    call(fn, splitRange(rows, partsFor(rows * ch)).map(([r0, r1]) => [...args.map(([p, perRow]) => (perRow ? p + r0 * ch * 4 : p)), r1 - r0, ch]));
  };
  return {
    version: createHash('sha256').update(simdModuleText(false)).digest('hex').slice(0, 12),
    matMul(a, b, c, m, k, n) {
      multipleOf4('N', n);
      rowsOf('gemm_nn', a, b, c, m, k, n);
    },
    matMulTN(a, b, c, m, k, n) {
      multipleOf4('N', n);
      new Float32Array(memory.buffer, c, m * n).fill(0);
      // A^T B is a filter gradient with a 1x1 window: the K rows are the "pixels", M the rows of dW.
      call('conv_dw', splitRange(m, partsFor(m * k * n), MR).map(([r0, r1]) => [a, b, c, 1, 1, k, n, 1, m, 0, 0, 0, m * 4, 1, r0, r1]));
    },
    matMulNT(a, b, c, m, k, n) {
      multipleOf4('K', k);
      rowsOf('gemm_nt', a, b, c, m, k, n);
    },
    conv(a) {
      multipleOf4('Cout', a.cout);
      const xRow = a.wp * a.cin * 4;
      const xImg = a.hp * xRow;
      const yImg = a.oh * a.ow * a.cout * 4;
      const work = a.n * a.oh * a.ow * a.cout * a.kh * a.kw * a.cin;
      call(
        'conv_fwd',
        splitRange(a.n, partsFor(work)).map(([n0, n1]) => [
          a.xp + n0 * xImg,
          a.w,
          a.y + n0 * yImg,
          (n1 - n0) * a.oh,
          a.oh,
          a.ow,
          a.cout,
          a.kh,
          a.kw * a.cin,
          xRow,
          xImg,
          a.sh,
          a.sw * a.cin * 4,
        ]),
      );
    },
    maxPoolGrad(a) {
      multipleOf4('C', a.c);
      const work = a.n * a.oh * a.ow * a.c * a.fh * a.fw;
      const img = (hw: number): number => hw * a.c * 4;
      call(
        'max_pool_grad',
        splitRange(a.n, partsFor(work)).map(([n0, n1]) => [
          a.x + n0 * img(a.h * a.w),
          a.dy + n0 * img(a.oh * a.ow),
          a.dx + n0 * img(a.h * a.w),
          n1 - n0,
          a.h,
          a.w,
          a.c,
          a.oh,
          a.ow,
          a.fh,
          a.fw,
          a.sh,
          a.sw,
          a.pt,
          a.pl,
        ]),
      );
    },
    convFilterGrad(a) {
      multipleOf4('Cout', a.cout);
      const rowBlock = Math.max(1, Math.floor(DY_BLOCK_BYTES / (a.ow * a.cout * 4)));
      const xRow = a.wp * a.cin * 4;
      const r = a.kw * a.cin;
      const work = a.n * a.oh * a.ow * a.cout * a.kh * r;
      call(
        'conv_dw',
        splitRange(r, partsFor(work), MR).map(([r0, r1]) => [
          a.xp,
          a.dy,
          a.dw,
          a.n * a.oh,
          a.oh,
          a.ow,
          a.cout,
          a.kh,
          r,
          xRow,
          a.hp * xRow,
          a.sh,
          a.sw * a.cin * 4,
          rowBlock,
          r0,
          r1,
        ]),
      );
    },
    chanSum(x, sum, rows, ch) {
      reduceChannels('chan_sum', [x, sum], rows, ch);
    },
    bnCenter(x, mean, xc, ssq, rows, ch) {
      reduceChannels('bn_center', [x, mean, xc, ssq], rows, ch);
    },
    chanDot(dy, xc, sdy, sdyxc, rows, ch) {
      reduceChannels('chan_dot', [dy, xc, sdy, sdyxc], rows, ch);
    },
    chanAffine(u, a, b, y, rows, ch) {
      affineRows('chan_affine', [[u, true], [a, false], [b, false], [y, true]], rows, ch);
    },
    chanAffine2(u, a, v, b, d, y, rows, ch) {
      affineRows('chan_affine2', [[u, true], [a, false], [v, true], [b, false], [d, false], [y, true]], rows, ch);
    },
    optimizerUpdate(a) {
      const f: Flags = { kind: a.kind, mask: a.mask !== 0, wd: a.wd !== 0, state: a.s1 !== 0 };
      const fn = ex[updateName(f)]!;
      fn(a.n, a.p, a.g, a.mask, a.s1, a.s2, a.np, a.o1, a.o2, a.lr, a.wd, a.momentum, a.b1, a.b2, a.c1, a.c2, a.bc2, a.eps, a.step);
    },
  };
}
