// Issue #13, test 3: a ticket transferred to another dataset and optimizer (Morcos et al. 2019) is
// trained from exactly the source's mask and rewind weights (bitwise), on the target's data, with
// the target's optimizer from a fresh optimizer state. Checked from the stages' inputs and outputs:
// the rewound checkpoint against the source run's stored checkpoint, the retrained ticket against
// the trainer run by hand on those inputs (and against the same training on the source's data, or
// with the source's optimizer, which must differ), the checkpoint metadata. Real MNIST and
// Fashion-MNIST files, small subsets.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { findDatasetFiles, loadData, prune, readCheckpoint, readMask, retrain, rewind, trainConfigSchema, trainDense, trainOptionsOf, completeMask, layerInfoOf } from '../../src/lth/index.js';
import { isPipelineError } from '../../src/errors.js';
import { createModel } from '../../src/nn/models/index.js';
import { train } from '../../src/nn/train.js';
import { REPO } from '../helpers/project.js';
import { runStage, sameBits } from './helpers.js';

const MNIST = findDatasetFiles('mnist', join(REPO, '..', 'shared', 'data'));
const FASHION = findDatasetFiles('fashion-mnist', '/usr/share/datasets');
const SUBSET = { subset: { train: 600, validation: 200, test: 200 } };
const COMMON = { model: 'lenet300100', data: SUBSET, batchSize: 30, iterations: 30, evalEvery: 10, dataSeed: 3 } as const;
const SOURCE = { ...COMMON, dataset: 'fashion-mnist', optimizer: 'adam', lr: 1.2e-3 } as const;
const TARGET = { ...COMMON, dataset: 'mnist', optimizer: 'momentum', momentum: 0.9, lr: 0.01 } as const;
const K = 10;

describe('ticket transfer: Fashion-MNIST + Adam -> MNIST + SGD with momentum', { skip: (MNIST.length === 0 || FASHION.length === 0 || !existsSync(FASHION[0]!)) && 'no MNIST / Fashion-MNIST files' }, () => {
  const model = createModel('lenet300100');
  let dense: Awaited<ReturnType<typeof runStage>>;
  let mask: Awaited<ReturnType<typeof runStage>>;
  let start: Awaited<ReturnType<typeof runStage>>;

  test('the source ticket: mask and weights at k of the Fashion-MNIST run; the rewound checkpoint drops the Adam state', async () => {
    dense = await runStage(trainDense, { ...SOURCE, initSeed: 5, checkpoints: [K] }, { files: FASHION });
    mask = await runStage(prune, { model: 'lenet300100', scope: 'layerwise', rates: { fc: 0.5, output: 0.25 } }, { weights: dense.out('final'), mask: [], like: [], files: [] });
    start = await runStage(rewind, { model: 'lenet300100', iteration: K }, { weights: dense.out(`ck-${K}`), mask: mask.out('mask') });
    const atK = await readCheckpoint(dense.out(`ck-${K}`));
    assert.ok(Object.keys(atK.optimizer).length > 0, 'the source checkpoint at k carries Adam state');
    const s = await readCheckpoint(start.out('checkpoint'));
    assert.deepEqual(s.optimizer, {}, 'the rewound ticket has no optimizer state');
    assert.equal(s.metadata.dataset, 'fashion-mnist');
    assert.equal(s.metadata.optimizer, 'adam');
  });

  test('retrained on MNIST with SGD with momentum: bitwise the trainer on the source mask and weights, the target data and optimizer', async () => {
    const r = await runStage(retrain, TARGET, { start: start.out('checkpoint'), mask: mask.out('mask'), files: MNIST });
    assert.equal(r.metrics.startDataset, 'fashion-mnist');
    assert.equal(r.metrics.startOptimizer, 'adam');
    assert.equal(r.metrics.startIteration, K);
    const final = await readCheckpoint(r.out('final'));
    assert.equal(final.metadata.dataset, 'mnist');
    assert.equal(final.metadata.optimizer, 'momentum');
    assert.equal(final.metadata.startDataset, 'fashion-mnist');
    assert.equal(final.metadata.startOptimizer, 'adam');
    assert.ok(Object.keys(final.optimizer).every((n) => n.startsWith('momentum/')) && Object.keys(final.optimizer).length > 0, 'momentum state, no Adam state');

    // By hand: the source's stored weights at k under the source's mask, the target's data and optimizer, no optimizer state.
    const atK = await readCheckpoint(dense.out(`ck-${K}`));
    const srcMask = await readMask(mask.out('mask'));
    const m = completeMask(layerInfoOf(model), srcMask, 'test');
    const masked = Object.fromEntries(Object.entries(atK.weights).map(([n, t]) => [n, { shape: t.shape, data: Float32Array.from(t.data, (v, i) => (m[n] && !m[n]!.data[i] ? 0 : v)) }]));
    const byHand = async (cfg: typeof TARGET | typeof SOURCE, files: string[]) => {
      const c = trainConfigSchema.parse(cfg);
      const data = await loadData(c, files);
      return train({ ...trainOptionsOf(c, model, data), weights: masked, mask: m, resume: { iteration: K, weights: masked, optimizer: {}, curve: [], pendingLoss: [0, 0] } });
    };
    const expected = await byHand(TARGET, MNIST);
    for (const [n, t] of Object.entries(expected.weights)) assert.ok(sameBits(final.weights[n]!.data, t.data), `${n}: not the training of the source ticket on MNIST with momentum`);
    // Pruned weights stay zero: the source's mask.
    for (const [n, mk] of Object.entries(srcMask)) assert.ok(final.weights[n]!.data.every((v, i) => mk.data[i] !== 0 || v === 0), n);
    // The check can fail: the same ticket on the source's data, or with the source's optimizer, ends elsewhere.
    const onSource = await byHand({ ...TARGET, dataset: 'fashion-mnist' } as unknown as typeof TARGET, FASHION);
    assert.ok(!sameBits(onSource.weights['fc1.kernel']!.data, final.weights['fc1.kernel']!.data), 'the data matters');
    const withAdam = await byHand({ ...SOURCE, dataset: 'mnist' } as unknown as typeof SOURCE, MNIST);
    assert.ok(!sameBits(withAdam.weights['fc1.kernel']!.data, final.weights['fc1.kernel']!.data), 'the optimizer matters');
  });

  test("a start that carries the source run's optimizer state is refused (a transferred ticket is its rewind weights only)", async () => {
    await assert.rejects(
      runStage(retrain, TARGET, { start: dense.out(`ck-${K}`), mask: mask.out('mask'), files: MNIST }),
      (e: unknown) => isPipelineError(e) && e.code === 'PARAM_INVALID' && /fresh optimizer state/.test(e.message) && /rewind/.test(e.hint ?? ''),
    );
  });
});
