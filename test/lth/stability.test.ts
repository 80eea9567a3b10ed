// Issue #4, test 4: instability of two identical copies is 0; of a known pair of weight vectors it
// is the value computed by hand; distances.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createModel } from '../../src/nn/models/index.js';
import { evaluate } from '../../src/nn/train.js';
import { syntheticData } from '../../src/nn/train-data.js';
import { instability, interpolate, interpolationPoints, l2Distance, linearPath } from '../../src/lth/index.js';
import type { WeightMap } from '../../src/nn/tensormap.js';

const vec = (...xs: number[]): WeightMap => ({ w: { shape: [xs.length], data: Float32Array.from(xs) } });

describe('linear-path instability', () => {
  test('30 evenly spaced points, ends included', () => {
    const a = interpolationPoints(30);
    assert.equal(a.length, 30);
    assert.equal(a[0], 0);
    assert.equal(a[29], 1);
    assert.ok(Math.abs(a[1]! - 1 / 29) < 1e-12);
  });

  test('two identical copies of a real network: instability 0', async () => {
    const model = createModel('lenet300100', { seed: 1 });
    const data = syntheticData({ inputShape: [28, 28, 1], numClasses: 10, trainSize: 20, validationSize: 10, testSize: 60 });
    const w = model.init();
    const r = await linearPath(w, w, async (x) => 1 - (await evaluate(model, x, data, 'test')).accuracy, { points: 30 });
    assert.equal(r.errors.length, 30);
    assert.equal(r.instability, 0);
    assert.equal(r.stable, true);
  });

  test('a known pair: sign(w0 * w1 * x) from (1, 1) to (-1, -1) collapses at the midpoint', async () => {
    // Points x = -2, -1, 1, 2 with labels x > 0. Prediction: positive iff w0 * w1 * x > 0.
    // w(alpha) = (1 - 2 alpha) * (1, 1): the product is (1 - 2 alpha)^2, > 0 except at alpha = 1/2,
    // where every prediction is negative: error 2/4. Ends: error 0. By hand: instability = 0.5.
    const xs = [-2, -1, 1, 2];
    const errorOf = (m: WeightMap) => {
      const [w0, w1] = m.w!.data;
      return xs.filter((x) => w0! * w1! * x > 0 !== x > 0).length / xs.length;
    };
    const r = await linearPath(vec(1, 1), vec(-1, -1), errorOf, { points: 5 });
    assert.deepEqual(r.alphas, [0, 0.25, 0.5, 0.75, 1]);
    assert.deepEqual(r.errors, [0, 0, 0.5, 0, 0]);
    assert.equal(r.instability, 0.5);
    assert.equal(r.stable, false);
    // with an even number of points the midpoint is missed: no barrier seen
    assert.equal((await linearPath(vec(1, 1), vec(-1, -1), errorOf, { points: 4 })).instability, 0);
  });

  test('instability = max error minus the mean of the end errors; the 2% threshold', async () => {
    assert.ok(Math.abs(instability([0.1, 0.3, 0.2]) - 0.15) < 1e-12);
    assert.equal(instability([0.2, 0.1, 0.2]), 0);
    const r = await linearPath(vec(0), vec(1), (m) => 0.1 + 0.019 * Math.sin(Math.PI * m.w!.data[0]!), { points: 3 });
    assert.ok(Math.abs(r.instability - 0.019) < 1e-9);
    assert.equal(r.stable, true);
  });

  test('interpolation and masked L2 distance', () => {
    assert.deepEqual(Array.from(interpolate(vec(0, 2), vec(4, 2), 0.25).w!.data), [1, 2]);
    const mask = { w: { shape: [3], data: Uint8Array.from([1, 0, 1]) } };
    const d = l2Distance(vec(3, 100, 0), vec(0, 0, 4), { mask });
    assert.equal(d.distance, 5);
    assert.equal(d.norm, 4);
  });
});
