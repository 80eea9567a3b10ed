// Issue #13, test 2 (Early-Bird tickets, You et al. 2020): the mask-distance sequence and the EB
// iteration follow the paper's definition on hand-made masks (hand-computed numbers); on the
// synthetic dataset the tracking stage stops before the dense budget, and the ticket has the
// requested density exactly and the dense run's weights at the EB iteration (bitwise) under its mask.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import {
  countOnes,
  earlyBirdIndex,
  earlyBirdTicket,
  EarlyBirdTracker,
  earlyBirdTrack,
  maskDistance,
  queueMaxima,
  readCheckpoint,
  readMask,
  trainDense,
  type EarlyBirdRecord,
  type LayerInfo,
  type Mask,
} from '../../src/lth/index.js';
import { createModel } from '../../src/nn/models/index.js';
import { runStage, sameBits, SYNTH, type StageRun } from './helpers.js';

// Two "layers": a (4 entries) and b (6 entries); a mask is written as 10 characters, a then b.
const INFO: LayerInfo = { prunable: ['a', 'b'], shapes: { a: [4], b: [6] }, kinds: { a: 'fc', b: 'output' } };
function mask(s: string): Mask {
  const bits = Uint8Array.from(s, (c) => Number(c));
  return { a: { shape: [4], data: bits.slice(0, 4) }, b: { shape: [6], data: bits.slice(4) } };
}
// 17 masks with 5 ones each (the masks of evaluation points 0, 10, ..., 160).
const SEQ = [
  '1100111000',
  '0011111000', // 4 positions differ from the previous: 0.4
  '0011110100', // 0.2
  '0011110100', // 0
  '1001110100', // 0.2
  '1001110100', // 0
  '0110110100', // 0.4
  '0110110100',
  '0110110100',
  '0110110100',
  '0110110100', // 0, 0, 0, 0
  '0110101100', // 0.2
  '0110101100',
  '0110101100',
  '0110101100',
  '0110101100',
  '0110101100', // 0 x5
];
// By hand: the distances (differing positions / 10 entries) and max(Q) over the last 5 of them.
const DISTANCES = [0.4, 0.2, 0, 0.2, 0, 0.4, 0, 0, 0, 0, 0.2, 0, 0, 0, 0, 0];
const MAXIMA = [undefined, undefined, undefined, undefined, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.2, 0.2, 0.2, 0.2, 0.2, 0];

describe('Early-Bird: the definition (Sec. 3.3, Algorithm 1)', () => {
  test('mask distance: Hamming distance over the number of entries (of all layers together)', () => {
    assert.equal(maskDistance(mask('1100111000'), mask('1100111000')), 0);
    assert.equal(maskDistance(mask('1100111000'), mask('0011000111')), 1);
    assert.equal(maskDistance(mask('1100111000'), mask('1000111001')), 0.2);
    const d = SEQ.slice(1).map((s, i) => maskDistance(mask(SEQ[i]!), mask(s)));
    assert.deepEqual(d, DISTANCES);
  });

  test('the EB point: the first distance at which the last 5 are all below epsilon (strictly)', () => {
    assert.deepEqual(queueMaxima(DISTANCES), MAXIMA);
    assert.equal(earlyBirdIndex(DISTANCES, 0.5), 4); // 0.4 < 0.5 as soon as the queue is full
    assert.equal(earlyBirdIndex(DISTANCES, 0.3), 10);
    assert.equal(earlyBirdIndex(DISTANCES, 0.2), 15); // max(Q) = 0.2 is not below 0.2
    assert.equal(earlyBirdIndex(DISTANCES, 0.1), 15);
    assert.equal(earlyBirdIndex(DISTANCES.slice(0, 15), 0.1), undefined);
    assert.equal(earlyBirdIndex(DISTANCES, 0.3, 3), 3); // another queue length: max(0.2, 0, 0.2)
    assert.equal(earlyBirdIndex(DISTANCES, 0.5, 12), 11);
    assert.equal(earlyBirdIndex(DISTANCES, 0.3, 12), undefined); // every queue of 12 holds a 0.4
    assert.equal(earlyBirdIndex([0.05, 0.05, 0.05, 0.05], 0.1), undefined); // the queue is not full yet
  });

  test('the tracker: masks drawn by magnitude at the density, the same distances, and weights kept only where max(Q) reaches a new minimum', () => {
    const tracker = new EarlyBirdTracker(INFO, [0.5], 'global');
    const records: number[] = [];
    SEQ.forEach((s, j) => {
      // Weights whose 5 largest magnitudes are the mask's ones (signs do not matter).
      const m = mask(s);
      const w = { a: { shape: [4], data: Float32Array.from(m.a!.data, (v) => (v ? -2 : 1)) }, b: { shape: [6], data: Float32Array.from(m.b!.data, (v) => (v ? 2 : -1)) } };
      const r = tracker.observe(10 * j, w);
      assert.deepEqual(r.maxima, [j === 0 ? undefined : MAXIMA[j - 1]]);
      if (r.record) records.push(10 * j);
    });
    assert.deepEqual(tracker.distances[0]!.map((d) => d.distance), DISTANCES);
    assert.deepEqual(tracker.distances[0]!.map((d) => d.iteration), SEQ.slice(1).map((_, i) => 10 * (i + 1)));
    // The EB iterations of epsilon 0.5, 0.3 and 0.1 (distance indices 4, 10, 15): exactly the weights kept.
    assert.deepEqual(records, [50, 110, 160]);
  });
});

