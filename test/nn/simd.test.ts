// The SIMD module's thread pool (src/nn/kernels/simd/threads.ts), on a shared memory of our own
// (no TensorFlow.js; test/nn/fixtures/simd-threads.ts): work is split without changing any result,
// and a kernel that traps on a worker thread is an error on the calling thread, not a hang.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { splitRange } from '../../src/nn/kernels/simd/threads.js';

test('splitRange: contiguous, aligned pieces that cover the range, none empty', () => {
  for (const [total, parts, align] of [
    [10, 3, 1],
    [10, 4, 4],
    [3, 8, 1],
    [64, 2, 4],
    [9, 2, 4],
    [1, 1, 1],
  ] as const) {
    const r = splitRange(total, parts, align);
    assert.ok(r.length >= 1 && r.length <= parts, `${total}/${parts}: ${r.length} pieces`);
    assert.equal(r[0]![0], 0);
    assert.equal(r.at(-1)![1], total);
    r.forEach(([b, e], i) => {
      assert.ok(e > b, 'not empty');
      assert.equal(b % align, 0, 'aligned');
      if (i > 0) assert.equal(b, r[i - 1]![1], 'contiguous');
    });
  }
  assert.deepEqual(splitRange(64, 2, 4), [
    [0, 32],
    [32, 64],
  ]);
});

test('kernels on 2 threads give bitwise the results of 1; a trap on a worker throws and the pool goes on', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/nn/fixtures/simd-threads.ts'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.signal, null, `the fixture did not finish (killed by ${r.signal})`);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'ok');
});
