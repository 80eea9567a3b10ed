// Seeded stateless data order, augmentation and batch contents; the synthetic dataset.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isPipelineError } from '../../../src/errors.js';
import { trainBatchIndices } from '../../../src/nn/train-data.js';
import {
  type ImageSet,
  augmentationDraw,
  batchIndices,
  loadDataset,
  makeBatch,
  sequentialBatches,
} from '../../../src/nn/data/index.js';

const n = 100;
const bs = 10;

function epoch(seed: number, e: number): number[] {
  const out: number[] = [];
  for (let i = e * (n / bs); i < (e + 1) * (n / bs); i++) out.push(...batchIndices(seed, i, bs, n));
  return out;
}

test('each epoch of batches is a permutation of the examples, fresh per epoch', () => {
  const e0 = epoch(7, 0);
  const e1 = epoch(7, 1);
  const all = Array.from({ length: n }, (_, i) => i);
  assert.deepEqual([...e0].sort((a, b) => a - b), all);
  assert.deepEqual([...e1].sort((a, b) => a - b), all);
  assert.notDeepEqual(e0, e1);
  assert.notDeepEqual(e0, all); // shuffled
});

test('the order is identical for the same seed and different for another', () => {
  assert.deepEqual(epoch(7, 0), epoch(7, 0));
  assert.notDeepEqual(epoch(7, 0), epoch(8, 0));
});

test('resumable: batch k computed directly equals the k-th in sequence', () => {
  const seq: number[][] = [];
  for (let i = 0; i < 35; i++) seq.push([...batchIndices(3, i, bs, n)]);
  for (const k of [34, 0, 17, 9, 10, 25]) assert.deepEqual([...batchIndices(3, k, bs, n)], seq[k]);
  // with a partial last batch (n = 95): 9 batches per epoch, each batch distinct indices
  const b = [...batchIndices(3, 8, bs, 95)];
  assert.equal(new Set(b).size, bs);
});

test('the dataset order matches what the trainer uses', async () => {
  const ds = await loadDataset('synthetic', { synthetic: { trainSize: 64 } });
  for (const i of [0, 5, 13]) assert.deepEqual(Array.from(trainBatchIndices(ds, 11, i, 8)), [...batchIndices(11, i, 8, 64)]);
});

test('bad batch arguments are PARAM_INVALID', () => {
  assert.throws(() => batchIndices(1, 0, 0, 10), (e: unknown) => isPipelineError(e, 'PARAM_INVALID'));
  assert.throws(() => batchIndices(1, 0, 11, 10), (e: unknown) => isPipelineError(e, 'PARAM_INVALID'));
  assert.throws(() => batchIndices(1, -1, 2, 10), (e: unknown) => isPipelineError(e, 'PARAM_INVALID'));
});

/** One 4x4 RGB image with distinct pixel values v = 1 + 3*(r*4+c) + ch. */
const tiny: ImageSet = {
  n: 1,
  shape: [4, 4, 3],
  images: Uint8Array.from({ length: 48 }, (_, i) => 1 + i),
  labels: Uint8Array.from([2]),
};
const ident = { mean: [0, 0, 0], std: [1, 1, 1] };

test('makeBatch normalises per channel into NHWC float32 and int32 labels', () => {
  const b = makeBatch(tiny, [0, 0], { mean: [1, 2, 3], std: [2, 4, 8] });
  assert.equal(b.x.length, 96);
  assert.deepEqual([...b.y], [2, 2]);
  assert.deepEqual([...b.x.subarray(0, 3)], [0, 0, 0]); // (1-1)/2, (2-2)/4, (3-3)/8
  assert.deepEqual([...b.x.subarray(3, 6)], [1.5, 0.75, 0.375]); // (4-1)/2, (5-2)/4, (6-3)/8
  assert.throws(() => makeBatch(tiny, [1], ident), (e: unknown) => isPipelineError(e, 'PARAM_INVALID'));
});

