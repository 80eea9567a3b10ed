// Issue #14, test 1: edge-popup (Ramanujan et al. 2020) and multi-prize tickets (Diffenderfer &
// Kailkhura 2021): the weights never change (bitwise), exactly k of each layer is kept, the
// straight-through gradient of the scores against a finite difference, the binarized weights are
// alpha * sign(w) with alpha the mean |w| kept, and on synthetic data the subnetwork of an
// untrained network is far above chance.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { initBackend, tf } from '../../src/nn/backend.js';
import { buildModel, createModel } from '../../src/nn/models/index.js';
import { countOnes, edgePopup, effectiveWeights, initialScores, readCheckpoint, readMask, supermaskWeights, topKMask } from '../../src/lth/index.js';
import { effectiveWeightTensor, scoreLossAndGrads } from '../../src/lth/supermask.js';
import { Rng } from '../../src/nn/rng.js';
import { cosineSchedule } from '../../src/nn/schedule.js';
import { runStage, sameBits } from './helpers.js';

const tiny = buildModel({ name: 'tiny-mlp', inputShape: [6], numClasses: 3, build: (l) => [l.dense(5), l.relu(), l.dense(4), l.relu(), l.dense(3)] }, { seed: 1 });

describe('edge-popup: initialisation and top-k', () => {
  test('signed Kaiming constant: every kernel weight is +-sqrt(2/fan_in), signs of the Kaiming normal draw; biases 0', () => {
    const m = createModel('mnist_lenet_30_20');
    const w = supermaskWeights(m, 4, 'signed-constant');
    const normal = supermaskWeights(m, 4, 'kaiming-normal');
    for (const [n, fan] of [['fc1.kernel', 784], ['fc2.kernel', 30], ['fc3.kernel', 20]] as const) {
      const sigma = Math.fround(Math.sqrt(2 / fan));
      let pos = 0;
      w[n]!.data.forEach((v, i) => {
        assert.equal(Math.abs(v), sigma, `${n}[${i}]`);
        assert.equal(Math.sign(v), Math.sign(normal[n]!.data[i]!));
        if (v > 0) pos++;
      });
      const frac = pos / w[n]!.data.length;
      assert.ok(frac > 0.35 && frac < 0.65, `${n}: ${frac} positive`);
      // Kaiming normal: standard deviation sqrt(2/fan_in)
      const d = normal[n]!.data;
      const sd = Math.sqrt(d.reduce((a, v) => a + v * v, 0) / d.length);
      if (d.length > 500) assert.ok(Math.abs(sd / Math.sqrt(2 / fan) - 1) < 0.1, `${n}: sd ${sd}`);
    }
    for (const n of ['fc1.bias', 'fc2.bias', 'fc3.bias']) assert.ok(w[n]!.data.every((v) => v === 0));
    // scaled: sigma = sqrt(2 / (k * fan_in))
    const scaled = supermaskWeights(m, 4, 'signed-constant', { scaleFan: true, density: 0.5 });
    assert.equal(Math.abs(scaled['fc2.kernel']!.data[0]!), Math.fround(Math.sqrt(2 / (0.5 * 30))));
  });

  test('initial scores: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (Kaiming uniform, a = sqrt(5)), seeded', () => {
    const s = initialScores(tiny, 3);
    const b = 1 / Math.sqrt(6);
    const first = s[tiny.prunable[0]!]!;
    assert.ok(first.every((v) => Math.abs(v) <= b));
    assert.deepEqual(initialScores(tiny, 3), s);
    assert.notDeepEqual(initialScores(tiny, 4), s);
  });

  test('the mask keeps exactly round(k * n) weights of each layer, those of largest |score|', () => {
    const m = createModel('mnist_lenet_30_20');
    const s = initialScores(m, 0);
    for (const k of [0.3, 0.5, 0.7]) {
      const mask = topKMask(m, s, k);
      for (const n of m.prunable) {
        const data = mask[n]!.data;
        assert.equal(countOnes(data), Math.round(k * data.length), `${n} at k=${k}`);
        let minKept = Infinity;
        let maxDropped = 0;
        data.forEach((v, i) => (v ? (minKept = Math.min(minKept, Math.abs(s[n]![i]!))) : (maxDropped = Math.max(maxDropped, Math.abs(s[n]![i]!)))));
        assert.ok(minKept >= maxDropped, `${n}: a dropped |score| above a kept one`);
      }
    }
  });

  test('binarized weights: alpha * sign(w) on the kept weights, alpha = mean |w| of the kept weights (hand-computed)', () => {
    const weights = { 'a.kernel': { shape: [2, 3], data: Float32Array.from([0.5, -0.25, 2, -1, 0.125, -4]) }, 'a.bias': { shape: [3], data: Float32Array.from([0.1, 0, 0]) } };
    const mask = { 'a.kernel': { shape: [2, 3], data: Uint8Array.from([1, 1, 0, 1, 0, 0]) } };
    const alpha = Math.fround((0.5 + 0.25 + 1) / 3);
    const bin = effectiveWeights(weights, mask, true);
    assert.equal(bin.alphas['a.kernel'], alpha);
    assert.deepEqual([...bin.weights['a.kernel']!.data], [alpha, -alpha, 0, -alpha, 0, 0]);
    assert.deepEqual([...bin.weights['a.bias']!.data], [...weights['a.bias'].data]);
    const plain = effectiveWeights(weights, mask, false);
    assert.deepEqual([...plain.weights['a.kernel']!.data], [0.5, -0.25, 0, -1, 0, 0]);
  });
});

