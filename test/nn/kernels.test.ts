// Every kernel registered for 'wasm' in src/nn/kernels is checked against the CPU backend:
// forward values and gradients (through tf.grads), strides 1 and 2, same and valid padding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getKernel } from '@tensorflow/tfjs-core';
import { initBackend, tf } from '../../src/nn/backend.js';
import { simdKernels, WASM_KERNEL_NAMES } from '../../src/nn/kernels/index.js';
import { Rng } from '../../src/nn/rng.js';

function rand(n: number, seed: number): Float32Array {
  const r = new Rng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = r.normal();
  return a;
}
const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** Run `fn` on a backend and return its outputs as plain arrays. */
async function on(backend: 'cpu' | 'wasm', fn: () => Array<import('@tensorflow/tfjs-core').Tensor>) {
  await initBackend(backend);
  const t = tf();
  const outs = t.tidy(fn);
  const data = outs.map((o) => o.dataSync().slice() as Float32Array);
  const shapes = outs.map((o) => o.shape);
  t.dispose(outs);
  return { data, shapes };
}

function assertClose(a: Float32Array, b: Float32Array, label: string, rtol = 2e-5): void {
  assert.equal(a.length, b.length, `${label}: length`);
  let maxAbs = 0;
  let maxDiff = 0;
  for (let i = 0; i < a.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(b[i]!));
    maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
  }
  assert.ok(Number.isFinite(maxDiff) && maxDiff <= rtol * Math.max(1, maxAbs), `${label}: max diff ${maxDiff} (scale ${maxAbs})`);
}

test('wasm backend has our kernels registered', async () => {
  await initBackend('wasm');
  for (const k of WASM_KERNEL_NAMES) assert.ok(getKernel(k, 'wasm'), k);
  assert.ok(WASM_KERNEL_NAMES.includes('Conv2DBackpropFilter'));
  assert.ok(simdKernels(), 'the SIMD module is loaded on the wasm heap');
});

const convCases: Array<{ x: number[]; f: number[]; s: number; pad: 'same' | 'valid' }> = [];
for (const s of [1, 2]) {
  for (const pad of ['same', 'valid'] as const) {
    convCases.push({ x: [2, 7, 7, 3], f: [3, 3, 3, 4], s, pad });
    convCases.push({ x: [3, 8, 8, 5], f: [3, 3, 5, 6], s, pad });
    convCases.push({ x: [2, 6, 9, 2], f: [1, 1, 2, 3], s, pad });
    convCases.push({ x: [1, 9, 8, 2], f: [5, 4, 2, 3], s, pad });
    // Cout a multiple of 4: forward and filter gradient run on our SIMD kernels
    // (src/nn/kernels/simd/), the input gradient too when Cin is a multiple of 4. KW*Cin = 9,
    // 15, 4, 8, 24, 12 and output widths 1-9 cover 4-row/4-pixel tiles and their tails, Cout
    // 4, 8, 12, 16 the 8- and 4-channel column tiles.
    convCases.push({ x: [2, 7, 7, 3], f: [3, 3, 3, 8], s, pad });
    convCases.push({ x: [3, 8, 8, 5], f: [3, 3, 5, 16], s, pad });
    convCases.push({ x: [2, 6, 9, 4], f: [1, 1, 4, 8], s, pad });
    convCases.push({ x: [2, 10, 9, 2], f: [5, 4, 2, 8], s, pad });
    convCases.push({ x: [2, 9, 9, 8], f: [3, 3, 8, 4], s, pad });
    convCases.push({ x: [1, 7, 6, 4], f: [5, 3, 4, 12], s, pad });
  }
}

