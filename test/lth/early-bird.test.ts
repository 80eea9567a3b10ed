// Issue #13, test 2 (Early-Bird tickets, You et al. 2020): the mask-distance sequence and the EB
// iteration follow the paper's definition on hand-made masks (hand-computed numbers); on the
// synthetic dataset the tracking stage stops before the dense budget, and the ticket has the
// requested density exactly and the dense run's weights at the EB iteration (bitwise) under its mask.
// Channel pruning by batch-norm scale (the paper's, network slimming): hand-made scales give the
// hand-computed channel masks, distances and EB point; a small batch-norm network tracked with
// granularity 'channels' gives a ticket with exactly the requested share of channels, whose pruned
// channels' filters, scales and shifts are exactly zero after retraining (with every optimizer).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadPipeline } from '../../src/engine/index.js';
import { after, describe, test } from 'node:test';
import {
  channelLayersOf,
  channelSelection,
  channelTicketMask,
  countOnes,
  earlyBirdIndex,
  earlyBirdMask,
  earlyBirdTrackParams,
  layerInfoOf,
  retrain,
  earlyBirdTicket,
  EarlyBirdTracker,
  earlyBirdTrack,
  maskDistance,
  queueMaxima,
  readCheckpoint,
  readMask,
  trainDense,
  EARLY_BIRD_IDS,
  type EarlyBirdRecord,
  type TrainConfig,
  type LayerInfo,
  type Mask,
} from '../../src/lth/index.js';
import { buildModel, createModel, registerModel, unregisterModel, type ModelDefinition } from '../../src/nn/models/index.js';
import { OPTIMIZER_TYPES } from '../../src/nn/optim.js';
import { train } from '../../src/nn/train.js';
import type { WeightMap } from '../../src/nn/tensormap.js';
import { decodeSafetensors } from '../../src/nn/safetensors.js';
import { toTorchFile } from '../../src/nn/torch-format.js';
import { loadDataset } from '../../src/nn/data/index.js';
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
    const tracker = new EarlyBirdTracker((w, d) => earlyBirdMask(INFO, w, d, 'global'), [0.5]);
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

// ---- channel pruning by batch-norm scale ---------------------------------------------------------

// Two batch norms: a (4 channels, after conv 'ca', kernel [1, 1, 2, 4]) and b (6 channels, after
// dense 'fb', kernel [3, 6]): 10 channels, written as 10 characters as the masks above.
const BNS = [
  { gamma: 'a.gamma', beta: 'a.beta', channels: 4, producer: 'ca.kernel' },
  { gamma: 'b.gamma', beta: 'b.beta', channels: 6, producer: 'fb.kernel' },
];
const KERNELS: LayerInfo = { prunable: ['ca.kernel', 'fb.kernel'], shapes: { 'ca.kernel': [1, 1, 2, 4], 'fb.kernel': [3, 6] }, kinds: { 'ca.kernel': 'conv', 'fb.kernel': 'output' } };
const scales = (a: number[], b: number[]) => ({ 'a.gamma': { shape: [4], data: Float32Array.from(a) }, 'b.gamma': { shape: [6], data: Float32Array.from(b) } });
const bits = (m: Mask) => [...m['a.gamma']!.data, ...m['b.gamma']!.data].join('');