describe('cosine learning rate (the scores\' schedule)', () => {
  test('lr * (1 + cos(pi i / T)) / 2: lr at 0, lr/2 at T/2, after a linear warmup', () => {
    const c = cosineSchedule({ lr: 0.1 }, 100, 10);
    assert.equal(c.at(0), 0.1);
    assert.ok(Math.abs(c.at(50) - 0.05) < 1e-15);
    assert.ok(Math.abs(c.at(75) - (0.1 * (1 + Math.cos((Math.PI * 3) / 4))) / 2) < 1e-15);
    const w = cosineSchedule({ lr: 0.1, warmup: 10 }, 110, 10);
    assert.ok(Math.abs(w.at(4) - 0.05) < 1e-15);
    assert.equal(w.at(10), 0.1);
    assert.ok(Math.abs(w.at(60) - 0.05) < 1e-15);
  });
});

describe('edge-popup: the training loop\'s device-side mask', () => {
  test('is the top-k mask of topKMask (ties included), and its weights those of effectiveWeights', async () => {
    await initBackend();
    const t = tf();
    const m = createModel('mnist_lenet_30_20');
    const w = supermaskWeights(m, 1, 'kaiming-normal');
    const s = initialScores(m, 2);
    // ties: quantised scores, many equal |s| (and +-s)
    for (const n of m.prunable) s[n] = s[n]!.map((v) => Math.round(v * 200) / 200);
    for (const binarize of [false, true]) {
      for (const k of [0.3, 0.5, 0.7]) {
        const want = effectiveWeights(w, topKMask(m, s, k), binarize).weights;
        for (const n of m.prunable) {
          const got = t.tidy(() => effectiveWeightTensor(t.tensor(s[n]!, w[n]!.shape), t.tensor(w[n]!.data, w[n]!.shape), k, binarize).dataSync() as Float32Array);
          const exp = want[n]!.data;
          for (let i = 0; i < exp.length; i++) {
            assert.equal(got[i] === 0, exp[i] === 0, `${n}[${i}] k=${k}: kept differs`);
            // alpha: a float32 sum of up to 16K terms on the device (training only) against a float64 one
            // here (what evaluation uses); w * m is exact.
            assert.ok(Math.abs(got[i]! - exp[i]!) <= (binarize ? 1e-4 * Math.abs(exp[i]!) : 0), `${n}[${i}]: ${got[i]} vs ${exp[i]}`);
          }
        }
      }
    }
  });
});

