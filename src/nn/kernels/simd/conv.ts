/**
 * WebAssembly text of the convolution kernels (forward, filter gradient) and the max-pool
 * gradient. Layouts are NHWC; the input of a convolution is padded beforehand so that every window
 * is in bounds and each window row is KW*Cin contiguous floats.
 */
import { MR, range, get, set, add, mul, c, fmaInto, accLoads, accStores, accZero, rowPtrs, accLocals, columnTiles } from './wat.js';

/** Bytes of dy per block of output rows: the block is re-read once per tile, from L1. */
export const DY_BLOCK_BYTES = 16 * 1024;

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
export function convDwFunc(): string {
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
export function convFwdFunc(): string {
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
export function maxPoolGradFunc(): string {
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
