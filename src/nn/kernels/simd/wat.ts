/**
 * Building blocks of the WebAssembly text of our SIMD module: expression helpers, and the
 * register-tile loops (accumulators $aIJ over rows I and 4-float vectors J) that the convolution
 * and product kernels share. Everything here returns text; ./index.ts assembles it.
 */

/** Rows (or pixels) per register tile; columns are 2 vectors (8 floats), then 1 (4). */
export const MR = 4;

export const range = (n: number): number[] => [...Array(n).keys()];
export const get = (name: string): string => `(local.get ${name})`;
export const set = (name: string, v: string): string => `(local.set ${name} ${v})`;
export const add = (a: string, b: string): string => `(i32.add ${a} ${b})`;
export const mul = (a: string, b: string): string => `(i32.mul ${a} ${b})`;
export const c = (v: number): string => `(i32.const ${v})`;
/** Accumulator i (row), j (vector) and its multiply-add with x (a splat) and the vector d. */
export const acc = (i: number, j: number): string => `$a${i}${j}`;
export const fmaInto = (i: number, j: number, x: string, d: string): string =>
  set(acc(i, j), `(f32x4.add ${get(acc(i, j))} (f32x4.mul ${x} ${d}))`);
/** Load or store `mr` x `nv` accumulators from/to row pointers $w0.. (column offset 16 j). */
export const accLoads = (mr: number, nv: number): string =>
  range(mr).flatMap((i) => range(nv).map((j) => set(acc(i, j), `(v128.load offset=${16 * j} ${get(`$w${i}`)})`))).join(' ');
export const accStores = (mr: number, nv: number): string =>
  range(mr).flatMap((i) => range(nv).map((j) => `(v128.store offset=${16 * j} ${get(`$w${i}`)} ${get(acc(i, j))})`)).join(' ');
export const accZero = (mr: number, nv: number): string =>
  range(mr).flatMap((i) => range(nv).map((j) => set(acc(i, j), '(v128.const i32x4 0 0 0 0)'))).join(' ');
/** $w_i = $wt + i * $cstride: the output rows of a tile. */
export const rowPtrs = (mr: number): string => range(mr).map((i) => set(`$w${i}`, add(get('$wt'), mul(c(i), get('$cstride'))))).join(' ');
export const accLocals = (): string => range(MR).map((i) => `(local $a${i}0 v128) (local $a${i}1 v128) (local $w${i} i32)`).join(' ');

/**
 * A loop over the columns of the output in tiles of 8 (then one of 4 if 4 remain), emitting
 * `tile(nv)` for each; `$c0` is the tile's first column, `$cout` the column count.
 */
export function columnTiles(label: string, tile: (nv: number) => string): string {
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

/** Row tiles of 4, then single rows, over $i0 in [0, $M), each emitting `tile(mr)`. */
export function rowTiles(label: string, tile: (mr: number) => string): string {
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
