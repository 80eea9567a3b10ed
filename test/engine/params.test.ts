import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { isPipelineError } from '../../src/errors.js';
import { canonicalJson } from '../../src/engine/definition/canonical.js';
import { stageKey } from '../../src/engine/host/key.js';
import { parseSetValue, schemaAt, validateParams } from '../../src/engine/definition/params.js';

const schema = z.object({
  rate: z.number().min(0).max(1).default(0.2),
  scope: z.enum(['global', 'layerwise']).default('layerwise'),
  levels: z.number().int(),
  skip: z.array(z.string()).default([]),
  name: z.string().optional(),
});

describe('params', () => {
  test('defaults are filled in for run and left out of the key', () => {
    const v = validateParams(schema, { levels: 3, rate: 0.2 }, 'prune', undefined);
    assert.deepEqual(v.effective, { rate: 0.2, scope: 'layerwise', levels: 3, skip: [] });
    assert.deepEqual(v.keyed, { levels: 3 });
  });

  test('adding a param with a default does not change the key of old instances', () => {
    const before = validateParams(schema, { levels: 3 }, 'p', undefined).keyed;
    const extended = schema.extend({ momentum: z.number().default(0.9) });
    const after = validateParams(extended, { levels: 3 }, 'p', undefined).keyed;
    const key = (params: Record<string, unknown>) => stageKey({ stage: 'prune', code: 'c', params, inputs: {} });
    assert.equal(key(before), key(after));
    assert.notEqual(key(before), key(validateParams(extended, { levels: 3, momentum: 0.5 }, 'p', undefined).keyed));
  });

  test('unknown and ill-typed params are PARAM_INVALID errors naming the param', () => {
    assert.throws(() => validateParams(schema, { levels: 3, rat: 1 }, 'prune', 'p.ts:3'), (e) => isPipelineError(e, 'PARAM_INVALID') && /unknown param 'rat'/.test(e.message) && e.where === 'p.ts:3' && /known params: rate, scope/.test(e.hint ?? ''));
    assert.throws(() => validateParams(schema, { levels: 1.5 }, 'prune', undefined), (e) => isPipelineError(e, 'PARAM_INVALID') && /levels:/.test(e.message));
  });

  test('--set values are parsed by the type the schema asks for', () => {
    assert.equal(parseSetValue('0.1', { schema: schemaAt(schema, ['rate']) }), 0.1);
    assert.equal(parseSetValue('0.1', { schema: schemaAt(schema, ['name']) }), '0.1');
    assert.equal(parseSetValue('global', { schema: schemaAt(schema, ['scope']) }), 'global');
    assert.deepEqual(parseSetValue('[fc1, fc2]', { schema: schemaAt(schema, ['skip']) }), ['fc1', 'fc2']);
    assert.equal(parseSetValue('true', { example: false }), true);
    assert.equal(parseSetValue('abc', { example: 1 }), 'abc', 'left as text so that validation reports the type');
  });

  test('canonical JSON ignores key order and -0', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [1, -0], c: undefined } }), '{"a":{"d":[1,0]},"b":1}');
    assert.throws(() => canonicalJson({ x: Number.NaN }));
  });
});
