/** WebAssembly text of the matrix products A B and A B^T (A^T B is conv_dw with a 1x1 window). */
import { range, get, set, add, mul, c, acc, fmaInto, accLoads, accStores, accZero, rowPtrs, accLocals, columnTiles, rowTiles } from './wat.js';

/** Rows of B per block in the plain product: an 8-column panel of 256 rows is 8 KB, in L1. */
const KB = 256;

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

/** C[M, N] = A[M, K] B[K, N], all row-major and dense; N a multiple of 4. */
export function gemmNnFunc(): string {
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
export function gemmNtFunc(): string {
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