describe('edge-popup: the straight-through estimator', () => {
  // The tiny MLP's loss in float64 (x W1 + b1, ReLU, ..., softmax cross-entropy): finite
  // differences free of float32 rounding.
  function lossAt(all: Record<string, { shape: number[]; data: Float32Array | Float64Array }>, x: Float32Array, y: Int32Array): number {
    let total = 0;
    for (let e = 0; e < y.length; e++) {
      let h: number[] = Array.from(x.subarray(e * 6, e * 6 + 6));
      for (const [layer, relu] of [['fc1', true], ['fc2', true], ['fc3', false]] as const) {
        const k = all[`${layer}.kernel`]!;
        const b = all[`${layer}.bias`]!;
        const [nin, nout] = k.shape as [number, number];
        const o = new Array<number>(nout).fill(0).map((_, j) => b.data[j]!);
        for (let i = 0; i < nin; i++) for (let j = 0; j < nout; j++) o[j]! += h[i]! * k.data[i * nout + j]!;
        h = relu ? o.map((v) => Math.max(0, v)) : o;
      }
      const mx = Math.max(...h);
      const lse = mx + Math.log(h.reduce((a, v) => a + Math.exp(v - mx), 0));
      total += lse - h[y[e]!]!;
    }
    return total / y.length;
  }

  for (const binarize of [false, true]) {
    test(`dL/ds = (dL/dw_eff by central differences) * w * sign(s), for kept and pruned weights${binarize ? ' (binarized)' : ''}`, async () => {
      await initBackend();
      const t = tf();
      const weights = supermaskWeights(tiny, 2, 'kaiming-normal');
      // Biases non-zero here so that the ReLUs are not at their kink for the whole batch.
      for (const n of ['fc1.bias', 'fc2.bias']) weights[n]!.data.fill(0.3);
      const scores = initialScores(tiny, 5);
      const mask = topKMask(tiny, scores, 0.5);
      const eff = effectiveWeights(weights, mask, binarize).weights;
      const rng = new Rng(9);
      const n = 8;
      const x = Float32Array.from({ length: n * 6 }, () => rng.normal());
      const y = Int32Array.from({ length: n }, () => rng.int(3));
      const names = tiny.prunable;
      const others = Object.fromEntries(tiny.params.filter((p) => !names.includes(p.name)).map((p) => [p.name, t.tensor(weights[p.name]!.data, p.shape)]));
      const tensors = {
        s: names.map((nm) => t.tensor(scores[nm]!, weights[nm]!.shape)),
        eff: names.map((nm) => t.tensor(eff[nm]!.data, weights[nm]!.shape)),
        fixed: names.map((nm) => t.tensor(weights[nm]!.data, weights[nm]!.shape)),
        others,
      };
      const xT = t.tensor(x, [n, 6]);
      const yT = t.tensor1d(y, 'int32');
      const { value, grads } = scoreLossAndGrads(tiny, tensors, xT, yT, { training: false });
      const g = grads.map((gr) => gr.dataSync() as Float32Array);
      assert.ok(Math.abs(value.dataSync()[0]! - lossAt(eff, x, y)) < 1e-5, 'the forward pass uses the effective weights');
      const h = 1e-5;
      let checked = 0;
      let nonzeroPruned = 0;
      names.forEach((nm, li) => {
        for (let i = 0; i < eff[nm]!.data.length; i++) {
          const at = (d: number) => {
            const data = Float64Array.from(eff[nm]!.data);
            data[i]! += d;
            return lossAt({ ...eff, [nm]: { shape: eff[nm]!.shape, data } }, x, y);
          };
          const fd = (at(h) - at(-h)) / (2 * h);
          const expected = fd * weights[nm]!.data[i]! * Math.sign(scores[nm]![i]!);
          const got = g[li]![i]!;
          assert.ok(Math.abs(got - expected) <= 1e-5 + 1e-3 * Math.abs(expected), `${nm}[${i}] (kept ${mask[nm]!.data[i]}): score gradient ${got}, finite difference ${expected}`);
          if (!mask[nm]!.data[i] && Math.abs(got) > 1e-6) nonzeroPruned++;
          checked++;
        }
      });
      assert.equal(checked, 6 * 5 + 5 * 4 + 4 * 3);
      assert.ok(nonzeroPruned > 5, `pruned weights' scores get gradients too (${nonzeroPruned})`);
      for (const v of [value, ...grads, xT, yT, ...tensors.s, ...tensors.eff, ...tensors.fixed, ...Object.values(others)]) v.dispose();
    });
  }
});

describe('edge-popup stage on synthetic data', () => {
  const synth = { dataset: 'synthetic', data: { synthetic: { shape: [28, 28, 1], numClasses: 10, trainSize: 1000, validationSize: 200, testSize: 500 } } } as const;
  const common = { ...synth, model: 'mnist_lenet_100_30', batchSize: 50, iterations: 150, optimizer: 'momentum', momentum: 0.9, weightDecay: 5e-4, lr: 0.1, evalEvery: 50, initSeed: 3, density: 0.5 } as const;

  for (const binarize of [false, true]) {
    test(`weights bitwise unchanged, k exact per layer, far above chance${binarize ? ' (multi-prize, binarized evaluation)' : ''}`, async () => {
      const init = binarize ? 'kaiming-normal' : 'signed-constant';
      const r = await runStage(edgePopup, { ...common, binarize, init }, { files: [] });
      const model = createModel('mnist_lenet_100_30');
      const initial = supermaskWeights(model, 3, init);
      const stored = (await readCheckpoint(r.out('weights'))).weights;
      for (const n of Object.keys(initial)) assert.ok(sameBits(stored[n]!.data, initial[n]!.data), `${n} changed`);
      assert.deepEqual(Object.keys(stored).sort(), Object.keys(initial).sort());
      const mask = await readMask(r.out('mask'));
      for (const n of model.prunable) assert.equal(countOnes(mask[n]!.data), Math.round(0.5 * mask[n]!.data.length), n);
      // the subnetwork is exactly the effective weights of (init, mask)
      const sub = (await readCheckpoint(r.out('subnetwork'))).weights;
      const eff = effectiveWeights(initial, mask, binarize).weights;
      for (const n of Object.keys(eff)) assert.ok(sameBits(sub[n]!.data, eff[n]!.data), `${n}: subnetwork is not the ${binarize ? 'binarized ' : ''}masked init`);
      if (binarize) for (const n of model.prunable) assert.equal(new Set(sub[n]!.data.filter((v) => v !== 0).map(Math.abs)).size, 1, `${n}: one magnitude`);
      // the scores moved, and the mask is their top k
      const scores = (await readCheckpoint(r.out('scores'))).weights;
      const s0 = initialScores(model, 3);
      assert.ok(model.prunable.every((n) => !sameBits(scores[n]!.data, s0[n]!)), 'scores trained');
      const top = topKMask(model, Object.fromEntries(model.prunable.map((n) => [n, scores[n]!.data])), 0.5);
      for (const n of model.prunable) assert.deepEqual(top[n]!.data, mask[n]!.data);
      const acc = r.metrics.testAccuracy as number;
      assert.ok(acc > 0.6, `test accuracy ${acc} (chance 0.1)`);
      assert.equal(r.metrics.density, 0.5);
    });
  }
});
