// Issue #4, test 2: rewinding restores exactly the stored weights at k under the mask; a k that was
// not stored is replayed from the nearest earlier checkpoint to bitwise the weights of a run that
// stored it. The stages run in this process on a small synthetic problem.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkpointIterations, prune, readCheckpoint, readMask, replayDense, retrain, rewind, trainDense } from '../../src/lth/index.js';
import { runStage, sameBits, SYNTH, type StageRun } from './helpers.js';

const CFG = { model: 'lenet300100', ...SYNTH, batchSize: 20, iterations: 12, optimizer: 'adam', lr: 1e-3, evalEvery: 4, initSeed: 1, dataSeed: 2 } as const;

describe('rewinding and replaying the dense run', () => {
  let denseA: StageRun; // stores 0, 4, 12
  let denseB: StageRun; // stores 0, 4, 7, 12
  let mask: StageRun;

  test('train-dense stores the requested checkpoints', async () => {
    assert.deepEqual(checkpointIterations({ iterations: 12, checkpoints: [4, 12] }), [0, 4, 12]);
    assert.deepEqual(checkpointIterations({ iterations: 300 }), [0, 100, 200]);
    denseA = await runStage(trainDense, { ...CFG, checkpoints: [4, 12] }, { files: [] });
    denseB = await runStage(trainDense, { ...CFG, checkpoints: [4, 7, 12] }, { files: [] });
    const ck4 = await readCheckpoint(denseA.out('ck-4'));
    assert.equal(ck4.iteration, 4);
    assert.ok(Object.keys(ck4.optimizer).length > 0, 'the checkpoint carries the optimizer state');
    assert.equal(typeof denseA.metrics.testAccuracy, 'number');
    mask = await runStage(prune, { model: 'lenet300100', scope: 'layerwise', rates: { fc: 0.5, output: 0.25 } }, { weights: denseA.out('final'), mask: [], like: [], files: [] });
  });

  test('rewind to a stored k: the stored weights, bitwise, where the mask is 1; zero elsewhere', async () => {
    const r = await runStage(rewind, { model: 'lenet300100', iteration: 4 }, { weights: denseA.out('ck-4'), mask: mask.out('mask') });
    const got = await readCheckpoint(r.out('checkpoint'));
    const stored = await readCheckpoint(denseA.out('ck-4'));
    const m = await readMask(mask.out('mask'));
    assert.equal(got.iteration, 4);
    let pruned = 0;
    for (const [n, t] of Object.entries(stored.weights)) {
      const g = got.weights[n]!.data;
      const mk = m[n]?.data;
      const expect = Float32Array.from(t.data, (v, i) => (mk && !mk[i] ? 0 : v));
      if (mk) pruned += mk.length - mk.reduce((a, b) => a + b, 0);
      assert.ok(sameBits(g, expect), `${n} differs from the stored weights under the mask`);
    }
    assert.ok(pruned > 0);
    await assert.rejects(runStage(rewind, { model: 'lenet300100', iteration: 5 }, { weights: denseA.out('ck-4'), mask: mask.out('mask') }), /iteration 4/);
  });

  test('replaying to a k that was not stored gives bitwise the weights of a run that stored k', async () => {
    const replay = await runStage(replayDense, { ...CFG, iteration: 7 }, { from: denseA.out('ck-4'), files: [] });
    const a = await readCheckpoint(replay.out('checkpoint'));
    const b = await readCheckpoint(denseB.out('ck-7'));
    assert.equal(a.iteration, 7);
    for (const n of Object.keys(b.weights)) assert.ok(sameBits(a.weights[n]!.data, b.weights[n]!.data), `weights ${n}`);
    for (const n of Object.keys(b.optimizer)) assert.ok(sameBits(a.optimizer[n]!.data, b.optimizer[n]!.data), `optimizer ${n}`);
    // and it is not simply the checkpoint it started from
    const from = await readCheckpoint(denseA.out('ck-4'));
    assert.ok(!sameBits(from.weights['fc1.kernel']!.data, a.weights['fc1.kernel']!.data));
    // a replay with another data-order seed would not reproduce the run: refused
    await assert.rejects(runStage(replayDense, { ...CFG, dataSeed: 9, iteration: 7 }, { from: denseA.out('ck-4'), files: [] }), /dataSeed/);
  });

  test('retrain resumes the schedule at k and keeps pruned weights at zero; reinit differs from rewinding', async () => {
    const start = await runStage(rewind, { model: 'lenet300100', iteration: 4 }, { weights: denseA.out('ck-4'), mask: mask.out('mask') });
    const reinit = await runStage(rewind, { model: 'lenet300100', mode: 'reinit', seed: 5, iteration: 4 }, { weights: denseA.out('ck-4'), mask: mask.out('mask') });
    const t = await runStage(retrain, CFG, { start: start.out('checkpoint'), mask: mask.out('mask'), files: [] });
    assert.equal(t.metrics.startIteration, 4);
    const fin = await readCheckpoint(t.out('final'));
    assert.equal(fin.iteration, 12);
    const m = await readMask(mask.out('mask'));
    for (const [n, mk] of Object.entries(m)) for (let i = 0; i < mk.data.length; i++) if (!mk.data[i]) assert.equal(fin.weights[n]!.data[i], 0);
    const a = await readCheckpoint(start.out('checkpoint'));
    const b = await readCheckpoint(reinit.out('checkpoint'));
    assert.ok(!sameBits(a.weights['fc1.kernel']!.data, b.weights['fc1.kernel']!.data));
  });
});
