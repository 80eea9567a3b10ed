// Elastic tickets (E-LTH, src/lth/elastic.ts): the authors' block mapping, and the change-depth
// stage: stretch then squeeze back gives the original ticket bit for bit; a stretched ticket's
// per-stage layout (each block a copy of its source block, with its mask) and density.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blockMapping, changeDepthStage, readCheckpoint, readMask, resnetLayout, writeCheckpoint, writeMask, type Mask } from '../../src/lth/index.js';
import { createModel } from '../../src/nn/models/index.js';
import { hashInts } from '../../src/nn/rng.js';
import { isPipelineError } from '../../src/errors.js';
import { runStage, sameBits } from './helpers.js';

test('the block mapping: the authors\' 5 -> 9 example, squeezing inverts stretching', () => {
  assert.deepEqual(blockMapping(5, 9), [[0], [1, 2], [3, 4], [5, 6], [7, 8]]); // ElasticLTH's `0:0;1:1,2;2:3,4;3:5,6;4:7,8`
  assert.deepEqual(blockMapping(3, 5), [[0], [1, 2], [3, 4]]);
  assert.deepEqual(blockMapping(3, 4), [[0], [1, 2], [3]], 'uneven: the earlier run is longer');
  assert.deepEqual(blockMapping(9, 5), [[0], [1], [], [2], [], [3], [], [4], []]);
  assert.deepEqual(blockMapping(3, 3), [[0], [1], [2]]);
  assert.throws(() => blockMapping(1, 3), (e) => isPipelineError(e) && /one block has no block to replicate/.test(e.message));
  assert.deepEqual(blockMapping(3, 1), [[0], [], []]);
  for (let n = 2; n <= 6; n++) {
    for (let m = n; m <= 12; m++) {
      const up = blockMapping(n, m);
      const down = blockMapping(m, n);
      // Every target block has exactly one source; squeezing back picks, for each source block, one of its copies.
      assert.deepEqual(up.flat().sort((a, b) => a - b), Array.from({ length: m }, (_, j) => j), `${n} -> ${m}`);
      for (let i = 0; i < n; i++) {
        const back = up[i]!.flatMap((j) => down[j]!);
        assert.deepEqual(back, [i], `${n} -> ${m} -> ${n}: block ${i}`);
      }
    }
  }
});

test('resnetLayout: stages and blocks from the names; a network without residual stages is refused', () => {
  assert.deepEqual(resnetLayout(createModel('cifar_resnet_20').params.map((p) => p.name), 'x'), { stages: [1, 2, 3], blocks: 3 });
  assert.throws(() => resnetLayout(createModel('lenet300100').params.map((p) => p.name), 'x'), (e) => isPipelineError(e) && /no residual blocks/.test(e.message));
});

test('change-depth: cifar_resnet_14 stretched to 20 and squeezed back is the original ticket bit for bit', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lth-elastic-'));
  try {
    const src = createModel('cifar_resnet_14');
    const weights = src.init(3);
    const mask = Object.fromEntries(src.prunable.map((n, l) => [n, { shape: weights[n]!.shape, data: Uint8Array.from(weights[n]!.data, (_, i) => (hashInts(l, i) % 10 < 2 + (l % 5) ? 1 : 0)) }]));
    for (const [n, m] of Object.entries(mask)) weights[n]!.data.forEach((_, i) => m.data[i] || (weights[n]!.data[i] = 0));
    await writeCheckpoint(join(dir, 'ck'), { iteration: 7, weights, optimizer: {}, curve: [], pendingLoss: [0, 0] }, { model: src.name });
    await writeMask(join(dir, 'mask'), mask, { model: src.name });

    const up = await runStage(changeDepthStage, { model: 'cifar_resnet_14', target: 'cifar_resnet_20' }, { weights: join(dir, 'ck'), mask: join(dir, 'mask') });
    assert.equal(up.metrics.mapping, '0:0;1:1,2');
    const deep = await readCheckpoint(up.out('checkpoint'));
    const deepMask = await readMask(up.out('mask'));
    assert.equal(deep.iteration, 7, 'the retraining resumes where the ticket was rewound to');
    assert.equal(deep.metadata.model, 'cifar_resnet_20');
    // The layout: stage s's blocks 1 and 2 are copies of the source's block 1, block 0 of block 0; the rest as it was.
    const dst = createModel('cifar_resnet_20');
    for (const p of dst.params) {
      const m = /^layer(\d)\.(\d)\.(.+)$/.exec(p.name);
      const from = m ? `layer${m[1]}.${Math.min(Number(m[2]), 1)}.${m[3]}` : p.name;
      assert.ok(sameBits(deep.weights[p.name]!.data, weights[from]!.data), `${p.name} <- ${from}`);
      if (deepMask[p.name]) assert.deepEqual(deepMask[p.name]!.data, mask[from]!.data, `mask ${p.name}`);
    }
    // Its density: the replicated blocks count once per copy.
    const ones = (ms: Mask) => Object.values(ms).reduce((a, m) => a + m.data.reduce((s, v) => s + v, 0), 0);
    const size = (ms: Mask) => Object.values(ms).reduce((a, m) => a + m.data.length, 0);
    assert.ok(Math.abs((up.metrics.density as number) - ones(deepMask) / size(deepMask)) < 1e-12);
    assert.notEqual(up.metrics.density, up.metrics.sourceDensity, 'the copies weigh the blocks differently');

    await writeCheckpoint(join(dir, 'deep'), deep, deep.metadata);
    const down = await runStage(changeDepthStage, { model: 'cifar_resnet_20', target: 'cifar_resnet_14' }, { weights: join(dir, 'deep'), mask: up.out('mask') });
    const back = await readCheckpoint(down.out('checkpoint'));
    const backMask = await readMask(down.out('mask'));
    assert.deepEqual(Object.keys(back.weights).sort(), Object.keys(weights).sort());
    for (const n of Object.keys(weights)) assert.ok(sameBits(back.weights[n]!.data, weights[n]!.data), n);
    assert.deepEqual(backMask, mask);
    assert.equal(down.metrics.density, up.metrics.sourceDensity);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('change-depth refuses networks that differ beyond their depth', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lth-elastic-'));
  try {
    const src = createModel('cifar_resnet_14');
    await writeCheckpoint(join(dir, 'ck'), { iteration: 0, weights: src.init(), optimizer: {}, curve: [], pendingLoss: [0, 0] }, { model: src.name });
    await writeMask(join(dir, 'mask'), {}, { model: src.name });
    await assert.rejects(
      runStage(changeDepthStage, { model: 'cifar_resnet_14', target: 'cifar_resnet_20_32' }, { weights: join(dir, 'ck'), mask: join(dir, 'mask') }),
      (e) => isPipelineError(e) && /same widths/.test(e.hint ?? ''),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
