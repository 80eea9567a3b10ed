// The grokking papers' measures (src/lth/grokking.ts) and training as they do: full-batch AdamW on
// modular arithmetic with training accuracy on the curve at every evaluation point.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { grokkingMetrics } from '../../src/lth/grokking.js';
import { readCheckpoint, trainDense } from '../../src/lth/index.js';
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
