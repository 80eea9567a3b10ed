// The native TensorFlow backend (built by `pipeline setup native`): every model's forward pass and
// gradients agree with the WASM backend's; each model trains a step with pruned weights staying
// exactly zero under every optimizer; two runs with one seed give byte-identical checkpoints; a
// replayed dense run is bitwise an uninterrupted one. Skipped, with the reason, where it is not built.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { getKernel, type Scalar, type Tensor } from '@tensorflow/tfjs-core';
import { OPTIMIZER_KERNEL } from '../../src/nn/kernels/optimizer.js';
import { initBackend, tf, type BackendPref } from '../../src/nn/backend.js';
import { readManifest, nativeDir, opsSourceDigest } from '../../src/nn/native/layout.js';
import { optimizerStep, validateOptimizer } from '../../src/nn/optim.js';
import { buildModel, createModel, MODEL_NAMES, type Model } from '../../src/nn/models/index.js';
import { batchNormForward, setBatchNormTrainKernel } from '../../src/nn/models/batchnorm.js';
import { BATCH_NORM_TRAIN_KERNEL } from '../../src/nn/kernels/batchnorm.js';
import { denseChain, nativeDenseStep } from '../../src/nn/native/dense-step.js';
import { train } from '../../src/nn/train.js';
import { syntheticData } from '../../src/nn/train-data.js';
import { Rng } from '../../src/nn/rng.js';
import type { MaskMap } from '../../src/nn/tensormap.js';
import { readCheckpoint, replayDense, trainDense } from '../../src/lth/index.js';
import { runStage, sameBits, SYNTH } from '../lth/helpers.js';
import { relDiff } from '../helpers/numeric.js';

const build = readManifest();
const skip = build ? false : `the native backend is not built in ${nativeDir()} (npx pipeline setup native builds it)`;

/** Loss and gradients (and updated batch-norm statistics) of one training-mode batch, as plain arrays. */
async function lossAndGrads(backend: BackendPref, model: Model, batch: number): Promise<Record<string, Float32Array>> {
  await initBackend(backend, { threads: 1 });
  const t = tf();
  const w0 = model.init();
  const rng = new Rng(3);
  const xs = Float32Array.from({ length: batch * model.inputShape.reduce((a, b) => a * b, 1) }, () => rng.next() * 2 - 1);
  const ys = Int32Array.from({ length: batch }, (_, i) => i % model.numClasses);
  const out: Record<string, Float32Array> = {};
  const names = model.trainable;
  t.tidy(() => {
    const w: Record<string, Tensor> = {};
    for (const p of model.params) w[p.name] = t.tensor(w0[p.name]!.data, p.shape);
    const x = t.tensor(xs, [batch, ...model.inputShape]);
    const f = (...ps: Tensor[]) => {
      const ws = { ...w };
      names.forEach((n, i) => (ws[n] = ps[i]!));
      const r = model.forward(ws, x, { training: true, dropoutSeed: 1 });
      for (const [k, v] of Object.entries(r.buffers)) out[`buffer ${k}`] = v.dataSync() as Float32Array;
      out.logits = r.logits.dataSync() as Float32Array;
      return t.losses.softmaxCrossEntropy(t.oneHot(t.tensor1d(ys, 'int32'), model.numClasses), r.logits) as Scalar;
    };
    const { value, grads } = t.valueAndGrads(f)(names.map((n) => w[n]!));
    out.loss = value.dataSync() as Float32Array;
    names.forEach((n, i) => (out[`grad ${n}`] = grads[i]!.dataSync() as Float32Array));
  });
  return out;
}

function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return ab / Math.sqrt(aa * bb);
}

function randomMask(model: Model, seed: number): MaskMap {
  const r = new Rng(seed);
  const mask: MaskMap = {};
  for (const p of model.params.filter((q) => model.prunable.includes(q.name))) {
    const d = Uint8Array.from({ length: p.shape.reduce((a, b) => a * b, 1) }, () => (r.next() < 0.5 ? 1 : 0));
    mask[p.name] = { shape: p.shape, data: d };
  }
  return mask;
}

