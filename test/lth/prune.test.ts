// Issue #4, tests 1 and 5: the density schedule of iterative layerwise pruning on LeNet-300-100,
// global vs layerwise, one-shot, layers kept, random baselines, SNIP and SynFlow densities.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createModel } from '../../src/nn/models/index.js';
import { syntheticData } from '../../src/nn/train-data.js';
import {
  countOnes,
  densityOf,
  hammingDistance,
  layerInfoOf,
  magnitudePrune,
  randomMaskLike,
  randomScores,
  selectByScores,
  snipPrune,
  synflowPrune,
  type Mask,
} from '../../src/lth/index.js';

const lenet = createModel('lenet300100', { seed: 3 });
const info = layerInfoOf(lenet);
const w = lenet.init();

describe('density schedule (Frankle & Carbin 2019, LeNet-300-100)', () => {
  test('20% per level, 10% on the output layer: 80.0, 51.3, 32.9, 21.1, 13.5, 7.0, 3.6, 1.9 % at levels 1..18', () => {
    const expected: Record<number, number> = { 1: 80.0, 3: 51.3, 5: 32.9, 7: 21.1, 9: 13.5, 12: 7.0, 15: 3.6, 18: 1.9 };
    let mask: Mask | undefined;
    const seen: Record<number, number> = {};
    for (let level = 1; level <= 18; level++) {
      mask = magnitudePrune(info, w, mask, { scope: 'layerwise', rates: { fc: 0.2, output: 0.1 } });
      seen[level] = 100 * densityOf(mask).overall;
    }
    for (const [level, pct] of Object.entries(expected)) {
      assert.ok(Math.abs(seen[Number(level)]! - pct) <= 0.05, `level ${level}: ${seen[Number(level)]!.toFixed(3)}% remaining, expected ${pct}%`);
    }
    // the output layer went at its own (lower) rate
    assert.ok(Math.abs(densityOf(mask!).layers['fc3.kernel']! - 0.9 ** 18) < 1e-3);
    assert.ok(Math.abs(densityOf(mask!).layers['fc1.kernel']! - 0.8 ** 18) < 1e-3);
  });

  test('magnitude pruning removes the smallest remaining weights, and only remaining ones', () => {
    const m1 = magnitudePrune(info, w, undefined, { scope: 'layerwise', rate: 0.5 });
    const m2 = magnitudePrune(info, w, m1, { scope: 'layerwise', rate: 0.5 });
    for (const n of info.prunable) {
      const a = m1[n]!.data;
      const b = m2[n]!.data;
      for (let i = 0; i < a.length; i++) if (b[i]) assert.equal(a[i], 1, 'a pruned weight came back');
      let maxPruned = 0;
      let minKept = Infinity;
      for (let i = 0; i < a.length; i++) {
        const v = Math.abs(w[n]!.data[i]!);
        if (a[i]) minKept = Math.min(minKept, v);
        else maxPruned = Math.max(maxPruned, v);
      }
      assert.ok(maxPruned <= minKept, `${n}: a pruned weight is larger than a kept one`);
    }
    assert.equal(hammingDistance(m1, m2), densityOf(m1).remaining - densityOf(m2).remaining);
  });
});

describe('global vs layerwise, one-shot, kept layers, random baselines', () => {
  test('one-shot to 10%: layerwise gives 10% in every layer, global 10% overall with uneven layers', () => {
    const lw = magnitudePrune(info, w, undefined, { scope: 'layerwise', density: 0.1 });
    for (const n of info.prunable) assert.ok(Math.abs(densityOf(lw).layers[n]! - 0.1) < 1e-3, n);
    const gl = magnitudePrune(info, w, undefined, { scope: 'global', density: 0.1 });
    assert.equal(densityOf(gl).remaining, Math.round(0.1 * densityOf(gl).total));
    const layers = Object.values(densityOf(gl).layers);
    assert.ok(Math.max(...layers) - Math.min(...layers) > 0.01, 'global pruning should not give equal layer densities');
  });

  test('iterative global 20% of the remaining weights per level', () => {
    let m: Mask | undefined;
    for (let l = 1; l <= 3; l++) m = magnitudePrune(info, w, m, { scope: 'global', rate: 0.2 });
    assert.ok(Math.abs(densityOf(m!).overall - 0.512) < 1e-4);
  });

  test('layers in keep stay dense', () => {
    const m = magnitudePrune(info, w, undefined, { scope: 'global', density: 0.05, keep: ['fc3.kernel'] });
    assert.equal(densityOf(m).layers['fc3.kernel'], 1);
    assert.throws(() => magnitudePrune(info, w, undefined, { scope: 'global', density: 0.05, keep: ['nope'] }), /not a prunable weight/);
  });

  test('random pruning: same per-layer counts as the reference, different positions, seeded', () => {
    const ref = magnitudePrune(info, w, undefined, { scope: 'global', density: 0.2 });
    const r1 = randomMaskLike(info, ref, 7);
    const r2 = randomMaskLike(info, ref, 7);
    const r3 = randomMaskLike(info, ref, 8);
    for (const n of info.prunable) assert.equal(countOnes(r1[n]!.data), countOnes(ref[n]!.data), n);
    assert.equal(hammingDistance(r1, r2), 0);
    assert.ok(hammingDistance(r1, r3) > 0);
    assert.ok(hammingDistance(r1, ref) > 0);
    const rr = selectByScores(info, randomScores(info, 1), undefined, { scope: 'layerwise', rates: { fc: 0.2, output: 0.1 } });
    assert.ok(Math.abs(densityOf(rr).overall - 0.8004) < 1e-3);
  });

  test('bad amounts are PARAM_INVALID', () => {
    assert.throws(() => magnitudePrune(info, w, undefined, { scope: 'global', rate: 1.5 }), (e: Error & { code?: string }) => e.code === 'PARAM_INVALID');
    assert.throws(() => magnitudePrune(info, w, undefined, { scope: 'global' }), (e: Error & { code?: string }) => e.code === 'PARAM_INVALID');
  });
});

describe('pruning at initialisation', () => {
  test('SNIP reaches the requested density (global and layerwise)', async () => {
    const data = syntheticData({ inputShape: [28, 28, 1], numClasses: 10, trainSize: 100, validationSize: 10, testSize: 10 });
    const g = await snipPrune(lenet, w, undefined, { scope: 'global', density: 0.05 }, data, { batchSize: 50, seed: 0 });
    assert.equal(densityOf(g).remaining, Math.round(0.05 * densityOf(g).total));
    const l = await snipPrune(lenet, w, undefined, { scope: 'layerwise', density: 0.05 }, data, { batchSize: 50, seed: 0 });
    for (const n of info.prunable) assert.ok(Math.abs(densityOf(l).layers[n]! - 0.05) < 1e-3, n);
  });

  test('SynFlow at 1% density prunes no layer completely', async () => {
    const m = await synflowPrune(lenet, w, undefined, { scope: 'global', density: 0.01 }, 30);
    const d = densityOf(m);
    assert.equal(d.remaining, Math.round(0.01 * d.total));
    for (const n of info.prunable) assert.ok(d.layers[n]! > 0, `${n} was pruned completely`);
  });
});
