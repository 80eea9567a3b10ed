// The algorithmic dataset `modular-addition` (Power et al.): every pair once, each op's labels, the
// seeded split a pure function of its params, and the loader's view of it (token ids, test = validation).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isPipelineError } from '../../../src/errors.js';
import { loadDataset, modInverse, modularLabel, modularSplits, type ModularOp } from '../../../src/nn/data/index.js';
import type { ImageSet } from '../../../src/nn/data/index.js';

/** The (a, b, c) triples of a split, in its order. */
function triples(s: ImageSet): Array<[number, number, number]> {
  return Array.from({ length: s.n }, (_, k) => [s.images[2 * k]!, s.images[2 * k + 1]!, s.labels[k]!]);
}

test('p = 5: every pair exactly once across train and test, with the right label for each op', () => {
  // Tables written out by hand for p = 5 (inverses mod 5: 1->1, 2->3, 3->2, 4->4).
  const expected: Record<ModularOp, (a: number, b: number) => number> = {
    '+': (a, b) => [[0, 1, 2, 3, 4], [1, 2, 3, 4, 0], [2, 3, 4, 0, 1], [3, 4, 0, 1, 2], [4, 0, 1, 2, 3]][a]![b]!,
    '-': (a, b) => [[0, 4, 3, 2, 1], [1, 0, 4, 3, 2], [2, 1, 0, 4, 3], [3, 2, 1, 0, 4], [4, 3, 2, 1, 0]][a]![b]!,
    '*': (a, b) => [[0, 0, 0, 0, 0], [0, 1, 2, 3, 4], [0, 2, 4, 1, 3], [0, 3, 1, 4, 2], [0, 4, 3, 2, 1]][a]![b]!,
    '/': (a, b) => [[0, 0, 0, 0], [1, 3, 2, 4], [2, 1, 4, 3], [3, 4, 1, 2], [4, 2, 3, 1]][a]![b - 1]!,
  };
  for (const op of ['+', '-', '*', '/'] as const) {
    const s = modularSplits({ p: 5, op, trainFraction: 0.4, seed: 1 });
    const all = [...triples(s.train), ...triples(s.test)];
    const pairs = op === '/' ? 20 : 25;
    assert.equal(all.length, pairs, op);
    assert.equal(s.train.n, Math.floor(0.4 * pairs), op);
    assert.equal(new Set(all.map(([a, b]) => `${a},${b}`)).size, pairs, `${op}: a pair repeated`);
    for (const [a, b, c] of all) {
      assert.ok(a >= 0 && a < 5 && b >= (op === '/' ? 1 : 0) && b < 5, `${op}: operands ${a}, ${b}`);
      assert.equal(c, expected[op](a, b), `${a} ${op} ${b} mod 5`);
    }
    assert.deepEqual(s.validation, s.test, 'the curves are on the test pairs');
    assert.deepEqual(s.train.shape, [1, 2, 1]);
  }
});

test('division is multiplication by the inverse: b * (a / b) = a mod p, for a prime p', () => {
  for (let b = 1; b < 97; b++) assert.equal((b * modInverse(b, 97)) % 97, 1);
  for (let a = 0; a < 97; a += 7) for (let b = 1; b < 97; b += 5) assert.equal((b * modularLabel(a, b, '/', 97)) % 97, a);
});

test('the split is a pure function of (seed, p, op, trainFraction)', () => {
  const a = modularSplits({ p: 11, op: '+', trainFraction: 0.5, seed: 3 });
  assert.deepEqual(modularSplits({ p: 11, op: '+', trainFraction: 0.5, seed: 3 }), a);
  const b = modularSplits({ p: 11, op: '+', trainFraction: 0.5, seed: 4 });
  assert.notDeepEqual(triples(b.train), triples(a.train));
  assert.equal(b.train.n, a.train.n);
  // Same seed, a larger fraction: the same shuffle, cut later.
  const c = modularSplits({ p: 11, op: '+', trainFraction: 0.7, seed: 3 });
  assert.deepEqual(triples(c.train).slice(0, a.train.n), triples(a.train));
});

test('the loader knows it by name, with its params; bad params are refused', async () => {
  const ds = await loadDataset('modular-addition', { modular: { p: 7, op: '*', trainFraction: 0.3, seed: 2 } });
  assert.equal(ds.numClasses, 7);
  assert.deepEqual(ds.inputShape, [1, 2, 1]);
  assert.equal(ds.size('train'), Math.floor(0.3 * 49));
  assert.equal(ds.size('test') + ds.size('train'), 49);
  assert.equal(ds.size('validation'), ds.size('test'));
  // Token ids reach the network as they are (no normalisation).
  const batch = ds.batch('train', [0, 1]);
  const want = modularSplits({ p: 7, op: '*', trainFraction: 0.3, seed: 2 }).train;
  assert.deepEqual(Array.from(batch.x), Array.from(want.images.subarray(0, 4)));
  assert.deepEqual(Array.from(batch.y), Array.from(want.labels.subarray(0, 2)));
  const bad = async (modular: object, re: RegExp) =>
    assert.rejects(loadDataset('modular-addition', { modular }), (e) => isPipelineError(e) && e.code === 'PARAM_INVALID' && re.test(e.message));
  await bad({ p: 8, op: '/' }, /division needs a prime p/);
  await bad({ p: 300 }, /p 300 must be an integer in 2\.\.256/);
  await bad({ op: '^' }, /op "\^" is not one of/);
  await bad({ trainFraction: 1 }, /trainFraction 1 must be in \(0, 1\)/);
  await bad({ p: 2, trainFraction: 0.1 }, /leaves an empty split/);
});
