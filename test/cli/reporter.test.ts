// The run's progress in a log (not a terminal): every finished stage says how many of the
// pipeline's are over, and a training stage's progress line has an ETA from its rate so far.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createReporter, etaOf } from '../../src/cli/reporter.js';

test('etaOf extrapolates the rate so far, and says nothing before there is enough to go on', () => {
  assert.equal(etaOf(0, { fraction: 0.25 }, 10_000), ' eta 30.0s');
  assert.equal(etaOf(0, { fraction: 0.5 }, 120_000), ' eta 2m00s');
  assert.equal(etaOf(0, { fraction: 0.01 }, 10_000), '', 'under 2% done');
  assert.equal(etaOf(0, { fraction: 0.5 }, 1000), '', 'under 2 s in');
  assert.equal(etaOf(0, {}, 10_000), '', 'no fraction');
});

test('log lines count the stages that are over, out of the pipeline\'s', async () => {
  let out = '';
  const stream = { isTTY: false, write: (s: string) => ((out += s), true) } as unknown as NodeJS.WriteStream;
  const r = await createReporter(stream, { total: 3 });
  r.start?.('a', { key: 'k' });
  r.done?.('a', { outcome: 'ran', durationMs: 1200, key: 'k', metrics: { acc: 0.5 } });
  r.done?.('b', { outcome: 'cached', durationMs: 0, key: 'k2', metrics: {} });
  r.skipped?.('c', 'input from a is not available');
  r.close();
  assert.match(out, /\[done\] +a 1\.2s acc=0\.5 \(1\/3\)\n/);
  assert.match(out, /\[cached\] b \(2\/3\)\n/);
  assert.match(out, /\[skip\] +c: input from a is not available \(3\/3\)\n/);
});
