// Issue #13, test 1: test accuracy at the early-stopping iteration (Frankle & Carbin 2019) is the
// test accuracy of the weights at the iteration of minimum validation loss: `testAccuracyAtEarlyStop`
// of train-dense and retrain equals `evaluate` on a checkpoint stored at that iteration by a
// second, identical run. A noisy synthetic problem with 100 training examples overfits, so the
// early-stop iteration lies inside the run and its weights are not the final ones.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadData, prune, readCheckpoint, readMask, retrain, rewind, trainConfigSchema, trainDense, trainOptionsOf, completeMask, layerInfoOf } from '../../src/lth/index.js';
import { createModel } from '../../src/nn/models/index.js';
import { evaluate, train, type Checkpoint } from '../../src/nn/train.js';
import { runStage, sameBits, type StageRun } from './helpers.js';

const NOISY = { dataset: 'synthetic', data: { synthetic: { shape: [28, 28, 1], numClasses: 10, trainSize: 100, validationSize: 100, testSize: 100, noise: 0.95 } } } as const;
const CFG = { model: 'lenet300100', ...NOISY, batchSize: 20, iterations: 60, optimizer: 'adam', lr: 3e-3, evalEvery: 5, dataSeed: 2 } as const;

type Metrics = { earlyStopIteration: number; testAccuracy: number; testLoss: number; testAccuracyAtEarlyStop: number; testLossAtEarlyStop: number; valAccuracyAtEarlyStop: number };

describe('test accuracy at the early-stopping iteration', () => {
  const cfg = trainConfigSchema.parse(CFG);
  const model = createModel('lenet300100');
  let dense: StageRun;

  test('train-dense: equals evaluate() on the checkpoint a second run stores at the early-stop iteration', async () => {
    dense = await runStage(trainDense, { ...CFG, initSeed: 1, checkpoints: [5] }, { files: [] });
    const m = dense.metrics as Metrics;
    const e = m.earlyStopIteration;
    assert.ok(e > 0 && e < 60, `the early-stop iteration ${e} lies inside the run`);
    const again = await runStage(trainDense, { ...CFG, initSeed: 1, checkpoints: [5, e] }, { files: [] });
    const ck = await readCheckpoint(again.out(`ck-${e}`));
    assert.equal(ck.iteration, e);
    const data = await loadData(cfg, []);
    const test = await evaluate(model, ck.weights, data, 'test', { batchSize: cfg.evalBatchSize });
    assert.equal(m.testAccuracyAtEarlyStop, test.accuracy);
    assert.equal(m.testLossAtEarlyStop, test.loss);
    assert.notEqual(m.testLossAtEarlyStop, m.testLoss, 'the early-stop weights are not the final ones');
    assert.equal(m.valAccuracyAtEarlyStop, ck.curve.find((c) => c.iteration === e)?.valAccuracy);
    assert.equal((again.metrics as Metrics).testAccuracyAtEarlyStop, m.testAccuracyAtEarlyStop);
  });

  test('retrain: equals evaluate() on the checkpoint at its early-stop iteration of the same masked training', async () => {
    const mask = await runStage(prune, { model: 'lenet300100', scope: 'layerwise', rates: { fc: 0.5, output: 0.25 } }, { weights: dense.out('final'), mask: [], like: [], files: [] });
    // Rewound to k = 5 (the ticket's first validation point is then at 10).
    const start = await runStage(rewind, { model: 'lenet300100', iteration: 5 }, { weights: dense.out('ck-5'), mask: mask.out('mask') });
    const r = await runStage(retrain, CFG, { start: start.out('checkpoint'), mask: mask.out('mask'), files: [] });
    const m = r.metrics as Metrics;
    const e = m.earlyStopIteration;
    assert.ok(e > 5 && e < 60, `the early-stop iteration ${e} lies inside the run`);
    // The same training as the stage's (its options, start and mask), storing the checkpoint at e.
    const data = await loadData(cfg, []);
    const from = await readCheckpoint(start.out('checkpoint'));
    const stored: Checkpoint[] = [];
    const res = await train({
      ...trainOptionsOf(cfg, model, data),
      weights: from.weights,
      mask: completeMask(layerInfoOf(model), await readMask(mask.out('mask')), 'test'),
      resume: from,
      checkpointAt: [e],
      onCheckpoint: (ck) => void stored.push(ck),
    });
    assert.equal(res.earlyStopIteration, e);
    const final = await readCheckpoint(r.out('final'));
    assert.ok(sameBits(final.weights['fc1.kernel']!.data as Float32Array, res.weights['fc1.kernel']!.data as Float32Array), 'the same training as the stage');
    const test = await evaluate(model, stored[0]!.weights, data, 'test', { batchSize: cfg.evalBatchSize });
    assert.equal(m.testAccuracyAtEarlyStop, test.accuracy);
    assert.equal(m.testLossAtEarlyStop, test.loss);
    // The trainer's copy is bitwise the checkpoint at e.
    for (const [n, t] of Object.entries(stored[0]!.weights)) assert.ok(sameBits(res.earlyStopWeights![n]!.data as Float32Array, t.data as Float32Array), n);
  });

  test('a run resumed after its best validation point has no early-stop weights (they were never seen)', async () => {
    const data = await loadData(cfg, []);
    const opts = { ...trainOptionsOf(cfg, model, data), weights: model.init(1) };
    const full = await train({ ...opts, checkpointAt: [55] });
    const at: Checkpoint[] = [];
    await train({ ...opts, checkpointAt: [55], onCheckpoint: (ck) => void at.push(ck) });
    assert.ok(full.earlyStopIteration! < 55);
    const resumed = await train({ ...opts, resume: at[0]! });
    assert.equal(resumed.earlyStopIteration, full.earlyStopIteration);
    assert.equal(resumed.earlyStopWeights, undefined);
    assert.ok(full.earlyStopWeights);
  });
});
