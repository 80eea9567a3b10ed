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
import { createRequire } from 'node:module';

/** The functions of the module; pointers are byte offsets into the backend's heap. */
export interface SimdKernels {
  /**
   * Filter gradient of a 2-D convolution, accumulated into `dw` (zero it first).
   * xp: the input padded so that every window is in bounds, [N, HP, WP, Cin];
   * dy: [N, OH, OW, Cout] (Cout a multiple of 8); dw: [KH, KW*Cin, Cout].
   */
  convFilterGrad(a: ConvFilterGradArgs): void;
  /** The fused masked optimizer update (see ./optimizer.ts for the exact operations). */
  optimizerUpdate(a: OptimizerArgs): void;
}

export interface ConvFilterGradArgs {
  xp: number;
  dy: number;
  dw: number;
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
// Filter gradient
// ---------------------------------------------------------------------------------------------

/** Rows of dW (positions in KW*Cin) per register tile, and columns (Cout) per tile: 2 vectors. */
const MR = 4;
/** Bytes of dy per block of output rows: the block is re-read once per tile, from L1. */
const DY_BLOCK_BYTES = 16 * 1024;

/**
 * The tile loop for `mr` rows of dW: for each 8-column tile, load the accumulators, run over the
 * block's output pixels, store them back. Expects locals set by `convDwFunc`.
 */
function dwTile(mr: number): string {
  const rows = [...Array(mr).keys()];
  const acc = (i: number, j: number): string => `$a${i}${j}`;
  const loads = rows
    .map((i) => `(local.set ${acc(i, 0)} (v128.load (local.get $w${i}))) (local.set ${acc(i, 1)} (v128.load offset=16 (local.get $w${i})))`)
    .join('\n');
  const stores = rows
    .map((i) => `(v128.store (local.get $w${i}) (local.get ${acc(i, 0)})) (v128.store offset=16 (local.get $w${i}) (local.get ${acc(i, 1)}))`)
    .join('\n');
  const wptrs = rows.map((i) => `(local.set $w${i} (i32.add (local.get $wt) (i32.mul (i32.const ${i}) (local.get $cstride))))`).join('\n');
  const body = rows
    .map(
      (i) => `(local.set $x (v128.load32_splat offset=${i * 4} (local.get $xptr)))
        (local.set ${acc(i, 0)} (f32x4.add (local.get ${acc(i, 0)}) (f32x4.mul (local.get $x) (local.get $d0))))
        (local.set ${acc(i, 1)} (f32x4.add (local.get ${acc(i, 1)}) (f32x4.mul (local.get $x) (local.get $d1))))`,
    )
    .join('\n');
  return `
  (local.set $c0 (i32.const 0))
  (loop $cl
    ;; $wt: dW[k, r0, c0]
    (local.set $wt (i32.add (local.get $dw)
      (i32.shl (i32.add (i32.mul (i32.add (i32.mul (local.get $k) (local.get $R)) (local.get $r0)) (local.get $cout)) (local.get $c0)) (i32.const 2))))
    ${wptrs}
    ${loads}
    (local.set $row (local.get $rb0))
    (local.set $img (i32.div_u (local.get $row) (local.get $oh)))
    (local.set $o (i32.rem_u (local.get $row) (local.get $oh)))
    (loop $rl
      (local.set $xptr (i32.add (local.get $xp) (i32.add (i32.mul (local.get $img) (local.get $xImg))
        (i32.add (i32.mul (i32.add (i32.mul (local.get $o) (local.get $sh)) (local.get $k)) (local.get $xRow)) (i32.shl (local.get $r0) (i32.const 2))))))
      (local.set $dptr (i32.add (local.get $dy) (i32.add (i32.mul (local.get $row) (local.get $dyRow)) (i32.shl (local.get $c0) (i32.const 2)))))
      (local.set $xend (i32.add (local.get $xptr) (i32.mul (local.get $ow) (local.get $xStep))))
      (loop $pl
        (local.set $d0 (v128.load (local.get $dptr)))
        (local.set $d1 (v128.load offset=16 (local.get $dptr)))
        ${body}
        (local.set $dptr (i32.add (local.get $dptr) (local.get $cstride)))
        (local.set $xptr (i32.add (local.get $xptr) (local.get $xStep)))
        (br_if $pl (i32.lt_u (local.get $xptr) (local.get $xend))))
      (local.set $row (i32.add (local.get $row) (i32.const 1)))
      (local.set $o (i32.add (local.get $o) (i32.const 1)))
      (if (i32.eq (local.get $o) (local.get $oh)) (then (local.set $o (i32.const 0)) (local.set $img (i32.add (local.get $img) (i32.const 1)))))
      (br_if $rl (i32.lt_u (local.get $row) (local.get $rb1))))
    ${stores}
    (local.set $c0 (i32.add (local.get $c0) (i32.const 8)))
    (br_if $cl (i32.lt_u (local.get $c0) (local.get $cout))))`;
}

function convDwFunc(): string {
  const accLocals = [...Array(MR).keys()].map((i) => `(local $a${i}0 v128) (local $a${i}1 v128) (local $w${i} i32)`).join(' ');
  return `
(func (export "conv_dw")
  (param $xp i32) (param $dy i32) (param $dw i32) (param $rows i32) (param $oh i32) (param $ow i32)
  (param $cout i32) (param $KH i32) (param $R i32) (param $xRow i32) (param $xImg i32) (param $sh i32)
  (param $xStep i32) (param $rowBlock i32)
  (local $rb0 i32) (local $rb1 i32) (local $k i32) (local $r0 i32) (local $c0 i32) (local $wt i32)
  (local $row i32) (local $img i32) (local $o i32) (local $xptr i32) (local $xend i32) (local $dptr i32)
  (local $cstride i32) (local $dyRow i32) (local $x v128) (local $d0 v128) (local $d1 v128)
  ${accLocals}
  (local.set $cstride (i32.shl (local.get $cout) (i32.const 2)))
  (local.set $dyRow (i32.mul (local.get $ow) (local.get $cstride)))
  (local.set $rb0 (i32.const 0))
  (loop $bl
    (local.set $rb1 (i32.add (local.get $rb0) (local.get $rowBlock)))
    (if (i32.gt_u (local.get $rb1) (local.get $rows)) (then (local.set $rb1 (local.get $rows))))
    (local.set $k (i32.const 0))
    (loop $kl
      (local.set $r0 (i32.const 0))
      (block $full
        (br_if $full (i32.gt_u (i32.add (local.get $r0) (i32.const ${MR})) (local.get $R)))
        (loop $r4
          ${dwTile(MR)}
          (local.set $r0 (i32.add (local.get $r0) (i32.const ${MR})))
          (br_if $r4 (i32.le_u (i32.add (local.get $r0) (i32.const ${MR})) (local.get $R)))))
      (block $tail
        (br_if $tail (i32.ge_u (local.get $r0) (local.get $R)))
        (loop $r1
          ${dwTile(1)}
          (local.set $r0 (i32.add (local.get $r0) (i32.const 1)))
          (br_if $r1 (i32.lt_u (local.get $r0) (local.get $R)))))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br_if $kl (i32.lt_u (local.get $k) (local.get $KH))))
    (local.set $rb0 (local.get $rb1))
    (br_if $bl (i32.lt_u (local.get $rb0) (local.get $rows)))))`;
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
  const s = (name: string): string => (vec ? `(f32x4.splat (local.get ${name}))` : `(local.get ${name})`);
  const op = (o: string, a: string, b?: string): string => `(${t}.${o} ${a}${b === undefined ? '' : ' ' + b})`;
  const get = (n: string): string => `(local.get ${n}${vec ? 'v' : 's'})`;
  const set = (n: string, v: string): string => `(local.set ${n}${vec ? 'v' : 's'} ${v})`;
  const lines: string[] = [set('$g', load('$g'))];
  if (f.mask) lines.push(set('$g', op('mul', get('$g'), load('$mask'))));
  if (f.wd) lines.push(set('$g', op('add', get('$g'), op('mul', load('$p'), s('$wd')))));
  let upd: string;
  if (f.kind === 'sgd') {
    upd = op('mul', get('$g'), s('$lr'));
  } else if (f.kind === 'momentum' || f.kind === 'nesterov') {
    lines.push(set('$b', f.state ? op('add', op('mul', load('$s1'), s('$mom')), get('$g')) : get('$g')));
    lines.push(store('$o1', get('$b')));
    upd =
      f.kind === 'nesterov'
        ? op('mul', op('add', get('$g'), op('mul', get('$b'), s('$mom'))), s('$lr'))
        : op('mul', get('$b'), s('$lr'));
  } else {
    const gc1 = op('mul', get('$g'), s('$c1'));
    lines.push(set('$b', f.state ? op('add', op('mul', load('$s1'), s('$b1')), gc1) : gc1));
    const g2c2 = op('mul', op('mul', get('$g'), get('$g')), s('$c2'));
    lines.push(set('$v', f.state ? op('add', op('mul', load('$s2'), s('$b2')), g2c2) : g2c2));
    lines.push(store('$o1', get('$b')), store('$o2', get('$v')));
    const denom = op('add', op('sqrt', op('div', get('$v'), s('$bc2'))), s('$eps'));
    upd = op('div', op('mul', get('$b'), s('$step')), denom);
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
    validate(): void;
    destroy(): void;
  };
}

/** Assemble and instantiate the module on the given heap. */
export async function loadSimdKernels(memory: WebAssembly.Memory): Promise<SimdKernels> {
  const require = createRequire(import.meta.url);
  const wabt = await (require('wabt') as () => Promise<Wabt>)();
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  const mod = wabt.parseWat('lth-simd.wat', simdModuleText(shared), { simd: true, threads: shared });
  let binary: Uint8Array;
  try {
    mod.validate();
    binary = mod.toBinary({}).buffer;
  } finally {
    mod.destroy();
  }
  const { instance } = await WebAssembly.instantiate(binary as BufferSource, { env: { memory } });
  const ex = instance.exports as Record<string, Fn>;
  const convDw = ex.conv_dw!;
  return {
    convFilterGrad(a) {
      if (a.cout % 8 !== 0) throw new Error(`convFilterGrad: Cout must be a multiple of 8, got ${a.cout}`);
      const rows = a.n * a.oh;
      const rowBlock = Math.max(1, Math.floor(DY_BLOCK_BYTES / (a.ow * a.cout * 4)));
      const xRow = a.wp * a.cin * 4;
      convDw(a.xp, a.dy, a.dw, rows, a.oh, a.ow, a.cout, a.kh, a.kw * a.cin, xRow, a.hp * xRow, a.sh, a.sw * a.cin * 4, rowBlock);
    },
    optimizerUpdate(a) {
      const f: Flags = { kind: a.kind, mask: a.mask !== 0, wd: a.wd !== 0, state: a.s1 !== 0 };
      const fn = ex[updateName(f)]!;
      fn(a.n, a.p, a.g, a.mask, a.s1, a.s2, a.np, a.o1, a.o2, a.lr, a.wd, a.momentum, a.b1, a.b2, a.c1, a.c2, a.bc2, a.eps, a.step);
    },
  };
}