test('augmentation: pad + crop + flip as drawn, deterministic per seed and position', () => {
  const aug = { pad: 1, flip: true };
  // find seeds with a known draw, then check the pixels against a direct computation
  for (let seed = 0; seed < 40; seed++) {
    const { dy, dx, flip } = augmentationDraw(seed, 0, aug);
    assert.ok(dy >= 0 && dy <= 2 && dx >= 0 && dx <= 2);
    const b = makeBatch(tiny, [0], ident, { augmentSeed: seed, augmentation: aug });
    for (let r = 0; r < 4; r++) {
      for (let c = 0; c < 4; c++) {
        const cc = flip ? 3 - c : c;
        const sr = r + dy - 1;
        const sc = cc + dx - 1;
        const inside = sr >= 0 && sr < 4 && sc >= 0 && sc < 4;
        for (let ch = 0; ch < 3; ch++) {
          assert.equal(b.x[(r * 4 + c) * 3 + ch], inside ? tiny.images[(sr * 4 + sc) * 3 + ch] : 0);
        }
      }
    }
  }
  const draws = (seed: number) => Array.from({ length: 32 }, (_, p) => augmentationDraw(seed, p, { pad: 4, flip: true }));
  assert.deepEqual(draws(5), draws(5));
  assert.notDeepEqual(draws(5), draws(6));
  // all 81 offsets and both flips occur
  const seen = new Set<string>();
  for (let p = 0; p < 4000; p++) {
    const d = augmentationDraw(9, p, { pad: 4, flip: true });
    seen.add(`${d.dy},${d.dx},${d.flip}`);
  }
  assert.equal(seen.size, 162);
});

test('dataset batches: augmentation only with an augmentSeed, identical for the same seed', async () => {
  const ds = await loadDataset('synthetic', { augment: true, synthetic: { shape: [6, 6, 3], trainSize: 32 } });
  const idx = [0, 1, 2, 3, 4, 5, 6, 7];
  const a = ds.batch('train', idx, { augmentSeed: 123 });
  assert.deepEqual(a, ds.batch('train', idx, { augmentSeed: 123 }));
  assert.notDeepEqual(a.x, ds.batch('train', idx, { augmentSeed: 124 }).x);
  assert.notDeepEqual(a.x, ds.batch('train', idx).x);
  const plain = await loadDataset('synthetic', { synthetic: { shape: [6, 6, 3], trainSize: 32 } });
  assert.deepEqual(plain.batch('train', idx, { augmentSeed: 123 }), plain.batch('train', idx));
});

test('synthetic: seeded, the requested sizes, and learnable (nearest class mean beats chance by far)', async () => {
  const a = await loadDataset('synthetic', { synthetic: { seed: 1, numClasses: 5 } });
  const b = await loadDataset('synthetic', { synthetic: { seed: 1, numClasses: 5 } });
  const c = await loadDataset('synthetic', { synthetic: { seed: 2, numClasses: 5 } });
  assert.deepEqual(a.splits.train.images, b.splits.train.images);
  assert.notDeepEqual(a.splits.train.images, c.splits.train.images);
  assert.deepEqual([a.size('train'), a.size('validation'), a.size('test')], [512, 128, 128]);
  assert.equal(a.numClasses, 5);
  const dim = 64;
  const { x, y } = a.batch('train', [...sequentialBatches(512, 512)][0]!);
  const means = new Float64Array(5 * dim);
  const counts = new Float64Array(5);
  for (let i = 0; i < 512; i++) {
    counts[y[i]!]!++;
    for (let p = 0; p < dim; p++) means[y[i]! * dim + p]! += x[i * dim + p]!;
  }
  for (let k = 0; k < 5; k++) for (let p = 0; p < dim; p++) means[k * dim + p]! /= counts[k]!;
  const t = a.batch('test', [...sequentialBatches(128, 128)][0]!);
  let right = 0;
  for (let i = 0; i < 128; i++) {
    let best = 0;
    let bestD = Infinity;
    for (let k = 0; k < 5; k++) {
      let d = 0;
      for (let p = 0; p < dim; p++) d += (t.x[i * dim + p]! - means[k * dim + p]!) ** 2;
      if (d < bestD) [best, bestD] = [k, d];
    }
    if (best === t.y[i]) right++;
  }
  assert.ok(right / 128 > 0.9, `accuracy ${right / 128}`);
});

test('subsets: first N after a seeded shuffle, per split', async () => {
  const a = await loadDataset('synthetic', { subset: { train: 50, test: 10 } });
  assert.equal(a.size('train'), 50);
  assert.equal(a.size('test'), 10);
  assert.equal(a.size('validation'), 128);
  const b = await loadDataset('synthetic', { subset: { train: 50 }, splitSeed: 1 });
  assert.notDeepEqual(a.splits.train.images, b.splits.train.images);
});
