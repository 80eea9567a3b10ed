// Issue #14, test 2: PHEW (Patil & Dovrolis 2021) masks: the requested density, every kept weight
// on an input-output path (no dead units at 5% on LeNet), determinism per seed, and the walk's
// probabilities checked by hand on tiny layers.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createModel } from '../../src/nn/models/index.js';
import type { WeightMap } from '../../src/nn/tensormap.js';
import { densityOf, edgeWeights, phewChain, phewMask, prune, readMask, transitionProbabilities, writeCheckpoint, type Mask } from '../../src/lth/index.js';
import { runStage } from './helpers.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A one-layer "model" with a kernel of `shape` (conv [kh, kw, in, out] or dense [in, out]). */
function tiny(shape: number[], values: number[]): { model: Parameters<typeof phewMask>[0]; weights: WeightMap } {
  const name = shape.length === 4 ? 'conv1.kernel' : 'fc1.kernel';
  return {
    model: { name: 'tiny', prunable: [name], params: [{ name, shape, role: 'kernel' } as never], flattenedInputs: {} },
    weights: { [name]: { shape, data: Float32Array.from(values) } },
  };
}

const close = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

describe('PHEW: walk probabilities (Sec. 3)', () => {
  test('dense layer: forward P(o | i) = |w_io| / sum_o |w_io|, backward P(i | o) = |w_io| / sum_i |w_io|; zero sums are uniform', () => {
    // [in = 2, out = 3]: row i = input unit i.
    const { model, weights } = tiny([2, 3], [1, -3, 0, 0, 0, 0]);
    const layer = phewChain(model)[0]!;
    const p = transitionProbabilities(layer, weights['fc1.kernel']!.data);
    assert.deepEqual(p.forward[0], [0.25, 0.75, 0]);
    assert.deepEqual(p.forward[1], [1 / 3, 1 / 3, 1 / 3]); // all-zero edges: uniform, as the paper's code
    assert.deepEqual(p.backward[0], [1, 0]);
    assert.deepEqual(p.backward[1], [1, 0]);
    assert.deepEqual(p.backward[2], [0.5, 0.5]);
  });

  test('conv layer: an edge between channels weighs the L1 norm of its kernel', () => {
    // [kh = 1, kw = 2, in = 1, out = 2]: index (s * in + i) * out + o.
    const { model, weights } = tiny([1, 2, 1, 2], [1, -2, 3, 4]);
    const layer = phewChain(model)[0]!;
    assert.deepEqual([...edgeWeights(layer, weights['conv1.kernel']!.data)], [4, 6]); // o=0: |1|+|3|, o=1: |-2|+|4|
    assert.deepEqual(transitionProbabilities(layer, weights['conv1.kernel']!.data).forward[0], [0.4, 0.6]);
  });

  test('the first forward walk picks output o with probability |w_o| / sum |w| (over 4000 seeds)', () => {
    const { model, weights } = tiny([1, 4], [1, -2, 3, 4]);
    const counts = [0, 0, 0, 0];
    for (let seed = 0; seed < 4000; seed++) {
      const r = phewMask(model, weights, 0.25, seed); // 1 weight: one walk
      assert.equal(r.walks, 1);
      counts[r.mask['fc1.kernel']!.data.indexOf(1)]!++;
    }
    [0.1, 0.2, 0.3, 0.4].forEach((p, o) => close(counts[o]! / 4000, p, 0.025, `P(o = ${o})`));
  });

  test('inside a conv kernel, the walk keeps position s with probability |w_s| / sum |kernel| (over 4000 seeds)', () => {
    const { model, weights } = tiny([1, 2, 1, 1], [1, -3]);
    let second = 0;
    for (let seed = 0; seed < 4000; seed++) second += phewMask(model, weights, 0.5, seed).mask['conv1.kernel']!.data[1]!;
    close(second / 4000, 0.75, 0.025, 'P(s = 1)');
  });
});

/** Kept weights of a dense [in, out] layer as (i, o) pairs. */
function keptIO(mask: Mask, name: string, out: number): Array<[number, number]> {
  const d = mask[name]!.data;
  const r: Array<[number, number]> = [];
  for (let j = 0; j < d.length; j++) if (d[j]) r.push([Math.floor(j / out), j % out]);
  return r;
}