for (const c of convCases) {
  test(`conv2d gradients wasm = cpu: x ${c.x} filter ${c.f} stride ${c.s} ${c.pad}`, async () => {
    const xv = rand(prod(c.x), 1);
    const fv = rand(prod(c.f), 2);
    const fn = () => {
      const t = tf();
      const x = t.tensor4d(xv, c.x as [number, number, number, number]);
      const w = t.tensor4d(fv, c.f as [number, number, number, number]);
      const y = t.conv2d(x, w, c.s, c.pad);
      const r = t.tensor(rand(y.size, 3), y.shape);
      const g = t.grads((a: import('@tensorflow/tfjs-core').Tensor, b: import('@tensorflow/tfjs-core').Tensor) =>
        t.sum(t.mul(t.conv2d(a as never, b as never, c.s, c.pad), r)),
      )([x, w]);
      return [y, g[0]!, g[1]!];
    };
    const cpu = await on('cpu', fn);
    const wasm = await on('wasm', fn);
    assert.deepEqual(wasm.shapes, cpu.shapes);
    assertClose(wasm.data[0]!, cpu.data[0]!, 'forward');
    assertClose(wasm.data[1]!, cpu.data[1]!, 'dx (Conv2DBackpropInput)');
    assertClose(wasm.data[2]!, cpu.data[2]!, 'dw (Conv2DBackpropFilter)');
  });
}

test('matMul with transposed operands wasm = cpu (forward and gradients)', async () => {
  for (const [ta, tb] of [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ] as const) {
    // Unbatched products with N (or, for A B^T, K) a multiple of 4 run on our SIMD kernels:
    // row tiles of 4 and a tail, column tiles of 8 and of 4, K above the 256-row block.
    const shapes: Array<[number, number, number]> = [
      [5, 7, 4],
      [9, 12, 20],
      [6, 300, 16],
      [3, 8, 13],
    ];
    for (const [batch, [m, k, n]] of [[], [3]].flatMap((bt) => shapes.map((s) => [bt, s] as const))) {
      const aShape = [...batch, ...(ta ? [k, m] : [m, k])];
      const bShape = [...batch, ...(tb ? [n, k] : [k, n])];
      const av = rand(prod(aShape), 4);
      const bv = rand(prod(bShape), 5);
      const fn = () => {
        const t = tf();
        const a = t.tensor(av, aShape);
        const b = t.tensor(bv, bShape);
        const y = t.matMul(a, b, ta, tb);
        const r = t.tensor(rand(y.size, 6), y.shape);
        const g = t.grads((p: import('@tensorflow/tfjs-core').Tensor, q: import('@tensorflow/tfjs-core').Tensor) =>
          t.sum(t.mul(t.matMul(p, q, ta, tb), r)),
        )([a, b]);
        return [y, g[0]!, g[1]!];
      };
      const cpu = await on('cpu', fn);
      const wasm = await on('wasm', fn);
      for (let i = 0; i < 3; i++) assertClose(wasm.data[i]!, cpu.data[i]!, `matMul ta=${ta} tb=${tb} batch=${batch} ${m}x${k}x${n} out ${i}`);
    }
  }
});

test('sum/mean over leading axes wasm = cpu, and batch-norm style gradients', async () => {
  const shape = [4, 5, 6, 3];
  const xv = rand(prod(shape), 7);
  for (const keepDims of [false, true]) {
    for (const axes of [[0], [0, 1], [0, 1, 2], [1, 2], [3], [0, 2]]) {
      const fn = () => {
        const t = tf();
        const x = t.tensor(xv, shape);
        return [t.sum(x, axes, keepDims), t.mean(x, axes, keepDims)];
      };
      const cpu = await on('cpu', fn);
      const wasm = await on('wasm', fn);
      assert.deepEqual(wasm.shapes, cpu.shapes);
      assertClose(wasm.data[0]!, cpu.data[0]!, `sum ${axes} keepDims=${keepDims}`);
      assertClose(wasm.data[1]!, cpu.data[1]!, `mean ${axes} keepDims=${keepDims}`);
    }
  }
  // Gradient of a batch norm written with moments (what the models do).
  const gv = rand(3, 8);
  const fn = () => {
    const t = tf();
    const x = t.tensor(xv, shape);
    const gamma = t.tensor(gv, [3]);
    const r = t.tensor(rand(prod(shape), 9), shape);
    const g = t.grads((a: import('@tensorflow/tfjs-core').Tensor, gm: import('@tensorflow/tfjs-core').Tensor) => {
      const { mean, variance } = t.moments(a, [0, 1, 2]);
      return t.sum(t.mul(t.mul(t.mul(t.sub(a, mean), t.rsqrt(t.add(variance, 1e-5))), gm), r));
    })([x, gamma]);
    return [g[0]!, g[1]!];
  };
  const cpu = await on('cpu', fn);
  const wasm = await on('wasm', fn);
  assertClose(wasm.data[0]!, cpu.data[0]!, 'bn dx', 1e-4);
  assertClose(wasm.data[1]!, cpu.data[1]!, 'bn dgamma', 1e-4);
});

