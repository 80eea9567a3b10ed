// Issue #14, test 4 (strong tickets): the smoke profile of pipelines/strong-tickets.ts runs end to
// end on the real MNIST files through the CLI; the subnetworks of untrained networks are far above
// chance and better for the wider network; a second run executes nothing; the table and the
// figure render from the cache.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { REPO } from '../helpers/project.js';
import { doneMetrics, PipelineRunner } from './cli.js';

const DATA = join(REPO, '..', 'shared', 'data');
const args = ['--data-dir', DATA];
// 2 widths x (1 dense + 3 k x {edge-popup, multi-prize})
const STAGES = 14;

describe('pipelines/strong-tickets.ts (smoke)', { skip: !existsSync(join(DATA, 'mnist')) && 'no ../shared/data/mnist' }, () => {
  const runner = new PipelineRunner();
  after(() => runner.remove());

  test('runs: edge-popup and multi-prize at k = 30/50/70% on two widths, and the dense networks', () => {
    const r = runner.run('strong-tickets.ts', ['--jobs', '2', ...args]);
    assert.equal(r.code, 0, r.out);
    assert.equal(r.executed.length, STAGES, r.executed.join(' '));
    for (const w of ['w30_10', 'w300_100']) {
      assert.ok((doneMetrics(r.out, `${w}/train-dense`).testAccuracy as number) > 0.8, `${w} dense`);
      for (const k of [30, 50, 70]) {
        for (const m of ['edge-popup', 'multi-prize']) {
          const got = doneMetrics(r.out, `${w}/k${k}/${m}`);
          assert.equal(got.density, k / 100, `${w}/k${k}/${m}: density ${got.density}`);
          assert.ok((got.testAccuracy as number) > 0.3, `${w}/k${k}/${m}: ${got.testAccuracy} (chance 0.1)`);
        }
      }
    }
    // the wider random network holds the better subnetwork (Ramanujan et al. 2020, Fig. 2)
    const acc = (id: string) => doneMetrics(r.out, id).testAccuracy as number;
    assert.ok(acc('w300_100/k50/edge-popup') > 0.75, `${acc('w300_100/k50/edge-popup')}`);
    assert.ok(acc('w300_100/k50/edge-popup') > acc('w30_10/k50/edge-popup'));
  });

  test('a second run executes nothing', () => runner.assertSecondRunExecutesNothing('strong-tickets.ts', args, STAGES));

  test('the table and the figure render from the cache', () => {
    const tables = runner.tables('strong-tickets.ts', args);
    const main = tables.get('strong-tickets');
    assert.ok(main, [...tables.keys()].join(', '));
    assert.equal(main.rows.length, 2, 'one row per width');
    assert.deepEqual(main.rows.map((r) => r.weights), [784 * 30 + 30 * 10 + 10 * 10, 784 * 300 + 300 * 100 + 100 * 10]);
    for (const row of main.rows) {
      for (const k of ['dense', 'Edge-popup.0.3', 'Edge-popup.0.7', 'Multi-prize (binary).0.5']) assert.equal(typeof row[k], 'number', `${k}: ${JSON.stringify(row)}`);
    }
    const md = runner.command('table', 'strong-tickets.ts', args);
    assert.match(md.stdout, /Multi-prize \(binary\), k = 70%: test acc/);
    const out = join(runner.dir, 'plots');
    const p = runner.command('plot', 'strong-tickets.ts', [...args, '--out', out, '--format', 'svg,png']);
    assert.equal(p.code, 0, p.out);
    const files = readdirSync(out);
    assert.ok(files.includes('accuracy-vs-width.png') && files.includes('accuracy-vs-width.svg'), files.join(' '));
  });
});