describe('Early-Bird: the stages on the synthetic dataset', () => {
  const CFG = { model: 'lenet300100', ...SYNTH, batchSize: 20, iterations: 200, optimizer: 'adam', lr: 1e-3, evalEvery: 2, initSeed: 3, dataSeed: 4 } as const;
  const DENSITIES = [0.3, 0.05];
  let track: StageRun;
  let rec: EarlyBirdRecord;

  test('early-bird-track stops before the dense budget, once max(Q) < stopEpsilon at every density', async () => {
    track = await runStage(earlyBirdTrack, { ...CFG, densities: DENSITIES, scope: 'global', stopEpsilon: 0.1 }, { files: [] });
    rec = JSON.parse(readFileSync(track.out('distances'), 'utf8')) as EarlyBirdRecord;
    assert.equal(track.metrics.stoppedEarly, true);
    assert.ok(rec.stoppedAt < 200, `stopped at ${rec.stoppedAt}`);
    // It stopped at the first evaluation point where every density met the criterion.
    const ebAt = rec.tracks.map((t) => t.distances[earlyBirdIndex(t.distances.map((d) => d.distance), 0.1)!]!.iteration);
    assert.equal(rec.stoppedAt, Math.max(...ebAt));
    assert.equal(rec.tracks[0]!.distances.at(-1)!.iteration, rec.stoppedAt);
    assert.equal(track.metrics.evalPoints, rec.stoppedAt / 2 + 1);
  });

  test('early-bird-ticket: the mask at the EB iteration with exactly the requested density, on the dense run\'s weights there (bitwise)', async () => {
    const total = 784 * 300 + 300 * 100 + 100 * 10;
    for (const [j, density] of DENSITIES.entries()) {
      const t = await runStage(earlyBirdTicket, { model: 'lenet300100', density, epsilon: 0.1 }, { distances: track.out('distances'), weights: track.out('weights'), init: track.out('init') });
      const seq = rec.tracks[j]!.distances;
      const eb = seq[earlyBirdIndex(seq.map((d) => d.distance), 0.1)!]!.iteration;
      assert.equal(t.metrics.earlyBirdIteration, eb);
      const m = await readMask(t.out('mask'));
      const ones = Object.values(m).reduce((a, x) => a + countOnes(x.data), 0);
      assert.equal(ones, Math.round(density * total), `density ${density}`);
      assert.equal(t.metrics.remaining, ones);
      // The dense run with a checkpoint at the EB iteration: the start is those weights under the mask.
      const dense = await runStage(trainDense, { ...CFG, iterations: eb, checkpoints: [eb] }, { files: [] });
      const at = await readCheckpoint(dense.out(`ck-${eb}`));
      const start = await readCheckpoint(t.out('start'));
      assert.equal(start.iteration, eb, 'training resumes at the EB iteration');
      assert.deepEqual(start.optimizer, {});
      for (const [n, w] of Object.entries(at.weights)) {
        const mk = m[n]?.data;
        assert.ok(sameBits(start.weights[n]!.data, Float32Array.from(w.data, (v, i) => (mk && !mk[i] ? 0 : v))), `${n} at iteration ${eb}`);
      }
      // rewind: 'init' puts the same mask on the initial weights, at iteration 0.
      const init = await runStage(earlyBirdTicket, { model: 'lenet300100', density, epsilon: 0.1, rewind: 'init' }, { distances: track.out('distances'), weights: track.out('weights'), init: track.out('init') });
      const s0 = await readCheckpoint(init.out('start'));
      const ck0 = await readCheckpoint(dense.out('ck-0'));
      assert.equal(s0.iteration, 0);
      assert.ok(readFileSync(init.out('mask')).equals(readFileSync(t.out('mask'))), 'the same mask');
      for (const [n, w] of Object.entries(ck0.weights)) {
        const mk = m[n]?.data;
        assert.ok(sameBits(s0.weights[n]!.data, Float32Array.from(w.data, (v, i) => (mk && !mk[i] ? 0 : v))), `${n} at iteration 0`);
      }
      // rewind: 'reinit' puts it on a fresh initialisation (seed 7), resuming at the EB iteration.
      const re = await runStage(earlyBirdTicket, { model: 'lenet300100', density, epsilon: 0.1, rewind: 'reinit', seed: 7 }, { distances: track.out('distances'), weights: track.out('weights'), init: track.out('init') });
      const sr = await readCheckpoint(re.out('start'));
      assert.equal(sr.iteration, eb);
      for (const [n, w] of Object.entries(createModel('lenet300100').init(7))) {
        const mk = m[n]?.data;
        assert.ok(sameBits(sr.weights[n]!.data, Float32Array.from(w.data, (v, i) => (mk && !mk[i] ? 0 : v))), `${n} reinitialised`);
      }
    }
  });

  test('an epsilon below the tracking stage\'s stopEpsilon that the record cannot answer, and an untracked density, are refused', async () => {
    const inputs = { distances: track.out('distances'), weights: track.out('weights'), init: track.out('init') };
    const answerable = rec.tracks.every((t) => earlyBirdIndex(t.distances.map((d) => d.distance), 1e-9) !== undefined);
    if (!answerable) {
      await assert.rejects(runStage(earlyBirdTicket, { model: 'lenet300100', density: 0.3, epsilon: 1e-9 }, inputs), (e: Error & { code?: string; hint?: string }) => {
        assert.equal(e.code, 'PARAM_INVALID');
        assert.match(e.message, /no early-bird point at epsilon 1e-9 .*stopped at iteration/);
        assert.match(e.hint ?? '', /stopEpsilon <= 1e-9/);
        return true;
      });
    }
    await assert.rejects(runStage(earlyBirdTicket, { model: 'lenet300100', density: 0.2 }, inputs), /density 0.2 was not tracked/);
  });
});