describe('PHEW on LeNet-300-100 and Conv-2', () => {
  const lenet = createModel('lenet300100');
  const w0 = lenet.init(0);

  test('the requested density (the last walk may add at most layers - 1 weights)', () => {
    for (const d of [0.02, 0.05, 0.2]) {
      const r = phewMask(lenet, w0, d, 0);
      const got = densityOf(r.mask);
      assert.equal(r.target, Math.round(d * got.total));
      assert.equal(got.remaining, r.kept);
      assert.ok(r.kept >= r.target && r.kept <= r.target + 2, `${r.kept} for ${r.target}`);
    }
  });

  test('no dead units at 5%: every kept weight has a kept weight into its input unit and out of its output unit', () => {
    const { mask } = phewMask(lenet, w0, 0.05, 3);
    const layers = [
      ['fc1.kernel', 300],
      ['fc2.kernel', 100],
      ['fc3.kernel', 10],
    ] as const;
    const kept = layers.map(([n, out]) => keptIO(mask, n, out));
    for (let l = 0; l < layers.length; l++) {
      const fedUnits = l > 0 ? new Set(kept[l - 1]!.map(([, o]) => o)) : undefined; // units with a kept incoming weight
      const feedingUnits = l < layers.length - 1 ? new Set(kept[l + 1]!.map(([i]) => i)) : undefined; // units with a kept outgoing weight
      for (const [i, o] of kept[l]!) {
        if (fedUnits) assert.ok(fedUnits.has(i), `${layers[l]![0]}: input unit ${i} has no kept incoming weight`);
        if (feedingUnits) assert.ok(feedingUnits.has(o), `${layers[l]![0]}: output unit ${o} has no kept outgoing weight`);
      }
    }
    // and it is sparse and not degenerate: every layer keeps something, fc1 much sparser than fc3
    const dens = densityOf(mask).layers;
    assert.ok(dens['fc1.kernel']! > 0 && dens['fc1.kernel']! < dens['fc3.kernel']!);
  });

  test('deterministic per seed; another seed gives another mask', () => {
    const a = phewMask(lenet, w0, 0.05, 7).mask;
    const b = phewMask(lenet, w0, 0.05, 7).mask;
    const c = phewMask(lenet, w0, 0.05, 8).mask;
    for (const n of lenet.prunable) assert.ok(Buffer.from(a[n]!.data).equals(Buffer.from(b[n]!.data)), n);
    assert.ok(!Buffer.from(a['fc1.kernel']!.data).equals(Buffer.from(c['fc1.kernel']!.data)));
  });

  test('Conv-2: conv to flattened dense (NHWC): every kept fc1 weight reads a channel that conv2 feeds, and conv channels lead on', () => {
    const conv2 = createModel('conv2');
    const { mask } = phewMask(conv2, conv2.init(0), 0.02, 0);
    const C = 64;
    const convOut = (name: string, inC: number) => {
      const d = mask[name]!.data;
      const into = new Set<number>();
      const from = new Set<number>();
      for (let j = 0; j < d.length; j++) if (d[j]) { into.add(j % C); from.add(Math.floor(j / C) % inC); }
      return { into, from };
    };
    const c1 = convOut('conv1.kernel', 3);
    const c2 = convOut('conv2.kernel', 64);
    for (const ch of c2.from) assert.ok(c1.into.has(ch), `conv2 reads channel ${ch}, which conv1 does not feed`);
    for (const ch of c1.into) assert.ok(c2.from.has(ch), `conv1 feeds channel ${ch}, which conv2 does not read`);
    const fcChannels = new Set(keptIO(mask, 'fc1.kernel', 256).map(([u]) => u % C));
    for (const ch of fcChannels) assert.ok(c2.into.has(ch), `fc1 reads channel ${ch}, which conv2 does not feed`);
    for (const ch of c2.into) assert.ok(fcChannels.has(ch), `conv2 feeds channel ${ch}, which fc1 does not read`);
  });

  test('residual networks are refused (PARAM_INVALID)', () => {
    const resnet = createModel('resnet20');
    assert.throws(() => phewMask(resnet, resnet.init(0), 0.1, 0), (e: Error & { code?: string }) => e.code === 'PARAM_INVALID' && /inside blocks/.test(e.message));
  });

  test("the prune stage's method 'phew': a density, from the initial weights; a rate is refused", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'phew-'));
    const ck = join(dir, 'init.safetensors');
    await writeCheckpoint(ck, { iteration: 0, weights: w0, optimizer: {}, curve: [], pendingLoss: [0, 0] }, { model: 'lenet300100' });
    const r = await runStage(prune, { model: 'lenet300100', method: 'phew', density: 0.05, seed: 3 }, { weights: ck, mask: [], like: [], files: [] });
    const got = await readMask(r.out('mask'));
    const direct = phewMask(lenet, w0, 0.05, 3).mask;
    for (const n of lenet.prunable) assert.ok(Buffer.from(got[n]!.data).equals(Buffer.from(direct[n]!.data)), n);
    assert.ok(Math.abs((r.metrics.density as number) - 0.05) < 1e-5);
    await assert.rejects(runStage(prune, { model: 'lenet300100', method: 'phew', rate: 0.5 }, { weights: ck, mask: [], like: [], files: [] }), /density/);
  });
});
