// parseRunRecord checks a well-formed record without zod (src/store/run-cache.ts,
// wellFormedRecord): it must accept exactly what runRecordSchema accepts, return the same object
// (members, order, copies), and leave every problem to the schema, worded as before.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkRunRecord, parseRunRecord } from '../../src/store/run-cache.js';

const KEY = 'a'.repeat(64);
const D1 = 'b'.repeat(64);
const D2 = 'c'.repeat(64);

const good = {
  key: KEY,
  stage: 'train',
  id: 's1/train',
  codeFingerprint: 'f'.repeat(64),
  params: { lr: 0.1, layers: [300, 100], opt: { name: 'sgd', momentum: null }, on: true },
  inputs: { data: D1, list: [D1, D2], none: [] },
  outputs: { model: { digest: D2, size: 12 }, metrics: { size: 0, digest: D1 } },
  metrics: { acc: 0.98, curve: [1, 2, 3], note: 'x' },
  startedAt: '2026-11-28T11:00:00.000Z',
  durationMs: 12.5,
  host: 'h',
  provenance: { backend: 'wasm', versions: { node: '20' } },
};

/** What each path makes of the text: the parsed result as JSON text (member order included). */
function both(text: string, key = KEY): { fast: string; schema: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  return { fast: JSON.stringify(parseRunRecord(text, key)), schema: value === undefined ? '' : JSON.stringify(checkRunRecord(value, key)) };
}

/** Both paths make the same of the text. */
function agree(text: string, message?: string): void {
  const { fast, schema } = both(text);
  assert.equal(fast, schema, message);
}

function mutated(f: (r: Record<string, unknown>) => void, from: object = good): string {
  const r = structuredClone(from) as unknown as Record<string, unknown>;
  f(r);
  return JSON.stringify(r);
}

describe('run records: the fast check agrees with the schema', () => {
  test('a good record: the same object, members in the schema order, unknown members dropped', () => {
    const text = JSON.stringify({ extra: 1, ...good, more: { a: 1 } });
    const { fast, schema } = both(text);
    assert.equal(fast, schema);
    assert.ok(fast.includes('"record"'));
    const parsed = parseRunRecord(text, KEY);
    assert.ok('record' in parsed);
    assert.deepEqual(Object.keys(parsed.record), Object.keys(good));
    // Output entries are copies with digest, size in that order.
    assert.deepEqual(Object.keys(parsed.record.outputs.metrics!), ['digest', 'size']);
  });

  test('a record of another key', () => {
    const { fast, schema } = both(JSON.stringify(good), D1);
    assert.equal(fast, schema);
    assert.match(fast, /is the record of key/);
  });

  const cases: Array<[string, (r: Record<string, unknown>) => void]> = [
    ['no key', (r) => delete r.key],
    ['a key that is not hex', (r) => (r.key = '../x')],
    ['an upper-case digest', (r) => (r.inputs = { data: D1.toUpperCase() })],
    ['a digest in a list that is not one', (r) => (r.inputs = { data: [D1, 'x'] })],
    ['an input that is a number', (r) => (r.inputs = { data: 1 })],
    ['an output without size', (r) => (r.outputs = { m: { digest: D1 } })],
    ['a negative size', (r) => (r.outputs = { m: { digest: D1, size: -1 } })],
    ['a fractional size', (r) => (r.outputs = { m: { digest: D1, size: 1.5 } })],
    ['a huge size', (r) => (r.outputs = { m: { digest: D1, size: 2 ** 60 } })],
    ['an output that is an array', (r) => (r.outputs = { m: [D1, 1] })],
    ['outputs that are an array', (r) => (r.outputs = [])],
    ['params that are an array', (r) => (r.params = [1])],
    ['params that are null', (r) => (r.params = null)],
    ['metrics that are a string', (r) => (r.metrics = 'x')],
    ['no provenance', (r) => delete r.provenance],
    ['a duration that is a string', (r) => (r.durationMs = '1')],
    ['a host that is null', (r) => (r.host = null)],
    ['a stage that is a number', (r) => (r.stage = 1)],
    ['empty records', (r) => ((r.params = {}), (r.inputs = {}), (r.outputs = {}), (r.metrics = {}), (r.provenance = {}))],
    ['numeric member names', (r) => (r.params = { 2: 'b', 1: 'a', x: 0 })],
  ];
  for (const [name, f] of cases) {
    test(name, () => agree(mutated(f)));
  }

  test('__proto__ and constructor members, written as JSON text', () => {
    const base = JSON.stringify(good);
    for (const text of [
      base.replace('"params":{', '"params":{"__proto__":{"polluted":1},'),
      base.replace('"metrics":{', '"metrics":{"constructor":{"x":1},'),
      base.replace('"outputs":{', '"outputs":{"__proto__":{"digest":"' + D1 + '","size":1},'),
      base.replace('{"key"', '{"__proto__":{"key":"' + D1 + '"},"key"'),
    ]) {
      agree(text, text);
    }
  });

  // A record as RunCache.put writes it (members in the schema order, output entries of digest and
  // size in that order) is returned as parsed, not copied: the same answers either way.
  const written = { ...good, outputs: { model: { digest: D2, size: 12 }, metrics: { digest: D1, size: 0 } } };
  test('a record as written', () => {
    const text = JSON.stringify(written);
    const { fast, schema } = both(text);
    assert.equal(fast, schema);
    const parsed = parseRunRecord(text, KEY);
    assert.ok('record' in parsed);
    assert.deepEqual(parsed.record, written);
    assert.deepEqual(Object.keys(parsed.record), Object.keys(good));
    assert.equal(JSON.stringify(parsed.record), text);
  });
  const writtenCases: Array<[string, (r: Record<string, unknown>) => void]> = [
    ...cases,
    ['an output entry with another member', (r) => ((r.outputs as Record<string, Record<string, unknown>>).model!.extra = 1)],
    ['an output entry with size first', (r) => (r.outputs = { m: { size: 1, digest: D1 } })],
    ['members in another order', (r) => {
      const { key, ...rest } = r;
      for (const k of Object.keys(r)) delete r[k];
      Object.assign(r, rest, { key });
    }],
    ['an unknown member', (r) => (r.extra = 1)],
    ['an input list', (r) => (r.inputs = { list: [D1, D2, D1] })],
  ];
  for (const [name, f] of writtenCases) {
    test(`as written: ${name}`, () => agree(mutated(f, written)));
  }
  test('as written: __proto__ and constructor members', () => {
    const base = JSON.stringify(written);
    for (const text of [
      base.replace('"params":{', '"params":{"__proto__":{"polluted":1},'),
      base.replace('"inputs":{', '"inputs":{"__proto__":"' + D1 + '",'),
      base.replace('"metrics":{"acc"', '"metrics":{"constructor":{"x":1},"acc"'),
      base.replace('"provenance":{', '"provenance":{"__proto__":{"x":1},'),
      base.replace('"outputs":{', '"outputs":{"__proto__":{"digest":"' + D1 + '","size":1},'),
      base.replace('{"digest":"' + D2 + '"', '{"__proto__":1,"digest":"' + D2 + '"'),
      base.replace('{"key"', '{"__proto__":{"key":"' + D1 + '"},"key"'),
    ]) {
      assert.notEqual(text, base);
      agree(text, text);
    }
  });

  test('text that is not an object', () => {
    for (const text of ['[]', 'null', '1', '"x"', '{']) {
      const { fast, schema } = both(text);
      if (text !== '{') assert.equal(fast, schema, text);
      else assert.match(fast, /not JSON/);
    }
  });
});
