// Issue #13, test 4 (ticket transfer): the smoke profile of pipelines/ticket-transfer.ts runs end to
// end on the real MNIST (../shared/data/mnist) and Fashion-MNIST (Debian's dataset-fashion-mnist)
// files through the CLI; a second run executes nothing; the tables and figures render from the cache.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { REPO } from '../helpers/project.js';
import { PipelineRunner } from './cli.js';

const MNIST = join(REPO, '..', 'shared', 'data', 'mnist');
const FASHION = '/usr/share/datasets/fashion-mnist';
const STAGES = 45;

describe('pipelines/ticket-transfer.ts (smoke)', { skip: (!existsSync(MNIST) || !existsSync(FASHION)) && 'no MNIST or Fashion-MNIST files' }, () => {
  const runner = new PipelineRunner();
  after(() => runner.remove());
  // One data folder with both datasets (as --data-dir expects: <dir>/mnist, <dir>/fashion-mnist).
  const data = join(runner.dir, 'data');
  mkdirSync(data);
  symlinkSync(MNIST, join(data, 'mnist'));
  symlinkSync(FASHION, join(data, 'fashion-mnist'));
  const args = ['--data-dir', data];

  test('runs: IMP on MNIST, Fashion-MNIST and with momentum; the tickets transferred across datasets and optimizers', () => {
    const r = runner.run('ticket-transfer.ts', ['--jobs', '2', ...args]);
    assert.equal(r.code, 0, r.out);
    assert.equal(r.executed.length, STAGES, r.executed.join(' '));
    const rows = runner.show('ticket-transfer.ts', args);
    const metrics = (id: string) => rows.find((x) => x.id === id)?.metrics as Record<string, unknown>;
    for (const l of [1, 2]) {
      const t = metrics(`fashion-mnist-to-mnist/L${l}/retrain-transferred`);
      assert.equal(t.startDataset, 'fashion-mnist');
      assert.equal(t.startOptimizer, 'adam');
      assert.equal(t.density, metrics(`mnist/L${l}/retrain`).density, 'the same per-layer rates: the same density');
      const o = metrics(`adam-to-momentum/L${l}/retrain-transferred`);
      assert.equal(o.startDataset, 'mnist');
      assert.equal(o.startOptimizer, 'adam');
      assert.equal(o.startIteration, 50);
      for (const id of [`mnist/L${l}/retrain`, `fashion-mnist-to-mnist/L${l}/retrain-transferred`, `adam-to-momentum/L${l}/retrain-transferred`, `momentum/L${l}/retrain`]) {
        const m = metrics(id);
        assert.ok((m.testAccuracy as number) > 0.7, `${id}: test accuracy ${m.testAccuracy}`);
        assert.equal(typeof m.testAccuracyAtEarlyStop, 'number', id);
      }
    }
  });

  test('a second run executes nothing', () => runner.assertSecondRunExecutesNothing('ticket-transfer.ts', args, STAGES));

  test('the tables and the figures render from the cache', () => {
    const tables = runner.tables('ticket-transfer.ts', args);
    for (const name of ['transfer-datasets', 'transfer-optimizers']) {
      const table = tables.get(name);
      assert.ok(table, `${name}: ${[...tables.keys()].join(", ")}`);
      assert.equal(table.rows.length, 3, 'dense and 2 levels');
      for (const row of table.rows.slice(1)) for (const k of ['remaining', 'target', 'transferred', 'reinit', 'random']) assert.equal(typeof row[k], 'number', `${name} ${k}: ${JSON.stringify(row)}`);
    }
    const md = runner.command('table', 'ticket-transfer.ts', args);
    assert.match(md.stdout, /Fashion-MNIST ticket, transferred: test acc/);
    assert.match(md.stdout, /Adam ticket, transferred: test acc/);
    const out = join(runner.dir, 'plots');
    const p = runner.command('plot', 'ticket-transfer.ts', [...args, '--out', out, '--format', 'svg,png']);
    assert.equal(p.code, 0, p.out);
    const files = readdirSync(out);
    for (const f of ['transfer-datasets-accuracy-vs-weights', 'transfer-optimizers-accuracy-vs-weights']) assert.ok(files.includes(`${f}.png`) && files.includes(`${f}.svg`), `${f}: ${files.join(' ')}`);
  });
});