test('fused optimizer update (wasm, cpu) is bitwise the composed element-wise update', async () => {
  const { optimizerStep, setFusedOptimizer, validateOptimizer } = await import('../../src/nn/optim.js');
  const shape = [37, 11];
  const n = prod(shape);
  const maskv = Float32Array.from(rand(n, 20), (v) => (v > 0 ? 1 : 0));
  for (const backend of ['wasm', 'cpu'] as const) {
    for (const type of ['sgd', 'momentum', 'nesterov', 'adam', 'adamw'] as const) {
      // 1: the grokking papers' AdamW decay (lr * weightDecay = 0.01..0.03 here).
      for (const weightDecay of [0, 5e-4, 1]) {
        const runSteps = async (fused: boolean) => {
          await initBackend(backend);
          const t = tf();
          setFusedOptimizer(fused);
          const cfg = validateOptimizer({ type, weightDecay });
          // 'c' is above the fused kernel's size limit: the mixed path must give the same bits too.
          let params: Record<string, import('@tensorflow/tfjs-core').Tensor> = {
            a: t.tensor(rand(n, 21), shape),
            b: t.tensor(rand(7, 22), [7]),
            c: t.tensor(rand(130 * 130, 23), [130, 130]),
          };
          let state: Record<string, import('@tensorflow/tfjs-core').Tensor> = {};
          const masks = { a: t.tensor(maskv, shape) };
          for (let it = 0; it < 3; it++) {
            const grads = {
              a: t.tensor(rand(n, 30 + it), shape),
              b: t.tensor(rand(7, 40 + it), [7]),
              c: t.tensor(rand(130 * 130, 50 + it), [130, 130]),
            };
            const s = optimizerStep(cfg, params, grads, state, masks, 0.01 * (it + 1), it);
            t.dispose([...Object.values(grads), ...Object.values(params), ...Object.values(state)]);
            params = s.params;
            state = s.state;
          }
          const out = [...Object.keys(params).sort().map((k) => params[k]!), ...Object.keys(state).sort().map((k) => state[k]!)];
          const data = out.map((o) => Buffer.from((o.dataSync() as Float32Array).slice().buffer));
          t.dispose([...out, masks.a]);
          setFusedOptimizer(true);
          return data;
        };
        const composed = await runSteps(false);
        const fused = await runSteps(true);
        assert.equal(fused.length, composed.length);
        for (let i = 0; i < fused.length; i++) assert.ok(fused[i]!.equals(composed[i]!), `${backend} ${type} wd=${weightDecay} tensor ${i}`);
      }
    }
  }
});