describe('Early-Bird: channels by batch-norm scale (network slimming)', () => {
  test("a channel ticket's retraining keeps the search's L1 penalty (the authors' retrain_continue.sh), a weights ticket's has none", async () => {
    const pipeline = await loadPipeline(fileURLToPath(new URL('../../pipelines/early-bird.ts', import.meta.url)), ['profile=paper']);
    const retrains = [...pipeline.nodes.values()].filter((n) => /\/EB\d+\//.test(n.id) && n.id.endsWith(`/${EARLY_BIRD_IDS.retrain}`));
    assert.deepEqual(retrains.filter((n) => n.id.startsWith('resnet20/')).map((n) => (n.params.effective as TrainConfig).bnL1), [1e-4, 1e-4, 1e-4]);
    assert.equal(retrains.filter((n) => n.id.startsWith('lenet/')).length, 10);
    assert.ok(retrains.filter((n) => n.id.startsWith('lenet/')).every((n) => (n.params.effective as TrainConfig).bnL1 === 0));
  });

  test('the channel mask: the largest |gamma| over all batch norms (one threshold), exactly round(density x channels), ties by position', () => {
    const w = scales([0.9, -0.05, 0.3, 0], [-0.7, 0.2, 0.2, 0.01, 1.2, -0.4]);
    // |gamma| sorted: 1.2 (b4), 0.9 (a0), 0.7 (b0), 0.4 (b5), 0.3 (a2), 0.2 (b1), 0.2 (b2), 0.05, 0.01, 0.
    assert.equal(bits(channelSelection(BNS, w, 0.3)), '1000' + '100010');
    assert.equal(bits(channelSelection(BNS, w, 0.5)), '1010' + '100011');
    assert.equal(bits(channelSelection(BNS, w, 0.6)), '1010' + '110011'); // the tie at 0.2: b1 before b2
    // Per layer at 0.3: round(1.2) = 1 of a, round(1.8) = 2 of b.
    assert.equal(bits(channelSelection(BNS, w, 0.3, 'layerwise')), '1000' + '100010');
    // At 0.6: round(2.4) = 2 of a; round(3.6) = 4 of b, the tie at 0.2 to b1.
    assert.equal(bits(channelSelection(BNS, w, 0.6, 'layerwise')), '1010' + '110011');
  });

  test('the ticket mask: a pruned channel zeroes its producer\'s output channel, its scale and its shift', () => {
    const sel = channelSelection(BNS, scales([0.9, -0.05, 0.3, 0], [-0.7, 0.2, 0.2, 0.01, 1.2, -0.4]), 0.5); // a 1010, b 100011
    const m = channelTicketMask(BNS, KERNELS, sel);
    assert.deepEqual(Object.keys(m).sort(), ['a.beta', 'a.gamma', 'b.beta', 'b.gamma', 'ca.kernel', 'fb.kernel']);
    assert.deepEqual([...m['a.beta']!.data], [1, 0, 1, 0]);
    assert.deepEqual([...m['b.beta']!.data], [1, 0, 0, 0, 1, 1]);
    // conv [1, 1, 2, 4]: 2 input channels x 4 output channels, the output channel last.
    assert.deepEqual([...m['ca.kernel']!.data], [1, 0, 1, 0, 1, 0, 1, 0]);
    // dense [3, 6]: 3 inputs x 6 outputs.
    assert.deepEqual([...m['fb.kernel']!.data], [1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1]);
  });

  test('hand-made scale sequences: the same masks, distances (over all channels) and EB point as the hand-made masks', () => {
    // At each point the scales whose 5 largest |gamma| are the mask's ones (signs mixed).
    const draw = (w: WeightMap, d: number) => channelSelection(BNS, w, d);
    const tracker = new EarlyBirdTracker(draw, [0.5]);
    const records: number[] = [];
    SEQ.forEach((s, j) => {
      const v = Array.from(s, (c, i) => (c === '1' ? (i % 2 ? -1 : 1) * (0.5 + i / 100) : (i % 2 ? 1 : -1) * (0.1 - i / 200)));
      const w = scales(v.slice(0, 4), v.slice(4));
      assert.equal(bits(draw(w, 0.5)), s);
      if (tracker.observe(10 * j, w).record) records.push(10 * j);
    });
    assert.deepEqual(tracker.distances[0]!.map((d) => d.distance), DISTANCES);
    assert.deepEqual(records, [50, 110, 160]);
    assert.equal(earlyBirdIndex(DISTANCES, 0.1), 15);
  });

  test('which kernel feeds each batch norm: conv-BN pairs, also in residual blocks; none after a sum; ResNet-20 has 21 batch norms, 784 channels', () => {
    const def: ModelDefinition = {
      name: 'eb-producers',
      inputShape: [8, 8, 1],
      numClasses: 4,
      build: (l) => [l.conv(4, { bias: false }), l.batchNorm(), l.relu(), l.basicBlock(8, { stride: 2, name: 'b' }), l.batchNorm({ name: 'post' }), l.globalAvgPool(), l.dense(4)],
    };
    const layers = channelLayersOf(buildModel(def));
    assert.deepEqual(
      layers.map((l) => [l.gamma, l.producer]),
      [
        ['bn1.gamma', 'conv1.kernel'],
        ['b.bn1.gamma', 'b.conv1.kernel'],
        ['b.bn2.gamma', 'b.conv2.kernel'],
        ['b.shortcut_bn.gamma', 'b.shortcut.kernel'],
        ['post.gamma', undefined],
      ],
    );
    const r20 = channelLayersOf(createModel('resnet20'));
    assert.equal(r20.length, 21);
    assert.equal(r20.reduce((a, l) => a + l.channels, 0), 784);
    assert.ok(r20.every((l) => l.producer !== undefined));
    assert.deepEqual(channelLayersOf(createModel('lenet300100')), []);
  });

  test('channels on a model without batch norm, and an L1 penalty with weights, are refused when the params are validated', () => {
    const base = { model: 'lenet300100', ...SYNTH, batchSize: 20, iterations: 10, optimizer: 'adam', lr: 1e-3, evalEvery: 2, densities: [0.5] };
    const r = earlyBirdTrackParams.safeParse({ ...base, granularity: 'channels' });
    assert.ok(!r.success);
    assert.deepEqual(r.error.issues.map((i) => i.path.join('.')), ['granularity']);
    assert.match(r.error.issues[0]!.message, /lenet300100 has no batch norm/);
    const l1 = earlyBirdTrackParams.safeParse({ ...base, bnL1: 1e-4 });
    assert.ok(!l1.success);
    assert.deepEqual(l1.error.issues.map((i) => i.path.join('.')), ['bnL1']);
    assert.ok(earlyBirdTrackParams.safeParse({ ...base, granularity: 'weights' }).success);
    assert.ok(earlyBirdTrackParams.safeParse({ ...base, model: 'resnet20', granularity: 'channels', bnL1: 0 }).success);
  });
});

// A small batch-norm network on 8x8 synthetic images: 4 + 8 = 12 batch-norm channels.
const BN_NET: ModelDefinition = {
  name: 'eb-test-bn-net',
  inputShape: [8, 8, 1],
  numClasses: 4,
  build: (l) => [l.conv(4, { bias: false }), l.batchNorm(), l.relu(), l.maxPool(2), l.conv(8, { bias: false }), l.batchNorm(), l.relu(), l.globalAvgPool(), l.dense(4)],
};
const BN_SYNTH = { shape: [8, 8, 1] as [number, number, number], numClasses: 4, trainSize: 64, validationSize: 16, testSize: 16 };
const BN_DATA = { dataset: 'synthetic', data: { synthetic: BN_SYNTH } };

describe('Early-Bird: a channel ticket of a small batch-norm network', () => {
  registerModel(BN_NET);
  after(() => unregisterModel(BN_NET.name));

  test('L1 on the scales is a real subgradient term: one SGD step moves each scale by -lr * lambda * sign(gamma) more', async () => {
    const model = createModel(BN_NET.name, { seed: 1 });
    const data = await loadDataset('synthetic', { synthetic: BN_SYNTH });
    const w0 = model.init();
    w0['bn1.gamma']!.data.set([0.5, -0.25, 0, 2]);
    const run = (bnL1: number) => train({ model, data, weights: w0, batchSize: 8, budget: 1, optimizer: { type: 'sgd' }, schedule: { lr: 0.5 }, dataSeed: 2, bnL1 });
    const [plain, l1] = [await run(0), await run(0.01)];
    const moved = Array.from(l1.weights['bn1.gamma']!.data, (v, i) => v - plain.weights['bn1.gamma']!.data[i]!);
    [-0.005, 0.005, 0, -0.005].forEach((d, i) => assert.ok(Math.abs(moved[i]! - d) < 1e-6, `channel ${i}: ${moved[i]} vs ${d}`));
    assert.ok(sameBits(l1.weights['conv1.kernel']!.data, plain.weights['conv1.kernel']!.data), 'nothing else changes');
  });

  test('masked scales and shifts stay exactly zero with every optimizer (weight decay and L1 on)', async () => {
    const model = createModel(BN_NET.name, { seed: 1 });
    const data = await loadDataset('synthetic', { synthetic: BN_SYNTH });
    const sel = channelSelection(channelLayersOf(model), { 'bn1.gamma': { shape: [4], data: Float32Array.of(1, 0, 1, 0) }, 'bn2.gamma': { shape: [8], data: Float32Array.of(1, 1, 0, 0, 1, 1, 0, 0) } }, 0.5);
    const mask = channelTicketMask(channelLayersOf(model), layerInfoOf(model), sel);
    for (const type of OPTIMIZER_TYPES) {
      const r = await train({ model, data, weights: model.init(), mask, batchSize: 8, budget: 6, optimizer: { type, weightDecay: 1e-3 }, schedule: { lr: 0.05 }, dataSeed: 3, bnL1: 1e-3 });
      for (const [n, m] of Object.entries(mask)) {
        const w = r.weights[n]!.data;
        m.data.forEach((keep, i) => keep || assert.ok(w[i] === 0, `${type}: ${n}[${i}] = ${w[i]}`)); // -0 is zero too
      }
      // The kept scales trained (and the L1 term did not stop them).
      assert.ok([0, 2].every((ch) => r.weights['bn1.gamma']!.data[ch] !== 1), `${type}: kept scales moved`);
    }
  });

  test('tracked with granularity channels: the ticket keeps exactly the requested share of channels, and retraining keeps the pruned ones exactly zero', async () => {
    const cfg = { model: BN_NET.name, ...BN_DATA, batchSize: 16, iterations: 120, optimizer: 'adam', lr: 1e-2, evalEvery: 2, initSeed: 1, dataSeed: 2 } as const;
    const track = await runStage(earlyBirdTrack, { ...cfg, densities: [0.5], granularity: 'channels', stopEpsilon: 0.5 }, { files: [] });
    const rec = JSON.parse(readFileSync(track.out('distances'), 'utf8')) as EarlyBirdRecord;
    assert.equal(rec.granularity, 'channels');
    assert.equal(rec.scope, 'global');
    assert.equal(rec.bnL1, 1e-4);
    // Distances are over the 12 channels: multiples of 1/12.
    for (const d of rec.tracks[0]!.distances) assert.ok(Math.abs(d.distance * 12 - Math.round(d.distance * 12)) < 1e-9, `${d.distance}`);
    const inputs = { distances: track.out('distances'), weights: track.out('weights'), init: track.out('init') };
    const ticket = await runStage(earlyBirdTicket, { model: BN_NET.name, density: 0.5, epsilon: 0.5 }, inputs);
    assert.equal(ticket.metrics.granularity, 'channels');
    assert.equal(ticket.metrics.channelsKept, 6);
    assert.equal(ticket.metrics.channelDensity, 0.5);
    const m = await readMask(ticket.out('mask'));
    assert.equal(countOnes(m['bn1.gamma']!.data) + countOnes(m['bn2.gamma']!.data), 6);
    // Exported in PyTorch's conventions: the scale and shift masks are BatchNorm's weight and bias masks.
    const torch = decodeSafetensors(toTorchFile(readFileSync(ticket.out('mask')), 'mask'), 'torch mask').tensors;
    assert.deepEqual(Object.keys(torch).sort(), ['bn1.bias_mask', 'bn1.weight_mask', 'bn2.bias_mask', 'bn2.weight_mask', 'conv1.weight_mask', 'conv2.weight_mask', 'fc1.weight_mask']);
    assert.deepEqual([...(torch['bn2.bias_mask']!.data as Float32Array)], [...m['bn2.beta']!.data]);
    const start = await readCheckpoint(ticket.out('start'));
    const re = await runStage(retrain, { ...cfg, optimizer: 'momentum', lr: 0.05, weightDecay: 1e-3 }, { start: ticket.out('start'), mask: ticket.out('mask'), files: [] });
    const final = await readCheckpoint(re.out('final'));
    assert.ok(final.iteration > start.iteration);
    for (const [bn, conv] of [['bn1', 'conv1'], ['bn2', 'conv2']] as const) {
      const keep = m[`${bn}.gamma`]!.data;
      const c = keep.length;
      const k = final.weights[`${conv}.kernel`]!.data;
      keep.forEach((kept, ch) => {
        if (kept) return;
        assert.ok(final.weights[`${bn}.gamma`]!.data[ch] === 0, `${bn}.gamma[${ch}]`);
        assert.ok(final.weights[`${bn}.beta`]!.data[ch] === 0, `${bn}.beta[${ch}]`);
        for (let i = ch; i < k.length; i += c) assert.ok(k[i] === 0, `${conv} filter ${ch}`);
      });
      assert.ok(keep.some((kept, ch) => kept && final.weights[`${bn}.gamma`]!.data[ch] !== start.weights[`${bn}.gamma`]!.data[ch]), 'the kept channels trained');
    }
    // The weights density counts kernels only (not the scale and shift entries of the mask): the
    // filters of the pruned channels, 3x3x1 in conv1 and 3x3x4 in conv2, of 36 + 288 + 32 weights.
    const zeroed = (4 - countOnes(m['bn1.gamma']!.data)) * 9 + (8 - countOnes(m['bn2.gamma']!.data)) * 36;
    assert.equal(re.metrics.density, (356 - zeroed) / 356);
    assert.equal(ticket.metrics.density, re.metrics.density, "the ticket reports the same weights density");
  });
});
