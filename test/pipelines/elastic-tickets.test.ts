// Issue #24, tests 4 and 5 (elastic tickets): the smoke profile of elastic-tickets runs end to end
// on Fashion-MNIST (Debian's dataset-fashion-mnist) with two defineModel ResNets of 2 and 3 blocks
// per stage: IMP tickets of both, each stretched or squeezed into the other and retrained; the
// transformed tickets' densities are those of their blocks; the table and figures render from the
// cache, and a second run executes nothing.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { PipelineRunner } from './cli.js';

const FASHION = '/usr/share/datasets';
const STAGES = 34;
const [SHALLOW, DEEP] = ['fashion-resnet-2', 'fashion-resnet-3'];

describe('pipelines/elastic-tickets.ts (smoke)', { skip: !existsSync(join(FASHION, 'fashion-mnist')) && 'no /usr/share/datasets/fashion-mnist (Debian: dataset-fashion-mnist)' }, () => {
  const runner = new PipelineRunner();
  after(() => runner.remove());
  const args = ['--data-dir', FASHION];

  test('runs: IMP tickets of both depths, each transformed into the other and retrained', () => {
    const r = runner.run('elastic-tickets.ts', ['--jobs', '2', ...args]);
    assert.equal(r.code, 0, r.out);
    assert.equal(r.executed.length, STAGES, r.executed.join(' '));
    // Every metric, from each stage's metrics artifact (show's table has the scalar ones only).
    const rows = new Map(runner.show('elastic-tickets.ts', args).map((row) => [row.id, JSON.parse(readFileSync(row.outputs!.metrics!.path, 'utf8')) as Record<string, unknown>]));
    for (const level of [1, 2]) {
      const up = rows.get(`${SHALLOW}-to-${DEEP}/L${level}/change-depth`)!;
      assert.equal(up.mapping, '0:0;1:1,2', 'stretched: block 1 of each stage twice');
      const down = rows.get(`${DEEP}-to-${SHALLOW}/L${level}/change-depth`)!;
      assert.equal(down.mapping, '0:0;1:1', 'squeezed: block 2 of each stage dropped');
      // The ticket keeps its per-layer densities, so its overall density moves with the copied blocks' share.
      assert.equal(up.sourceDensity, rows.get(`${SHALLOW}/L${level}/retrain`)!.density);
      assert.ok(Math.abs((up.density as number) - (up.sourceDensity as number)) < 0.05, `${up.density} vs ${up.sourceDensity}`);
      for (const pair of [`${SHALLOW}-to-${DEEP}`, `${DEEP}-to-${SHALLOW}`]) {
        const acc = rows.get(`${pair}/L${level}/retrain`)!.testAccuracy as number;
        assert.ok(acc > 0.3, `${pair} L${level}: a trained network, far above chance (${acc})`);
      }
    }
  });

  test('a second run executes nothing', () => runner.assertSecondRunExecutesNothing('elastic-tickets.ts', args, STAGES));

  test('the table and the figures render from the cache', () => {
    const table = runner.tables('elastic-tickets.ts', args).get('elastic-tickets');
    assert.ok(table);
    assert.equal(table.rows.length, 4, 'two depths, two levels');
    for (const row of table.rows) {
      for (const k of ['ticket', 'random']) assert.equal(typeof row[k], 'number', JSON.stringify(row));
      const other = row.target === SHALLOW ? DEEP : SHALLOW;
      assert.equal(typeof row[`from:${other}`], 'number', JSON.stringify(row));
    }
    const out = join(runner.dir, 'plots');
    const p = runner.command('plot', 'elastic-tickets.ts', [...args, '--out', out, '--format', 'svg']);
    assert.equal(p.code, 0, p.out);
    assert.deepEqual(readdirSync(out).sort(), [`elastic-${SHALLOW}.svg`, `elastic-${DEEP}.svg`]);
  });
});
