// Issue #13, test 4 (Early-Bird): the smoke profile of pipelines/early-bird.ts runs end to end on
// the shared MNIST files through the real CLI; its table and figures render; a second run executes
// nothing; `--set epsilon=...` reruns only the stages after the mask tracking (the EB tickets and
// their retraining), never the dense runs, the tracking or IMP.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { REPO } from '../helpers/project.js';
import { PipelineRunner } from './cli.js';

const DATA = join(REPO, '..', 'shared', 'data');
const ARGS = ['--data-dir', DATA];

/** The metrics of the pipeline's results, by stage id (`pipeline show --json`). */
function metricsOf(runner: PipelineRunner, args: string[] = []): (id: string) => Record<string, unknown> {
  const rows = runner.show('early-bird.ts', [...ARGS, ...args]);
  return (id) => {
    const row = rows.find((x) => x.id === id);
    assert.ok(row?.metrics, `no metrics for ${id}`);
    return row.metrics;
  };
}

describe('pipelines/early-bird.ts (smoke)', { skip: !existsSync(join(DATA, 'mnist')) && 'no ../shared/data/mnist' }, () => {
  const runner = new PipelineRunner();
  after(() => runner.remove());

  test('runs: the tracking stops before the dense budget; EB tickets at 50%, 25%, 12.5% retrained beside IMP', () => {
    const r = runner.run('early-bird.ts', ['--jobs', '2', ...ARGS]);
    assert.equal(r.code, 0, r.out);
    assert.equal(r.executed.length, 17, r.executed.join(' '));
    const m = metricsOf(runner);
    const track = m('lenet/early-bird-track');
    assert.equal(track.stoppedEarly, true);
    assert.ok(Number(track.stoppedAt) < 500, `tracking stopped at ${track.stoppedAt}`);
    for (const [l, density] of [[1, 0.5], [2, 0.25], [3, 0.125]] as const) {
      const ticket = m(`lenet/EB${l}/ticket`);
      const retrain = m(`lenet/EB${l}/retrain`);
      const imp = m(`lenet/L${l}/retrain`);
      assert.ok(Number(ticket.earlyBirdIteration) <= Number(track.stoppedAt));
      assert.equal(ticket.density, density);
      assert.equal(retrain.density, imp.density, 'EB and IMP tickets of the same density');
      assert.equal(retrain.startIteration, ticket.earlyBirdIteration, 'retraining resumes at the EB iteration');
      assert.ok(Number(retrain.testAccuracy) > 0.85, `EB${l} accuracy ${retrain.testAccuracy}`);
    }
  });

  test('the table and the figures render from the cache', () => {
    const t = runner.command('table', 'early-bird.ts', ARGS);
    assert.equal(t.code, 0, t.out);
    assert.match(t.stdout, /Early-Bird tickets vs IMP tickets of the same density/);
    const rows = t.stdout.split('\n').filter((l) => /^\| (100\.0|50\.0|25\.0|12\.5) \|/.test(l));
    assert.equal(rows.length, 4, t.stdout);
    assert.doesNotMatch(rows.slice(1).join('\n'), /\| - \|/, 'every EB and IMP cell has a value');
    const dir = join(runner.dir, 'plots');
    const p = runner.command('plot', 'early-bird.ts', [...ARGS, '-o', dir]);
    assert.equal(p.code, 0, p.out);
    for (const name of ['mask-distance-lenet', 'accuracy-vs-weights']) {
      assert.ok(statSync(join(dir, `${name}.png`)).size > 1000, name);
      assert.match(readFileSync(join(dir, `${name}.svg`), 'utf8'), /<svg/);
    }
  });

  test('a second run executes nothing', () => runner.assertSecondRunExecutesNothing('early-bird.ts', ARGS, 17));

  test('--set epsilon reruns only the EB tickets (and the retraining of those whose ticket changed)', () => {
    const r = runner.run('early-bird.ts', ['--set', 'epsilon=0.2', ...ARGS]);
    assert.equal(r.code, 0, r.out);
    for (const l of [1, 2, 3]) assert.ok(r.executed.includes(`lenet/EB${l}/ticket`), r.executed.join(' '));
    for (const id of r.executed) assert.match(id, /^lenet\/EB\d\/(ticket|retrain)$/);
    const m = metricsOf(runner, ['--set', 'epsilon=0.2']);
    for (const l of [1, 2, 3]) assert.equal(m(`lenet/EB${l}/ticket`).epsilon, 0.2);
  });
});
