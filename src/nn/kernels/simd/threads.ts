/**
 * Runs functions of our SIMD module (./index.ts) on several threads at once, on the WASM backend's
 * shared memory (the threaded build, `initBackend('wasm', {threads})`). Each worker instantiates
 * the same compiled module on the same memory and waits on a small shared control block; the
 * calling thread takes the first part of the work itself and blocks until the others are done.
 *
 * Why by hand: the kernels are synchronous calls inside TensorFlow.js kernel functions, so the
 * hand-off has to be synchronous too (Atomics.wait/notify); a promise-based worker pool cannot be
 * awaited there. Only functions whose arguments are all i32 are run this way.
 */
import { Worker } from 'node:worker_threads';

/** Control block, in i32 slots: sequence number posted, sequence done, function, arg count, failed. */
const SEQ = 0;
const DONE = 1;
const FN = 2;
const NARGS = 3;
const FAILED = 4;
const HEADER = 5;
const MAX_ARGS = 24;

// Plain JavaScript, evaluated in each worker (no TypeScript loader there).
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, ctl, names } = workerData;
const { exports } = new WebAssembly.Instance(module, { env: { memory } });
const fns = names.map((n) => exports[n]);
let seen = 0;
for (;;) {
  Atomics.wait(ctl, ${SEQ}, seen);
  seen = Atomics.load(ctl, ${SEQ});
  try {
    fns[ctl[${FN}]](...Array.from(ctl.subarray(${HEADER}, ${HEADER} + ctl[${NARGS}])));
  } catch (e) {
    Atomics.store(ctl, ${FAILED}, 1);
  }
  Atomics.store(ctl, ${DONE}, seen);
  Atomics.notify(ctl, ${DONE});
}`;

export class KernelThreads {
  private readonly ctls: Int32Array[] = [];
  private readonly index = new Map<string, number>();
  private seq = 0;

  /** `helpers` worker threads besides the calling one, for the exported functions `names`. */
  constructor(module: WebAssembly.Module, memory: WebAssembly.Memory, names: string[], helpers: number) {
    names.forEach((n, i) => this.index.set(n, i));
    for (let i = 0; i < helpers; i++) {
      const ctl = new Int32Array(new SharedArrayBuffer((HEADER + MAX_ARGS) * 4));
      const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { module, memory, ctl, names } });
      // Workers wait for work for the life of the process; they must not keep it alive.
      worker.unref();
      this.ctls.push(ctl);
    }
  }

  /** Threads that can work at once (the caller included). */
  get size(): number {
    return this.ctls.length + 1;
  }

  /**
   * Call `fn` once per argument list, in parallel: the first list on this thread, the others on
   * the workers (at most `size` lists). The calls must write disjoint memory.
   */
  run(fn: string, parts: number[][], local: (...args: number[]) => void): void {
    const f = this.index.get(fn);
    if (f === undefined) throw new Error(`simd threads: unknown function ${fn}`);
    if (parts.length > this.size) throw new Error(`simd threads: ${parts.length} parts for ${this.size} threads`);
    const seq = ++this.seq;
    const used = this.ctls.slice(0, parts.length - 1);
    used.forEach((ctl, i) => {
      const args = parts[i + 1]!;
      ctl[FN] = f;
      ctl[NARGS] = args.length;
      ctl.set(args, HEADER);
      Atomics.store(ctl, SEQ, seq);
      Atomics.notify(ctl, SEQ);
    });
    let error: unknown;
    try {
      local(...parts[0]!);
    } catch (e) {
      error = e;
    }
    for (const ctl of used) {
      for (let done = Atomics.load(ctl, DONE); done !== seq; done = Atomics.load(ctl, DONE)) Atomics.wait(ctl, DONE, done);
      if (Atomics.exchange(ctl, FAILED, 0) !== 0) error ??= new Error(`simd kernel ${fn} failed on a worker thread`);
    }
    if (error !== undefined) throw error;
  }
}

/**
 * [begin, end) ranges that split [0, total) into at most `parts` contiguous pieces of nearly equal
 * size, each beginning at a multiple of `align`; no empty pieces.
 */
export function splitRange(total: number, parts: number, align = 1): Array<[number, number]> {
  const units = Math.ceil(total / align);
  const n = Math.max(1, Math.min(parts, units));
  const out: Array<[number, number]> = [];
  for (let i = 0; i < n; i++) {
    const begin = Math.min(total, Math.round((units * i) / n) * align);
    const end = Math.min(total, Math.round((units * (i + 1)) / n) * align);
    if (end > begin) out.push([begin, end]);
  }
  return out;
}
