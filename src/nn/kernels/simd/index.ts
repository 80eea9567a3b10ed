/**
 * Our WebAssembly SIMD kernels, working in place on the TensorFlow.js WASM backend's heap: the
 * module imports the backend's `WebAssembly.Memory`, so tensors are read and written at their
 * heap offsets with no copies.
 *
 * Why by hand: XNNPACK's kernels stay below ~30 GFLOP/s here, and its GEMM streams the whole
 * packed operand once per output tile, so the filter gradient (a product with a small M x N and a
 * huge K) was memory-bound at ~12 GFLOP/s; every product with a new weight tensor also paid for
 * repacking it (bench/RESULTS.md). These kernels keep register tiles over blocks that stay in
 * cache and read operands as they lie. The module is WebAssembly text produced by the generators
 * beside this file (loops unrolled there), assembled by wabt (`wabt` on npm) when the backend
 * starts: no native tool chain, no generated binary in git.
 *
 * Numerics are plain IEEE float32 SIMD (no relaxed/fused operations), so results are the same on
 * every machine, as with XNNPACK's WASM kernels.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { chanAffineFunc, bnCenter, chanDot, chanSum } from './channels.js';
import { convDwFunc, convFwdFunc, DY_BLOCK_BYTES, maxPoolGradFunc } from './conv.js';
import { gemmNnFunc, gemmNtFunc } from './matmul.js';
import { ALL_FLAGS, updateFunc, updateName, type Flags } from './optimizer.js';
import type { OptimizerType } from '../../optimizer-types.js';
import { KernelThreads, splitRange } from './threads.js';
import { MR } from './wat.js';

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
  /** Max-pool gradient into a zeroed dx [N, H, W, C] (C a multiple of 4); see ../index.ts. */
  maxPoolGrad(a: MaxPoolGradArgs): void;
  /**
   * Batch norm's passes over [rows, C] tensors (C a multiple of 4), per-channel arrays of C floats;
   * sums are added to what their arrays hold. See ../batchnorm.ts.
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
  /** The fused masked optimizer update (see ../optimizer.ts for the exact operations). */
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

/** Geometry of a stride-(sh, sw) window (convolution or pooling): size, top/left padding, output size. */
export interface Window {
  fh: number;
  fw: number;
  sh: number;
  sw: number;
  pt: number;
  pl: number;
  oh: number;
  ow: number;
}

export interface MaxPoolGradArgs extends Window {
  x: number;
  dy: number;
  dx: number;
  n: number;
  h: number;
  w: number;
  c: number;
}

export type OptimizerKind = OptimizerType;

/** Pointers (0 = absent) and the float32 scalars of one update; see ../optimizer.ts. */
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
  /** Weight decay on or off; `wd` is its scalar: L2's coefficient, or AdamW's factor on the weight. */
  hasWd: boolean;
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

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/**
 * The module's binary: assembled by wabt, and kept in `node_modules/.cache/lth-pipeline/` under the
 * digest of its text, so that the stage processes after the first skip loading the assembler
 * (~0.2 s each). (Not the shared temp folder: another user could plant a module there.)
 */
async function assemble(text: string, shared: boolean): Promise<Uint8Array> {
  const require = createRequire(import.meta.url);
  const dir = join(dirname(require.resolve('wabt/package.json')), '..', '.cache', 'lth-pipeline');
  const file = join(dir, `wasm-simd-${sha256(text).slice(0, 16)}.wasm`);
  try {
    const cached = new Uint8Array(readFileSync(file));
    if (WebAssembly.validate(cached)) return cached;
  } catch {
    // not there yet (or unreadable): assemble it
  }
  const wabt = await (require('wabt') as () => Promise<Wabt>)();
  const features = { simd: true, threads: shared };
  const mod = wabt.parseWat('lth-simd.wat', text, features);
  let binary: Uint8Array;
  try {
    mod.validate(features);
    binary = mod.toBinary({}).buffer;
  } finally {
    mod.destroy();
  }
  try {
    mkdirSync(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, binary);
    renameSync(tmp, file);
  } catch {
    // a read-only install only costs the next process the assembly
  }
  return binary;
}

/** Multiply-adds below which a call is not worth splitting across threads. */
const MIN_PARALLEL_WORK = 1 << 20;

/**
 * Assemble and instantiate the module on the given heap. With `threads` > 1 on a shared heap (the
 * backend's threaded build), convolutions, products and the pooling gradient are split across
 * that many threads (./threads.ts), each part writing its own rows of the output.
 */
export async function loadSimdKernels(memory: WebAssembly.Memory, threads = 1): Promise<SimdKernels> {
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  const binary = await assemble(simdModuleText(shared), shared);
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
    version: sha256(simdModuleText(false)).slice(0, 12),
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
      const f: Flags = { kind: a.kind, mask: a.mask !== 0, wd: a.hasWd, state: a.s1 !== 0 };
      const fn = ex[updateName(f)]!;
      fn(a.n, a.p, a.g, a.mask, a.s1, a.s2, a.np, a.o1, a.o2, a.lr, a.wd, a.momentum, a.b1, a.b2, a.c1, a.c2, a.bc2, a.eps, a.step);
    },
  };
}
