// The grokking papers' measures (src/lth/grokking.ts) and training as they do: full-batch AdamW on
// modular arithmetic with training accuracy on the curve at every evaluation point.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { grokkingMetrics } from '../../src/lth/grokking.js';
import { normMatched, phaseIteration, readCheckpoint, trainDense, weightNorm, writeCheckpoint, writeMask } from '../../src/lth/index.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evaluate } from '../../src/nn/train.js';
import { createModel } from '../../src/nn/models/index.js';
import { loadDataset } from '../../src/nn/data/index.js';
import { runStage } from './helpers.js';

test('iterationsToMemorize / ToGeneralize: the first evaluation point at the threshold, null if never', () => {
  const point = (iteration: number, trainAccuracy: number, valAccuracy: number) => ({ iteration, trainLoss: 0, valLoss: 0, valAccuracy, trainEvalLoss: 0, trainAccuracy });
  const curve = [point(0, 0.01, 0.01), point(100, 0.5, 0.02), point(200, 0.95, 0.1), point(300, 1, 0.6), point(400, 1, 0.97), point(500, 1, 0.9)];
  assert.deepEqual(grokkingMetrics(curve), { iterationsToMemorize: 200, iterationsToGeneralize: 400, grokkingDelay: 200, finalTrainAccuracy: 1 });
  assert.deepEqual(grokkingMetrics(curve, 0.99), { iterationsToMemorize: 300, iterationsToGeneralize: null, grokkingDelay: null, finalTrainAccuracy: 1 });
  assert.equal(grokkingMetrics(curve.slice(0, 2)).iterationsToMemorize, null);
});

test('train-dense, full batch with AdamW on a + b mod 11: training accuracy on the curve, the metrics from it', async () => {
  const data = { modular: { p: 11, op: '+', trainFraction: 0.5, seed: 0 } } as const;
  const r = await runStage(trainDense, {
    model: 'modular_mlp_11_32_32',
    dataset: 'modular-addition',
    data,
    batchSize: 60, // all 60 training pairs: full batch
    iterations: 150,
    optimizer: 'adamw',
    weightDecay: 1,
    lr: 1e-2,
    evalEvery: 10,
    evalTrain: true,
    initSeed: 1,
  }, { files: [] });
  const curve = JSON.parse(JSON.stringify((await readCheckpoint(r.out('final'))).curve)) as Array<{ iteration: number; trainAccuracy: number; valAccuracy: number }>;
  assert.equal(curve.length, 16);
  assert.ok(curve.every((c) => typeof c.trainAccuracy === 'number'), 'every point has training accuracy');
  const first = curve.find((c) => c.trainAccuracy >= 0.95)?.iteration ?? null;
  assert.notEqual(first, null, 'a network this size memorizes 60 pairs in 150 full-batch steps');
  assert.equal(r.metrics.iterationsToMemorize, first);
  assert.equal(r.metrics.iterationsToGeneralize, curve.find((c) => c.valAccuracy >= 0.95)?.iteration ?? null);
  // The last point's training accuracy is the final weights' accuracy on the training split.
  const ds = await loadDataset('modular-addition', data);
  const final = await readCheckpoint(r.out('final'));
  const tr = await evaluate(createModel('modular_mlp_11_32_32'), final.weights, ds, 'train');
  assert.equal(curve.at(-1)!.trainAccuracy, tr.accuracy);
  assert.equal(r.metrics.finalTrainAccuracy, tr.accuracy);
});

test('phaseIteration: memorization, the midpoint transition, generalization; a message when never reached', () => {
  const point = (iteration: number, trainAccuracy: number, valAccuracy: number) => ({ iteration, trainLoss: 0, valLoss: 0, valAccuracy, trainEvalLoss: 0, trainAccuracy });
  const curve = [point(0, 0, 0), point(50, 1, 0.1), point(100, 1, 0.5), point(150, 1, 0.96)];
  assert.equal(phaseIteration(curve, 'memorization', 0.95), 50);
  assert.equal(phaseIteration(curve, 'generalization', 0.95), 150);
  assert.equal(phaseIteration(curve, 'transition', 0.95), 100);
  assert.match(String(phaseIteration(curve.slice(0, 3), 'generalization', 0.95)), /did not generalize/);
  assert.match(String(phaseIteration(curve.map((c) => ({ ...c, trainAccuracy: undefined })), 'memorization', 0.95)), /train it with evalTrain/);
});

test('norm-matched: the initialisation scaled so that its L1 / L2 norm is the ticket\'s', async () => {
  const model = createModel('modular_mlp_5_4_3');
  const dir = mkdtempSync(join(tmpdir(), 'lth-norm-'));
  try {
    const weights = model.init(1);
    const mask = Object.fromEntries(model.prunable.map((n) => [n, { shape: weights[n]!.shape, data: Uint8Array.from(weights[n]!.data, (_, i) => i % 2) }]));
    await writeCheckpoint(join(dir, 'w'), { iteration: 0, weights, optimizer: {}, curve: [], pendingLoss: [0, 0] }, { model: model.name });
    await writeMask(join(dir, 'm'), mask, { model: model.name });
    for (const norm of ['l1', 'l2'] as const) {
      const r = await runStage(normMatched, { model: model.name, norm }, { weights: join(dir, 'w'), mask: join(dir, 'm') });
      const out = (await readCheckpoint(r.out('checkpoint'))).weights;
      const got = weightNorm(out, model.prunable, norm);
      const want = weightNorm(weights, model.prunable, norm, mask);
      assert.ok(Math.abs(got - want) < 1e-5 * want, `${norm}: ${got} vs ${want}`);
      // One ratio for every weight: the direction is the dense initialisation's.
      const ratio = r.metrics.ratio as number;
      for (const n of model.prunable) out[n]!.data.forEach((v, i) => assert.equal(v, Math.fround(weights[n]!.data[i]! * ratio)));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
