// Issue #14, test 3: the sanity checks of pruning at initialisation (Frankle et al. 2021, Sec. 5)
// keep every layer's density exactly and change what they should and nothing else (bitwise):
// shuffling moves the mask's positions within each layer (the initial weights stay); reinitialising
// draws the kept weights afresh from the original initialisation (the mask stays).
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { createModel } from '../../src/nn/models/index.js';
import { applyMask, countOnes, layerInfoOf, prune, readCheckpoint, readMask, rewind, shuffleMask, shuffleMaskStage, writeCheckpoint } from '../../src/lth/index.js';
import { runStage, sameBits } from './helpers.js';

const MODEL = 'lenet300100';

describe('sanity-check variants of a mask found at initialisation', async () => {
  const model = createModel(MODEL, { seed: 0 });
  const info = layerInfoOf(model);
  const init = model.init(0);
  const dir = mkdtempSync(join(tmpdir(), 'mask-variants-'));
  const ck = join(dir, 'init.safetensors');
  await writeCheckpoint(ck, { iteration: 0, weights: init, optimizer: {}, curve: [], pendingLoss: [0, 0] }, { model: MODEL });
  // A global magnitude mask at 10%: its layers have different densities.
  const found = await runStage(prune, { model: MODEL, method: 'magnitude', scope: 'global', density: 0.1 }, { weights: ck, mask: [], like: [], files: [] });
  const mask = await readMask(found.out('mask'));

  test('shuffleMask: every layer keeps exactly its number of weights, the positions move, deterministic per seed', () => {
    const a = shuffleMask(info, mask, 5);
    const b = shuffleMask(info, mask, 5);
    const c = shuffleMask(info, mask, 6);
    for (const n of info.prunable) {
      assert.equal(countOnes(a[n]!.data), countOnes(mask[n]!.data), `${n}: same number of weights`);
      assert.deepEqual(a[n]!.shape, mask[n]!.shape);
      assert.ok(Buffer.from(a[n]!.data).equals(Buffer.from(b[n]!.data)), `${n}: same seed, same mask`);
      let same = 0;
      for (let i = 0; i < a[n]!.data.length; i++) same += a[n]!.data[i]! & mask[n]!.data[i]!;
      // A random placement overlaps the original by about density^2 of the positions, not all of them.
      assert.ok(same < countOnes(mask[n]!.data), `${n}: positions changed`);
    }
    assert.ok(!Buffer.from(a['fc1.kernel']!.data).equals(Buffer.from(c['fc1.kernel']!.data)), 'another seed, another shuffle');
  });

  test('shuffle-mask stage, then rewind: the shuffled mask on bitwise the same initial weights', async () => {
    const s = await runStage(shuffleMaskStage, { model: MODEL, seed: 1 }, { mask: found.out('mask') });
    const shuffled = await readMask(s.out('mask'));
    assert.deepEqual(s.metrics.layers, found.metrics.layers, 'per-layer densities unchanged');
    assert.ok((s.metrics.changed as number) > 0);
    for (const n of info.prunable) assert.ok(Buffer.from(shuffled[n]!.data).equals(Buffer.from(shuffleMask(info, mask, 1)[n]!.data)), n);
    const start = await readCheckpoint((await runStage(rewind, { model: MODEL, iteration: 0 }, { weights: ck, mask: s.out('mask') })).out('checkpoint'));
    const expect = applyMask(init, shuffled);
    for (const n of Object.keys(init)) assert.ok(sameBits(start.weights[n]!.data, expect[n]!.data), `${n}: the initial weights under the shuffled mask`);
  });

  test("reinitialisation (rewind mode 'reinit'): same mask, same biases, every kept weight drawn afresh from the original initialisation", async () => {
    const orig = await readCheckpoint((await runStage(rewind, { model: MODEL, iteration: 0 }, { weights: ck, mask: found.out('mask') })).out('checkpoint'));
    const re = await readCheckpoint((await runStage(rewind, { model: MODEL, mode: 'reinit', seed: 1000, iteration: 0 }, { weights: ck, mask: found.out('mask') })).out('checkpoint'));
    // exactly the model's own initialisation (He normal, as the original) with another seed, under the same mask
    const expect = applyMask(model.init(1000), mask);
    for (const n of Object.keys(init)) assert.ok(sameBits(re.weights[n]!.data, expect[n]!.data), `${n}: fresh init under the mask`);
    for (const n of Object.keys(init)) {
      const m = mask[n]?.data;
      const a = orig.weights[n]!.data;
      const b = re.weights[n]!.data;
      if (!m) {
        assert.ok(sameBits(a, b), `${n} (not prunable) unchanged`);
        continue;
      }
      for (let i = 0; i < m.length; i++) {
        if (!m[i]) assert.ok(Object.is(a[i], 0) && Object.is(b[i], 0), `${n}[${i}] pruned in both`);
        else assert.notEqual(a[i], b[i], `${n}[${i}] kept and redrawn`);
      }
    }
  });
});
