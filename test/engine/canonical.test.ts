// deepEqual walks both values instead of serialising them (src/engine/definition/canonical.ts):
// it must answer exactly `canonicalJson(a) === canonicalJson(b)`, and throw where that throws.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { canonicalJson, deepEqual } from '../../src/engine/definition/canonical.js';

function reference(a: unknown, b: unknown): boolean | 'throws' {
  try {
    return canonicalJson(a) === canonicalJson(b);
  } catch {
    return 'throws';
  }
}

function actual(a: unknown, b: unknown): boolean | 'throws' {
  try {
    return deepEqual(a, b);
  } catch {
    return 'throws';
  }
}

/** A small random value, often with undefined members, -0, holes and near-misses. */
function random(rand: () => number, depth = 0): unknown {
  const r = rand();
  if (depth > 2 || r < 0.45) {
    const leaves: unknown[] = [0, -0, 1, 1.5, '', 'a', '0', true, false, null, undefined, Infinity, NaN];
    return leaves[Math.floor(rand() * leaves.length)];
  }
  if (r < 0.7) {
    const n = Math.floor(rand() * 3);
    const arr: unknown[] = [];
    for (let i = 0; i < n; i++) arr.push(random(rand, depth + 1));
    if (rand() < 0.1) arr.length += 1; // a hole at the end
    return arr;
  }
  const obj: Record<string, unknown> = {};
  const keys = ['a', 'b', '0', '1'];
  for (const k of keys) if (rand() < 0.5) obj[k] = random(rand, depth + 1);
  return obj;
}

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

test('canonicalJson: the bytes keys are made of', () => {
  // Written as map and join before; these are what that wrote.
  assert.equal(canonicalJson({ b: [1, undefined, -0, 'x"'], a: { d: undefined, c: null } }), '{"a":{"c":null},"b":[1,null,0,"x\\""]}');
  assert.equal(canonicalJson([1, , 3]), '[1,,3]');
  assert.equal(canonicalJson([, ]), '[]');
  assert.equal(canonicalJson([, , ]), '[,]');
  assert.equal(canonicalJson({ 10: 1, 2: 2, a: [] }), '{"10":1,"2":2,"a":[]}');
  assert.equal(canonicalJson(undefined), 'null');
  assert.equal(canonicalJson({}), '{}');
  assert.throws(() => canonicalJson({ a: [Infinity] }), /non-finite/);
});

describe('deepEqual is canonicalJson equality', () => {
  const pairs: Array<[unknown, unknown]> = [
    [undefined, null],
    [null, undefined],
    [0, -0],
    [{ a: 1, b: undefined }, { a: 1 }],
    [{ a: 1 }, { a: 1, b: undefined }],
    [{ b: 2, a: 1 }, { a: 1, b: 2 }],
    [[undefined], [null]],
    [[1, , 3], [1, undefined, 3]],
    [[1, , 3], [1, , 3]],
    [{ 0: 'x' }, ['x']],
    [[], {}],
    [{ a: Infinity }, { a: Infinity }],
    [{ a: NaN }, { b: 1 }],
    [{ a: () => 1 }, { a: () => 1 }],
    [{ a: undefined, f: undefined }, {}],
    [1n, 1n],
    [Object.create({ a: 1 }), {}],
    [{ __proto__: null, a: 1 } as unknown, { a: 1 }],
    [new Date(0), {}],
  ];
  test('chosen pairs', () => {
    for (const [a, b] of pairs) assert.equal(actual(a, b), reference(a, b), `${canonicalJsonOr(a)} vs ${canonicalJsonOr(b)}`);
    const same = { a: [1, { b: Infinity }] };
    assert.equal(actual(same, same), 'throws');
  });

  test('random pairs, and each value with a copy of itself', () => {
    const rand = lcg(42);
    for (let i = 0; i < 20_000; i++) {
      const a = random(rand);
      const b = rand() < 0.5 ? random(rand) : structuredClone(a);
      assert.equal(actual(a, b), reference(a, b), `${canonicalJsonOr(a)} vs ${canonicalJsonOr(b)}`);
      assert.equal(actual(a, a), reference(a, a));
    }
  });
});

function canonicalJsonOr(v: unknown): string {
  try {
    return canonicalJson(v);
  } catch (e) {
    return `(${(e as Error).message})`;
  }
}