// Which networks the native backend may train as one op (src/nn/native/dense-step.ts): read from
// the layers' description (Model.layerOps), without the native build.
test('the dense chain of a network: [flatten] dense (relu dense)*, no dropout, every trainable weight in it', () => {
  assert.deepEqual(denseChain(createModel('lenet300100')), ['fc1.kernel', 'fc1.bias', 'fc2.kernel', 'fc2.bias', 'fc3.kernel', 'fc3.bias']);
  assert.deepEqual(createModel('lenet300100').layerOps?.map((o) => o.op), ['flatten', 'dense', 'relu', 'dense', 'relu', 'dense']);
  const own = (build: Parameters<typeof buildModel>[0]['build']) => denseChain(buildModel({ name: 'own', inputShape: [4], numClasses: 2, build }));
  assert.deepEqual(own((l) => [l.dense(3, { bias: false }), l.relu(), l.dense(2)]), ['fc1.kernel', 'fc2.kernel', 'fc2.bias']);
  assert.equal(own((l) => [l.dense(3), l.dense(2)]), undefined, 'no ReLU between');
  assert.equal(own((l) => [l.dense(3), l.relu(), l.relu(), l.dense(2)]), undefined, 'two ReLUs');
  assert.equal(own((l) => [l.dense(3), l.relu(), l.dense(2), l.relu()]), undefined, 'ReLU on the logits');
  assert.equal(own((l) => [l.dense(3), l.batchNorm(), l.relu(), l.dense(2)]), undefined, 'batch norm');
  assert.equal(denseChain(createModel('lenet300100', { dropout: 0.2 })), undefined, 'dropout');
  assert.ok(denseChain(createModel('lenet300100', { dropout: 0 })), 'dropout at rate 0 is no layer');
  for (const name of ['conv2', 'resnet20', 'vgg16']) assert.equal(denseChain(createModel(name)), undefined, name);
});

