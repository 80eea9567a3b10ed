import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isPipelineError } from '../../src/errors.js';
import { emptyLock, parseLock, serializeLock } from '../../src/store/index.js';

describe('lock file', () => {
  const doc = emptyLock();
  doc.pipelines.b = { file: 'b.ts', params: { n: 1 }, stages: {} };
  doc.pipelines.a = {
    file: 'a.ts',
    params: {},
    stages: { s: { stage: 's', key: 'a'.repeat(64), code: 'c', params: { rate: 0.2 }, inputs: { x: 'd1'.repeat(32), xs: ['d2'.repeat(32), 'd3'.repeat(32)] }, outputs: { out: { digest: 'd4'.repeat(32), size: 3 } }, metrics: { acc: 0.9 } } },
  };

  test('round-trips, with pipelines in name order', () => {
    const text = serializeLock(doc);
    assert.ok(text.indexOf('  a:') < text.indexOf('  b:'));
    assert.deepEqual(parseLock(text, 'x.lock'), { ...doc, pipelines: { a: doc.pipelines.a, b: doc.pipelines.b } });
    assert.equal(serializeLock(parseLock(text, 'x.lock')), text);
  });

  test('a schema violation names the file, the line and the field', () => {
    const text = serializeLock(doc).replace('size: 3', 'size: three');
    assert.throws(
      () => parseLock(text, 'x.lock'),
      (e) => isPipelineError(e, 'LOCK_MALFORMED') && /^x\.lock:\d+$/.test(e.where ?? '') && /outputs\.out\.size/.test(e.message),
    );
  });

  test('an empty file is an empty lock', () => {
    assert.deepEqual(parseLock('', 'x.lock'), emptyLock());
  });
});
