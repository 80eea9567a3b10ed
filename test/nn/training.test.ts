// Masked training: pruned weights stay exactly zero with every optimizer; determinism (same seed ->
// same checkpoint bytes, other data-order seed -> other weights); resume is bitwise equal; no
// tensor leaks; evaluation curve and early stopping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, tf } from '../../src/nn/backend.js';
import { createModel, type Model } from '../../src/nn/models/index.js';
import { train, evaluate, type Checkpoint, type TrainOptions } from '../../src/nn/train.js';
import { syntheticData } from '../../src/nn/train-data.js';
import { decodeCheckpoint, encodeCheckpoint } from '../../src/nn/safetensors.js';
import { Rng } from '../../src/nn/rng.js';
import type { MaskMap } from '../../src/nn/tensormap.js';
import { isPipelineError } from '../../src/errors.js';
import type { OptimizerConfig } from '../../src/nn/optim.js';

const lenet = createModel('lenet300100', { seed: 7, dropout: 0.2 });
const data = syntheticData({ inputShape: [28, 28, 1], trainSize: 600, validationSize: 100, testSize: 100, seed: 2 });

function halfMask(m: Model, seed: number): MaskMap {
  const r = new Rng(seed);
  const mask: MaskMap = {};
  for (const p of m.params.filter((q) => m.prunable.includes(q.name))) {
    const d = new Uint8Array(p.shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < d.length; i++) d[i] = r.next() < 0.5 ? 1 : 0;
    mask[p.name] = { shape: p.shape, data: d };
  }
  return mask;
}

function base(over: Partial<TrainOptions> = {}): TrainOptions {
  return {
    model: lenet,
    data,
    weights: lenet.init(),
    batchSize: 20,
    budget: '20it',
    optimizer: { type: 'adam' },
    schedule: { lr: 1e-3, warmup: 5, milestones: ['15it'] },
    dataSeed: 11,
    augment: true,
    ...over,
  };
}

function assertMaskedZero(w: Checkpoint['weights'], mask: MaskMap, label: string): void {
  let checked = 0;
  for (const [name, m] of Object.entries(mask)) {
    const d = w[name]!.data;
    for (let i = 0; i < d.length; i++) {
      if (m.data[i] === 0) {
        assert.ok(Object.is(d[i], 0) || d[i] === 0, `${label}: ${name}[${i}] = ${d[i]}`);
        checked++;
      }
    }
  }
  assert.ok(checked > 100_000, `${label}: checked ${checked}`);
}

test('pruned weights stay exactly 0 after 50 steps of every optimizer with weight decay', async () => {
  await initBackend('wasm');
  const mask = halfMask(lenet, 5);
  const opts: OptimizerConfig[] = [
    { type: 'sgd', weightDecay: 5e-4 },
    { type: 'momentum', momentum: 0.9, weightDecay: 5e-4 },
    { type: 'nesterov', momentum: 0.9, weightDecay: 5e-4 },
    { type: 'adam', weightDecay: 1e-4 },
    { type: 'adamw', weightDecay: 1 },
  ];
  for (const optimizer of opts) {
    // Dense training first, so that the optimizer state (momentum, Adam moments) is non-zero for
    // the weights the mask then removes: the case where a naive implementation regrows them.
    let dense: Checkpoint | undefined;
    await train(base({ optimizer, budget: '10it', checkpointAt: [10], onCheckpoint: (c) => void (dense = c), schedule: { lr: 0.01 } }));
    assert.ok(dense && Object.keys(dense.optimizer).length === (optimizer.type === 'sgd' ? 0 : optimizer.type === 'adam' || optimizer.type === 'adamw' ? 12 : 6));
    const r = await train(base({ optimizer, mask, budget: '60it', resume: dense, schedule: { lr: 0.01 } }));
    assert.equal(r.iteration, 60);
    assertMaskedZero(r.weights, mask, optimizer.type);
    // ...while unmasked weights did change.
    const before = dense!.weights['fc2.kernel']!.data;
    const after = r.weights['fc2.kernel']!.data;
    const m = mask['fc2.kernel']!.data;
    let changed = 0;
    for (let i = 0; i < after.length; i++) if (m[i] && after[i] !== before[i]) changed++;
    assert.ok(changed > 1000, `${optimizer.type}: ${changed} kept weights changed`);
  }
});

test('same seed -> byte-identical checkpoint files; other data seed -> other weights', async () => {
  await initBackend('wasm');
  const mask = halfMask(lenet, 9);
  const run = async (dataSeed: number) => {
    const r = await train(base({ mask, dataSeed }));
    return encodeCheckpoint(r, { model: lenet.name, dataSeed: String(dataSeed) });
  };
  const a = await run(11);
  const b = await run(11);
  const c = await run(12);
  assert.ok(Buffer.from(a).equals(Buffer.from(b)), 'same seed gives the same bytes');
  const da = decodeCheckpoint(a).weights['fc1.kernel']!.data;
  const dc = decodeCheckpoint(c).weights['fc1.kernel']!.data;
  assert.notDeepEqual(da, dc);
});