describe('native TensorFlow backend', { skip }, () => {
  test('it is the backend in use, with TensorFlow and its wheel in the provenance', async () => {
    const info = await initBackend('tensorflow', { threads: 1 });
    assert.equal(info.name, 'tensorflow');
    assert.equal(info.threads, 1);
    assert.equal(info.versions.tensorflow, build!.tensorflow);
    assert.equal(info.versions['lth-ops'], opsSourceDigest(), 'our ops, compiled from the source as it is');
    assert.equal(info.versions['tensorflow-wheel'], build!.wheel.name);
    assert.match(info.versions['tensorflow-wheel-sha256'] ?? '', /^[0-9a-f]{64}$/);
  });

  // float32 with other summation orders (oneDNN, Eigen) than the WASM kernels. Forward values agree
  // to ~1e-6 of the largest value, and so do gradients without batch norm. Through batch norm, a
  // gradient is what is left after per-channel sums cancel (dx = a dy + b xc + c), so summation
  // order shows more, layer after layer: ResNet-20 (19 batch norms) ~1e-5, VGG (13-16, the last
  // ones over 2x2 pixels) up to ~1e-1 in some layers (the same with and without oneDNN; each
  // convolution alone agrees to ~1e-6): there the gradients must point the same way (cosine
  // similarity). A wrong kernel (padding, a transposed filter) is off by O(1).
  for (const name of MODEL_NAMES) {
    test(`${name}: loss, logits, gradients and batch-norm statistics agree with wasm`, async () => {
      const model = createModel(name, { seed: 5 });
      const batch = 16;
      const wasm = await lossAndGrads('wasm', model, batch);
      const native = await lossAndGrads('tensorflow', model, batch);
      assert.deepEqual(Object.keys(native).sort(), Object.keys(wasm).sort());
      for (const k of Object.keys(wasm)) {
        assert.equal(native[k]!.length, wasm[k]!.length, k);
        if (k.startsWith('grad ') && name.startsWith('vgg')) {
          const c = cosine(native[k]!, wasm[k]!);
          assert.ok(c > 0.999, `${name} ${k}: cosine similarity ${c}`);
          continue;
        }
        const tol = k.startsWith('grad ') && name === 'resnet20' ? 2e-4 : 2e-5;
        const d = relDiff(native[k]!, wasm[k]!);
        assert.ok(d < tol, `${name} ${k}: relative difference ${d.toExponential(2)} > ${tol}`);
      }
    });
  }

  for (const name of MODEL_NAMES) {
    // Every optimizer on a model without and one with batch norm; one on the others (VGG's steps are slow).
    const optimizers = name === 'lenet300100' || name === 'resnet20' ? (['sgd', 'momentum', 'nesterov', 'adam'] as const) : (['adam'] as const);
    test(`${name}: one training step; pruned weights stay exactly zero (${optimizers.join(', ')})`, async () => {
      await initBackend('tensorflow', { threads: 1 });
      const model = createModel(name, { seed: 1 });
      const data = syntheticData({ inputShape: model.inputShape, trainSize: 8, validationSize: 4, testSize: 4, seed: 1 });
      const mask = randomMask(model, 2);
      for (const type of optimizers) {
        const r = await train({ model, data, weights: model.init(), mask, batchSize: 4, budget: '1it', optimizer: { type, weightDecay: 1e-4 }, schedule: { lr: 0.01 }, dataSeed: 1 });
        for (const [n, m] of Object.entries(mask)) {
          const w = r.weights[n]!.data;
          for (let i = 0; i < w.length; i++) if (!m.data[i]) assert.ok(w[i] === 0, `${name} ${type} ${n}[${i}] = ${w[i]}`);
        }
        assert.ok(Object.values(r.weights).every((t) => t.data.every(Number.isFinite)), `${name} ${type}: finite weights`);
      }
    });
  }

  // Our LthOptimizerUpdate op runs the wasm kernel's loops operation for operation in float32.
  test('the optimizer update (our op) is bitwise the wasm fused kernel, for every optimizer', async () => {
    const rng = new Rng(9);
    const n = 40_000; // more than one block of the op's threads
    const arr = (scale: number) => Float32Array.from({ length: n }, () => (rng.next() * 2 - 1) * scale);
    const p = arr(1);
    const g = arr(0.1);
    const s1 = arr(0.01);
    const s2 = Float32Array.from(arr(0.001), Math.abs);
    const mask = Float32Array.from({ length: n }, () => (rng.next() < 0.3 ? 0 : 1));
    const update = async (backend: BackendPref, type: 'sgd' | 'momentum' | 'nesterov' | 'adam', withState: boolean) => {
      await initBackend(backend, { threads: 1 });
      const t = tf();
      const cfg = validateOptimizer({ type, weightDecay: 5e-4, momentum: 0.9 });
      const names = type === 'adam' ? ['adam_m/w', 'adam_v/w'] : type === 'sgd' ? [] : ['momentum/w'];
      const state = withState ? Object.fromEntries(names.map((k, i) => [k, t.tensor(i === 0 ? s1 : s2)])) : {};
      const r = optimizerStep(cfg, { w: t.tensor(p) }, { w: t.tensor(g) }, state, { w: t.tensor(mask) }, 0.01, 4);
      const out = [r.params.w!, ...names.map((k) => r.state[k]!)].map((x) => x.dataSync() as Float32Array);
      t.disposeVariables();
      return out;
    };
    await initBackend('tensorflow', { threads: 1 });
    assert.ok(getKernel(OPTIMIZER_KERNEL, 'tensorflow'), 'the native backend runs the update as our op');
    for (const type of ['sgd', 'momentum', 'nesterov', 'adam'] as const) {
      for (const withState of [false, true]) {
        const wasm = await update('wasm', type, withState);
        const native = await update('tensorflow', type, withState);
        wasm.forEach((w, i) => assert.ok(sameBits(native[i]!, w), `${type}${withState ? '' : ' (first step)'}: output ${i}`));
      }
    }
  });

  // LthDenseTrainStep (src/nn/native/dense-step.ts): a network of dense layers and ReLU trains its
  // whole step as one op. Its matrix products are Eigen's, the composed step's oneDNN's: float32
  // with other summation orders. After three masked steps with weight decay, weights and optimizer
  // state agree to ~3e-7 of the largest value (mnist_lenet_50_30_20, batch 20). Adam divides by
  // sqrt(v): a weight whose gradient is ~0 moves by up to lr in a direction that rounding decides
  // (LeNet-300-100 on random data, batch 60: 4e-3 of the largest weight after 3 steps), so Adam's
  // weights must agree to 1e-5 but for one in 10^3 of them, and its moments like the others'.
  // Pruned weights exactly zero, and the same bits every run.
  test('fully connected networks train their step as one op: the composed step up to float rounding, masks zero, same bits', async () => {
    await initBackend('tensorflow', { threads: 1 });
    const cfg = validateOptimizer({ type: 'adam' });
    assert.ok(nativeDenseStep(createModel('lenet300100'), cfg), 'LeNet-300-100 runs as one op');
    assert.ok(nativeDenseStep(createModel('mnist_lenet_50_30_20'), cfg), 'and so does any mnist_lenet_*');
    for (const other of ['conv2', 'resnet20']) assert.equal(nativeDenseStep(createModel(other), cfg), undefined, other);
    assert.equal(nativeDenseStep(createModel('lenet300100', { dropout: 0.1 }), cfg), undefined, 'dropout: composed');
    process.env.LTH_NATIVE_DENSE_STEP = '0';
    assert.equal(nativeDenseStep(createModel('lenet300100'), cfg), undefined, 'LTH_NATIVE_DENSE_STEP=0: composed');
    delete process.env.LTH_NATIVE_DENSE_STEP;

    // A network of the project's own: image input, a kernel without bias, one class count of its own.
    const own = buildModel({ name: 'own', inputShape: [3, 3, 2], numClasses: 3, init: 'glorot_normal', build: (l) => [l.flatten(), l.dense(7, { bias: false }), l.relu(), l.dense(3)] }, { seed: 2 });
    const cases = [
      ...(['sgd', 'momentum', 'nesterov', 'adam'] as const).map((type) => ({ model: createModel('mnist_lenet_50_30_20', { seed: 1 }), type })),
      { model: own, type: 'adam' as const },
    ];
    for (const { model, type } of cases) {
      assert.ok(nativeDenseStep(model, validateOptimizer({ type })), `${model.name} runs as one op`);
      const data = syntheticData({ inputShape: model.inputShape, numClasses: model.numClasses, trainSize: 60, validationSize: 4, testSize: 4, seed: 1 });
      const mask = randomMask(model, 2);
      const run = async (composed: boolean) => {
        if (composed) process.env.LTH_NATIVE_DENSE_STEP = '0';
        try {
          return await train({ model, data, weights: model.init(), mask, batchSize: 20, budget: '3it', optimizer: { type, weightDecay: 1e-4 }, schedule: { lr: 0.01 }, dataSeed: 1 });
        } finally {
          delete process.env.LTH_NATIVE_DENSE_STEP;
        }
      };
      const fused = await run(false);
      const again = await run(false);
      const composed = await run(true);
      assert.ok(Math.abs(fused.finalTrainLoss - composed.finalTrainLoss) < 1e-5 * Math.abs(composed.finalTrainLoss), `${model.name} ${type}: loss ${fused.finalTrainLoss} vs ${composed.finalTrainLoss}`);
      for (const n of Object.keys(composed.weights)) {
        assert.ok(sameBits(fused.weights[n]!.data, again.weights[n]!.data), `${model.name} ${type} ${n}: the same bits twice`);
        const a = fused.weights[n]!.data;
        const b = composed.weights[n]!.data;
        const m = mask[n];
        if (m) for (let i = 0; i < a.length; i++) if (!m.data[i]) assert.ok(a[i] === 0, `${model.name} ${type} ${n}[${i}] = ${a[i]}`);
        if (type !== 'adam') {
          const d = relDiff(a, b);
          assert.ok(d < 1e-6, `${model.name} ${type} ${n}: relative difference ${d.toExponential(2)}`);
          continue;
        }
        let max = 1e-12;
        for (const v of b) max = Math.max(max, Math.abs(v));
        let off = 0;
        for (let i = 0; i < a.length; i++) {
          assert.ok(Math.abs(a[i]! - b[i]!) <= 3 * 2 * 0.01, `${model.name} ${type} ${n}[${i}]: ${a[i]} vs ${b[i]}: more than 3 steps of 2 lr apart`);
          if (Math.abs(a[i]! - b[i]!) > 1e-5 * max) off++;
        }
        assert.ok(off <= Math.max(2, a.length * 1e-3), `${model.name} ${type} ${n}: ${off} of ${a.length} weights differ by more than 1e-5 of the largest`);
      }
      for (const k of Object.keys(composed.optimizer)) {
        assert.ok(sameBits(fused.optimizer[k]!.data, again.optimizer[k]!.data), `${model.name} ${type} ${k}: the same bits twice`);
        const d = relDiff(fused.optimizer[k]!.data, composed.optimizer[k]!.data);
        assert.ok(d < 1e-6, `${model.name} ${type} ${k}: relative difference ${d.toExponential(2)}`);
      }
    }
  });

  // A layer's training-mode batch norm as one op (LthBatchNormTrain): the running averages' update
  // folded in, and a ReLU right after it fused (layers.ts, `sequential`), or a residual block's sum
  // and ReLU where its main path ends with the batch norm (`residual`). The same float operations as
  // the composed path (LthBatchNorm, the update, the sum and Relu as tfjs ops, ReluGrad), so the
  // same bits; and a gradient check against tfjs's autodiff of the textbook formula.
  test('batch norm (+ ReLU) as one op: the composed path bit for bit, and the textbook gradient', async () => {
    await initBackend('tensorflow', { threads: 1 });
    assert.ok(getKernel(BATCH_NORM_TRAIN_KERNEL, 'tensorflow'), 'the kernel is registered');
    const own = buildModel(
      { name: 'own', inputShape: [6, 6, 3], numClasses: 4, init: 'he_normal', build: (l) => [l.conv(8, { bias: false }), l.batchNorm(), l.relu(), l.conv(8), l.batchNorm(), l.globalAvgPool(), l.dense(4)] },
      { seed: 3 },
    );
    for (const [model, batch] of [[own, 12], [createModel('resnet20', { seed: 2 }), 8]] as const) {
      const grads = async (fused: boolean) => {
        setBatchNormTrainKernel(fused);
        try {
          return await lossAndGrads('tensorflow', model, batch);
        } finally {
          setBatchNormTrainKernel(true);
        }
      };
      const fused = await grads(true);
      const again = await grads(true);
      const composed = await grads(false);
      assert.deepEqual(Object.keys(fused).sort(), Object.keys(composed).sort());
      for (const k of Object.keys(composed)) {
        assert.ok(sameBits(fused[k]!, again[k]!), `${model.name} ${k}: the same bits twice`);
        assert.ok(sameBits(fused[k]!, composed[k]!), `${model.name} ${k}: the composed path's bits (relative difference ${relDiff(fused[k]!, composed[k]!).toExponential(2)})`);
      }
    }
    // ResNet-20's every ReLU follows a batch norm or a block's sum: none is left as its own op.
    const resnet = createModel('resnet20', { seed: 2 });
    const w0 = resnet.init();
    const kernels = async (fused: boolean) => {
      setBatchNormTrainKernel(fused);
      try {
        const w: Record<string, Tensor> = {};
        for (const p of resnet.params) w[p.name] = tf().tensor(w0[p.name]!.data, p.shape);
        const x = tf().zeros([2, 32, 32, 3]);
        const info = await tf().profile(() => tf().tidy(() => {
          const out = resnet.forward(w, x, { training: true });
          return [out.logits, ...Object.values(out.buffers)];
        }));
        tf().dispose([...Object.values(w), x, ...(info.result as Tensor[])]);
        return info.kernelNames;
      } finally {
        setBatchNormTrainKernel(true);
      }
    };
    const fusedKernels = await kernels(true);
    assert.ok(fusedKernels.includes(BATCH_NORM_TRAIN_KERNEL) && !fusedKernels.includes('Relu') && !fusedKernels.includes('LthBatchNorm'), fusedKernels.join(' '));
    assert.ok((await kernels(false)).includes('Relu'), 'composed: ReLU as its own op');
    // The op against tfjs's autodiff of [relu](x - mean) / sqrt(var + eps) * gamma + beta [+ r]) (moments, broadcasts).
    const t = tf();
    const rng = new Rng(9);
    const r = (n: number, s = 1, o = 0) => Float32Array.from({ length: n }, () => (rng.next() * 2 - 1) * s + o);
    const [rows, c] = [300, 5];
    t.tidy(() => {
      const x = t.tensor2d(r(rows * c, 2, 0.3), [rows, c]);
      const gamma = t.tensor1d(r(c, 0.5, 1));
      const beta = t.tensor1d(r(c, 0.5));
      const res = t.tensor2d(r(rows * c), [rows, c]);
      const weight = t.tensor2d(r(rows * c), [rows, c]);
      const w = { gamma, beta, runningMean: t.tensor1d(r(c)), runningVar: t.tensor1d(r(c, 0.2, 1)) };
      for (const [relu, withRes] of [[true, false], [false, false], [true, true]] as const) {
        const what = `relu ${relu}, residual ${withRes}`;
        const loss = (f: (a: Tensor, g: Tensor, b: Tensor, q?: Tensor) => Tensor) => (a: Tensor, g: Tensor, b: Tensor, q?: Tensor) => t.sum(t.mul(f(a, g, b, q), weight)) as Scalar;
        const op = loss((a, g, b, q) => batchNormForward(a, { ...w, gamma: g, beta: b }, true, relu, q).y);
        const textbook = loss((a, g, b, q) => {
          const { mean, variance } = t.moments(a, [0]);
          const y = t.add(t.mul(t.div(t.sub(a, mean), t.sqrt(t.add(variance, 1e-5))), g), b);
          const z = q ? t.add(y, q) : y;
          return relu ? t.relu(z) : z;
        });
        const args = withRes ? [x, gamma, beta, res] : [x, gamma, beta];
        const ga = t.grads(op as (...a: Tensor[]) => Scalar)(args).map((g) => g.dataSync() as Float32Array);
        const gb = t.grads(textbook as (...a: Tensor[]) => Scalar)(args).map((g) => g.dataSync() as Float32Array);
        ['x', 'gamma', 'beta', 'residual'].slice(0, args.length).forEach((n, i) => {
          const d = relDiff(ga[i]!, gb[i]!);
          assert.ok(d < 1e-4, `${what}: d${n} relative difference ${d.toExponential(2)}`);
        });
        const y = batchNormForward(x, w, true, relu, withRes ? res : undefined).y.dataSync();
        if (relu) assert.ok(y.every((v) => v >= 0) && y.some((v) => v === 0), `${what}: ReLU applied`);
        else assert.ok(y.some((v) => v < 0), `${what}: no ReLU`);
      }
    });
  });

  test('batch norm (+ ReLU, + residual) as one op: the same bits on 1 and 2 threads (separate processes)', () => {
    const script = [
      "import { createHash } from 'node:crypto'; import { initBackend, tf } from './src/nn/backend.ts';",
      "import { batchNormForward } from './src/nn/models/batchnorm.ts'; import { Rng } from './src/nn/rng.ts';",
      'await initBackend("tensorflow", { threads: Number(process.env.TH) }); const t = tf(); const rng = new Rng(4); const h = createHash("sha256");',
      'const r = (n) => Float32Array.from({ length: n }, () => rng.next() * 2 - 1); const put = (v) => h.update(Buffer.from(v.dataSync().buffer));',
      'for (const shape of [[64, 16, 16, 16], [64, 8, 8, 64]]) {',
      '  const n = shape.reduce((a, b) => a * b); const c = shape.at(-1); const [x, q, u] = [0, 1, 2].map(() => t.tensor(r(n), shape));',
      '  const w = { gamma: t.tensor1d(r(c)), beta: t.tensor1d(r(c)), runningMean: t.tensor1d(r(c)), runningVar: t.tensor1d(r(c).map(Math.abs)) };',
      '  for (const [relu, res] of [[false, false], [true, false], [true, true]]) {',
      '    const f = (a, g, b, rr) => { const o = batchNormForward(a, { ...w, gamma: g, beta: b }, true, relu, rr); [o.y, o.updated.runningMean, o.updated.runningVar].forEach(put); return t.sum(t.mul(o.y, u)); };',
      '    t.grads(f)(res ? [x, w.gamma, w.beta, q] : [x, w.gamma, w.beta]).forEach(put);',
      '  }',
      '}',
      'console.log(h.digest("hex"));',
    ].join('\n');
    const digest = (threads: number) => {
      const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, TH: String(threads) } });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout.trim().split('\n').at(-1)!;
    };
    const one = digest(1);
    assert.match(one, /^[0-9a-f]{64}$/);
    assert.equal(digest(2), one);
  });

  test('a build whose ops were compiled from another source runs without them and says so', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lth-native-'));
    try {
      for (const f of ['tensorflow', 'node', build!.ops!.path]) symlinkSync(join(nativeDir(), f), join(dir, f));
      writeFileSync(join(dir, 'native.json'), JSON.stringify({ ...build, ops: { ...build!.ops, digest: '0'.repeat(64) } }));
      const script = "import { initBackend } from './src/nn/backend.ts'; const i = await initBackend('tensorflow', { threads: 1 }); console.log(JSON.stringify(i.versions));";
      const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, LTH_NATIVE_DIR: dir } });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /our TensorFlow ops from another source; `npx pipeline setup native` compiles them/);
      assert.equal((JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, string>)['lth-ops'], 'not loaded');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('two runs with one seed give byte-identical checkpoints (separate processes)', () => {
    const digest = () => {
      const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/nn/fixtures/native-determinism.ts'], { encoding: 'utf8', timeout: 240_000 });
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, string>;
    };
    const a = digest();
    const b = digest();
    assert.deepEqual(Object.keys(a).sort(), ['conv2', 'lenet300100', 'resnet20']);
    assert.deepEqual(b, a);
  });

  test('replay-dense on native is bitwise the uninterrupted native run', async () => {
    process.env.LTH_BACKEND = 'tensorflow';
    try {
      const cfg = { model: 'lenet300100', ...SYNTH, batchSize: 20, iterations: 12, optimizer: 'adam', lr: 1e-3, evalEvery: 4, initSeed: 1, dataSeed: 2 } as const;
      const stored = await runStage(trainDense, { ...cfg, checkpoints: [4, 7, 12] }, { files: [] });
      const replay = await runStage(replayDense, { ...cfg, iteration: 7 }, { from: stored.out('ck-4'), files: [] });
      const a = await readCheckpoint(replay.out('checkpoint'));
      const b = await readCheckpoint(stored.out('ck-7'));
      assert.equal(a.metadata.backend, 'tensorflow');
      for (const n of Object.keys(b.weights)) assert.ok(sameBits(a.weights[n]!.data, b.weights[n]!.data), `weights ${n}`);
      for (const n of Object.keys(b.optimizer)) assert.ok(sameBits(a.optimizer[n]!.data, b.optimizer[n]!.data), `optimizer ${n}`);
    } finally {
      delete process.env.LTH_BACKEND;
    }
  });
});