// 3 channels: the composed hand-written gradient on both backends; 8 and 4 (1,296 rows, more than
// one block of the reductions): the fused kernels on wasm (src/nn/kernels/batchnorm.ts).
for (const shape of [
  [4, 5, 6, 3],
  [4, 5, 6, 8],
  [16, 9, 9, 4],
]) {
  test(`batch norm with the hand-written gradient = autodiff through moments (cpu, wasm): ${shape}`, async () => {
    const { batchNormTrain } = await import('../../src/nn/models/index.js');
    const ch = shape[3]!;
    const xv = rand(prod(shape), 60);
    const gv = rand(ch, 61);
    const bv = rand(ch, 62);
    const rv = rand(prod(shape), 63);
    type T = import('@tensorflow/tfjs-core').Tensor;
    for (const backend of ['cpu', 'wasm'] as const) {
      const run = (hand: boolean) => {
        const t = tf();
        const x = t.tensor(xv, shape);
        const gamma = t.tensor(gv, [ch]);
        const beta = t.tensor(bv, [ch]);
        const r = t.tensor(rv, shape);
        const stats: T[] = [];
        const g = t.grads((a: T, gm: T, bt: T) => {
          if (hand) {
            const o = batchNormTrain(a, gm, bt);
            stats.push(t.keep(o.mean), t.keep(o.variance));
            return t.sum(t.mul(o.y, r));
          }
          const { mean, variance } = t.moments(a, [0, 1, 2]);
          stats.push(t.keep(mean), t.keep(variance));
          const y = t.add(t.mul(t.mul(t.sub(a, mean), t.rsqrt(t.add(variance, 1e-5))), gm), bt);
          return t.sum(t.mul(y, r));
        })([x, gamma, beta]);
        const y = hand ? batchNormTrain(x, gamma, beta) : undefined;
        const out = [...g, ...stats, ...(y ? [y.y] : [])];
        if (y) t.dispose([y.mean, y.variance]);
        return out;
      };
      const hand = await on(backend, () => run(true));
      const auto = await on(backend, () => run(false));
      for (let i = 0; i < 5; i++) assertClose(hand.data[i]!, auto.data[i]!, `${backend} output ${i}`, 1e-4);
    }
  });
}

test('maxPool gradient wasm = cpu (strides 1 and 2, same and valid, overlapping windows, ties)', async () => {
  for (const [f, s] of [[2, 2], [3, 2], [3, 1], [2, 1]] as const) {
    // 3 channels: the scalar loop; 8: the SIMD kernel (channels a multiple of 4).
    for (const [pad, shape] of (['same', 'valid'] as const).flatMap((p) => [[2, 7, 6, 3], [2, 7, 6, 8]].map((sh) => [p, sh] as const))) {
      // Rounded values: many ties inside windows, as after a ReLU.
      const xv = Float32Array.from(rand(prod(shape), 70), (v) => Math.max(0, Math.round(v * 2) / 2));
      const fn = () => {
        const t = tf();
        const x = t.tensor4d(xv, shape as [number, number, number, number]);
        const y = t.maxPool(x, f, s, pad);
        const r = t.tensor(rand(y.size, 71), y.shape);
        const g = t.grad((a: import('@tensorflow/tfjs-core').Tensor) => t.sum(t.mul(t.maxPool(a as never, f, s, pad), r)))(x);
        return [y, g];
      };
      const cpu = await on('cpu', fn);
      const wasm = await on('wasm', fn);
      assertClose(wasm.data[0]!, cpu.data[0]!, `maxPool f=${f} s=${s} ${pad} ${shape}`);
      assertClose(wasm.data[1]!, cpu.data[1]!, `maxPool grad f=${f} s=${s} ${pad} ${shape}`);
    }
  }
});

test('UnsortedSegmentSum (wasm, ours) = cpu: the gradient of gather, repeated and missing ids', async () => {
  const ids = Int32Array.from([3, 0, 3, 3, 1, 0, 6]); // segment 2, 4, 5 get nothing; 6 is out of range
  const fn = () => {
    const t = tf();
    return [t.unsortedSegmentSum(t.tensor(rand(7 * 5, 60), [7, 5]), t.tensor1d(ids, 'int32'), 6)];
  };
  const cpu = await on('cpu', fn);
  const wasm = await on('wasm', fn);
  assert.deepEqual(wasm.shapes, [[6, 5]]);
  assertClose(wasm.data[0]!, cpu.data[0]!, 'segment sum', 1e-6);
  const grad = () => {
    const t = tf();
    const table = t.tensor(rand(4 * 3, 61), [4, 3]);
    return [t.grad((w: import('@tensorflow/tfjs-core').Tensor) => t.sum(t.mul(t.gather(w, t.tensor1d([2, 2, 0], 'int32')), t.tensor(rand(9, 62), [3, 3]))))(table)];
  };
  assertClose((await on('wasm', grad)).data[0]!, (await on('cpu', grad)).data[0]!, 'gather gradient', 1e-6);
});