for (const [name, optimizer, batchSize, budget, k] of [
  ['lenet300100', { type: 'adam', weightDecay: 1e-4 }, 20, 30, 13],
  ['resnet20', { type: 'nesterov', weightDecay: 1e-4 }, 8, 5, 2],
] as const) {
  test(`resume from a checkpoint is bitwise equal to an uninterrupted run (${name}, ${optimizer.type})`, async () => {
    await initBackend('wasm');
    const model = name === 'lenet300100' ? lenet : createModel(name, { seed: 3 });
    const d = name === 'lenet300100' ? data : syntheticData({ inputShape: [32, 32, 3], trainSize: 64, validationSize: 16, seed: 3 });
    const mask = halfMask(model, 4);
    const cks: Checkpoint[] = [];
    const o = base({ model, data: d, weights: model.init(), mask, optimizer, batchSize, budget, evalEvery: 2, checkpointAt: [0, k, budget], onCheckpoint: (c) => void cks.push(c) });
    const full = await train(o);
    assert.deepEqual(cks.map((c) => c.iteration), [0, k, budget]);
    // Through the file format, as a real resume would.
    const ck = decodeCheckpoint(encodeCheckpoint(cks[1]!));
    const resumed = await train({ ...o, checkpointAt: [], resume: ck });
    const bytes = (r: typeof full) => Buffer.from(encodeCheckpoint(r));
    assert.ok(bytes(resumed).equals(bytes(full)), 'resumed weights, optimizer state and curve are bitwise equal');
    assert.ok(Buffer.from(encodeCheckpoint(cks[2]!)).equals(bytes(full)));
    if (model.buffers.length) assert.notDeepEqual(full.weights['bn1.running_mean']!.data, model.init()['bn1.running_mean']!.data);
  });
}

test('no tensor leaks across 100 iterations', async () => {
  await initBackend('wasm');
  const counts: number[] = [];
  await train(
    base({
      budget: '120it',
      mask: halfMask(lenet, 1),
      evalEvery: 50,
      checkpointAt: [10, 110],
      onCheckpoint: () => void counts.push(tf().memory().numTensors),
      onProgress: () => undefined,
      progressEvery: 10,
    }),
  );
  assert.equal(counts.length, 2);
  assert.equal(counts[1], counts[0], `tensors at iteration 10: ${counts[0]}, at 110: ${counts[1]}`);
  assert.equal(tf().memory().numTensors, 0);
});

test('learns: curve, early stopping, progress, evaluate', async () => {
  await initBackend('wasm');
  const m = createModel('lenet300100', { seed: 1 });
  const progress: number[] = [];
  const r = await train({
    ...base({ model: m, weights: m.init(), budget: '2ep', evalEvery: 10, optimizer: { type: 'momentum' } }),
    schedule: { lr: 0.05 },
    onProgress: (p) => {
      assert.ok(p.itPerSec > 0 && Number.isFinite(p.loss));
      progress.push(p.iteration);
    },
    progressEvery: 20,
  });
  assert.equal(r.iteration, 60); // 2 epochs of floor(600 / 20)
  assert.deepEqual(progress, [20, 40, 60]);
  assert.deepEqual(r.curve.map((c) => c.iteration), [0, 10, 20, 30, 40, 50, 60]);
  const best = r.curve.reduce((a, c) => (c.valLoss < a.valLoss ? c : a));
  assert.equal(r.earlyStopIteration, best.iteration);
  const last = r.curve.at(-1)!;
  assert.ok(last.valAccuracy > 0.8, `validation accuracy ${last.valAccuracy}`);
  const ev = await evaluate(m, r.weights, data, 'validation');
  assert.equal(ev.accuracy, last.valAccuracy);
  assert.ok(Math.abs(ev.loss - last.valLoss) < 1e-6);
  const init = await evaluate(m, m.init(), data, 'test');
  assert.ok(init.accuracy < 0.5);
});

test('bad parameters are PARAM_INVALID', async () => {
  await initBackend('wasm');
  const bad = (o: Partial<TrainOptions>) => assert.rejects(train(base(o)), (e) => isPipelineError(e, 'PARAM_INVALID'));
  await bad({ budget: '10 epochs' });
  await bad({ budget: '-3it' });
  await bad({ budget: 2.5 });
  await bad({ batchSize: 0 });
  await bad({ optimizer: { type: 'rmsprop' as never } });
  await bad({ schedule: { lr: -1 } });
  await bad({ checkpointAt: [50] });
  await bad({ mask: { 'fc1.bias': { shape: [300], data: new Uint8Array(300) } } });
  await bad({ mask: { 'fc1.kernel': { shape: [3], data: new Uint8Array(3) } } });
  await bad({ model: createModel('conv2') });
});
