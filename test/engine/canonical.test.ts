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

/** canonicalJson as it was written before its JSON.stringify fast path: the bytes it must keep. */
function slowCanonical(value: unknown, inObject = false): string | undefined {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`cannot hash the non-finite number ${value}`);
      return Object.is(value, -0) ? '0' : String(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'undefined':
      return inObject ? undefined : 'null';
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ',';
          const v: unknown = value[i];
          if (v !== undefined || i in value) out += slowCanonical(v);
        }
        return `${out}]`;
      }
      let out = '{';
      for (const k of Object.keys(value).sort()) {
        const v = slowCanonical((value as Record<string, unknown>)[k], true);
        if (v === undefined) continue;
        if (out.length > 1) out += ',';
        out += `${JSON.stringify(k)}:${v}`;
      }
      return `${out}}`;
    }
    default:
      throw new TypeError(`cannot hash a ${typeof value}`);
  }
}

function bytesOr(f: () => string | undefined): string {
  try {
    return f() ?? 'null';
  } catch (e) {
    return `throws ${(e as Error).message}`;
  }
}

describe('canonicalJson: the JSON.stringify fast path writes the same bytes', () => {
  test('chosen values', () => {
    const withHiddenToJson = { a: 1 };
    Object.defineProperty(withHiddenToJson, 'toJSON', { value: () => 'x', enumerable: false });
    const arrayLike = Object.create(Array.prototype) as Record<string, unknown>;
    arrayLike.b = 1;
    arrayLike.a = 2;
    const values: unknown[] = [
      { a: 1, b: [1, 2, { c: 'x', d: null }] },
      { b: 1, a: 2 },
      { 2: 'b', 10: 'a' },
      { 1: 'a', 2: 'b', a: 'c' },
      { a: -0, b: [-0] },
      { a: undefined, b: 1 },
      [1, undefined, 2],
      [1, , 2],
      { a: NaN },
      [Infinity],
      { '': 1, ' ': 2, 'é': 3, '\u2028': 4, 'a"b': 5 },
      ['\ud800', 'a\nb', '\u0000'],
      withHiddenToJson,
      { toJSON: 'not a function' },
      { toJSON: () => 1 },
      new Date(0),
      { d: new Date(0) },
      Object.assign(Object.create(null), { a: 1 }),
      arrayLike,
      new Number(3),
      new String('s'),
      { a: () => 1 },
      { a: 1n },
      Symbol('s'),
      { __proto__: { inherited: 1 }, own: 2 },
      JSON.parse('{"__proto__":{"x":1},"a":1}'),
      [[[[{ z: 1, y: 2 }]]]],
      { format: 1, inputs: { data: 'a'.repeat(64), list: ['b'.repeat(64)] }, params: { lr: 0.1, w: [8, 16] } },
    ];
    for (const v of values) assert.equal(bytesOr(() => canonicalJson(v)), bytesOr(() => slowCanonical(v)), String(bytesOr(() => slowCanonical(v))));
  });

  test('random values', () => {
    const rand = lcg(7);
    for (let i = 0; i < 20_000; i++) {
      const v = random(rand);
      assert.equal(bytesOr(() => canonicalJson(v)), bytesOr(() => slowCanonical(v)));
    }
  });

  test('stage keys: the parts written one by one make the same key', async () => {
    const { stageKey, CACHE_FORMAT_VERSION } = await import('../../src/engine/host/key.js');
    const { digestOfSync } = await import('../../src/store/index.js');
    const parts: Array<{ stage: string; code: string; params: Record<string, unknown>; inputs: Record<string, string | string[]> }> = [
      { stage: 'train', code: 'c'.repeat(64), params: { width: 8, lr: 0.1 }, inputs: { data: 'a'.repeat(64) } },
      { stage: 'agg', code: 'x', params: {}, inputs: { scores: ['a'.repeat(64), 'b'.repeat(64)], none: [] } },
      { stage: 's"q', code: '', params: { a: undefined, b: [1, , -0] }, inputs: {} },
      { stage: 'u', code: 'c', params: undefined as unknown as Record<string, unknown>, inputs: {} },
    ];
    for (const p of parts) assert.equal(stageKey(p), digestOfSync(slowCanonical({ format: CACHE_FORMAT_VERSION, ...p })!));
    assert.throws(() => stageKey({ stage: 'x', code: 'c', params: { lr: Infinity }, inputs: {} }), /non-finite/);
  });
});
