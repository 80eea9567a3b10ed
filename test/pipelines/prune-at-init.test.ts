// Issue #14, test 4 (pruning at initialisation): the smoke profile of prune-at-init runs end to
// end on the real MNIST (../shared/data/mnist), its table and figures render, and a second run
// executes nothing.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { REPO } from '../helpers/project.js';
import { doneMetrics, PipelineRunner } from './cli.js';

const DATA = join(REPO, '..', 'shared', 'data');
const STAGES = 57;

describe('pipelines/prune-at-init.ts (smoke)', { skip: !existsSync(join(DATA, 'mnist')) && 'no ../shared/data/mnist' }, () => {
  const runner = new PipelineRunner();
  after(() => runner.remove());
  const args = ['--data-dir', DATA];

  test('runs: five at-init methods and the IMP ticket at 20% and 4%, sanity checks at 4%', () => {
    const r = runner.run('prune-at-init.ts', ['--jobs', '2', ...args]);
    assert.equal(r.code, 0, r.out);
    assert.equal(r.executed.length, STAGES, r.executed.join(' '));
    for (const m of ['random', 'magnitude', 'snip', 'synflow', 'phew']) {
      for (const d of ['d20', 'd4']) {
        const prune = doneMetrics(r.out, `${d}/${m}/prune`);
        const want = d === 'd20' ? 0.2 : 0.04;
        // one-shot methods to the weight; PHEW's last walk may overshoot by at most 2 of 266,200 weights
        assert.ok(Math.abs((prune.density as number) - want) < 1e-5, `${d}/${m}: density ${prune.density}`);
        assert.ok(r.executed.includes(`${d}/${m}/retrain`), `${d}/${m}/retrain`);
      }
    }
    for (const m of ['magnitude', 'snip', 'synflow', 'phew']) {
      for (const v of ['shuffled', 'reinit']) assert.ok(r.executed.includes(`d4/${m}/${v}/retrain`), `d4/${m}/${v}`);
      assert.ok(!r.executed.includes(`d20/${m}/shuffled/retrain`));
      assert.ok((doneMetrics(r.out, `d4/${m}/shuffled/mask`).changed as number) > 0, `${m}: the shuffle moved weights`);
    }
    // the IMP ticket at 4% is a trained network, far above chance
    assert.ok((doneMetrics(r.out, 'imp/L2/retrain').testAccuracy as number) > 0.7);
    assert.ok((doneMetrics(r.out, 'd4/phew/retrain').testAccuracy as number) > 0.5);
  });

  test('a second run executes nothing', () => runner.assertSecondRunExecutesNothing('prune-at-init.ts', args, STAGES));

  test('the table and the figures render from the cache', () => {
    const tables = runner.tables('prune-at-init.ts', args);
    const main = tables.get('prune-at-init');
    assert.ok(main, [...tables.keys()].join(', '));
    assert.equal(main.rows.length, 3, 'dense, 20%, 4%');
    for (const k of ['imp', 'random', 'magnitude', 'snip', 'synflow', 'phew']) assert.equal(typeof main.rows[2]![k], 'number', `${k} at 4%: ${JSON.stringify(main.rows[2])}`);
    const sanity = tables.get('sanity-checks');
    assert.equal(sanity?.rows.length, 4, 'four methods at 4%');
    for (const row of sanity!.rows) for (const k of ['original', 'shuffled', 'reinit']) assert.equal(typeof row[k], 'number', JSON.stringify(row));
    const md = runner.command('table', 'prune-at-init.ts', args);
    assert.match(md.stdout, /PHEW: test acc/);
    const out = join(runner.dir, 'plots');
    const p = runner.command('plot', 'prune-at-init.ts', [...args, '--out', out, '--format', 'svg,png']);
    assert.equal(p.code, 0, p.out);
    const files = readdirSync(out).sort();
    for (const f of ['accuracy-vs-weights', 'sanity-magnitude', 'sanity-phew', 'sanity-snip', 'sanity-synflow']) {
      assert.ok(files.includes(`${f}.png`) && files.includes(`${f}.svg`), `${f}: ${files.join(' ')}`);
    }
  });
});
