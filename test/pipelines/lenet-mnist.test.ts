// Issue #4, test 6 (MNIST): the smoke profile of lenet-mnist-imp runs end to end on the shared
// MNIST files (../shared/data/mnist from the repo root), and a second run executes nothing.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { REPO } from '../helpers/project.js';
import { doneMetrics, PipelineRunner } from './cli.js';

const MNIST = join(REPO, '..', 'shared', 'data');

describe('pipelines/lenet-mnist-imp.ts (smoke)', { skip: !existsSync(join(MNIST, 'mnist')) && 'no ../shared/data/mnist' }, () => {
  const runner = new PipelineRunner();
  after(() => runner.remove());

  test('runs: winning tickets and random reinitialisation at 3 levels, a summary table', () => {
    const r = runner.run('lenet-mnist-imp.ts', ['--jobs', '2', '--set', `dataDir=${MNIST}`]);
    assert.equal(r.code, 0, r.out);
    assert.equal(r.executed.length, 18, r.executed.join(' '));
    for (const id of ['train-dense', 'L1/prune', 'L3/retrain', 'L3/retrain-reinit', 'mask-stats', 'summary']) assert.ok(r.executed.includes(id), id);
    const summary = doneMetrics(r.out, 'summary') as { finalDensity: number; ticketAcc: number; reinitAcc: number; denseAcc: number };
    assert.ok(Math.abs(summary.finalDensity - 0.0651) < 0.001, `final density ${summary.finalDensity}`);
    assert.ok(summary.denseAcc > 0.85, `dense accuracy ${summary.denseAcc}`);
    assert.ok(summary.ticketAcc > 0.85, `ticket accuracy ${summary.ticketAcc}`);
    const stats = doneMetrics(r.out, 'mask-stats') as { levels: number; finalDensity: number };
    assert.equal(stats.levels, 3);
    assert.equal(stats.finalDensity, summary.finalDensity);
  });

  test('a second run executes nothing', () => {
    const r = runner.run('lenet-mnist-imp.ts', ['--set', `dataDir=${MNIST}`]);
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(r.executed, []);
    assert.match(r.out, /0 ran, 18 from cache/);
  });
});
