// Issue #24, test 4 (grokking tickets): the smoke profile of grokking-tickets runs end to end on
// the real code (the MLP on a + b mod 23, data generated in-process: no files), the ticket
// generalizes sooner than the dense network and than the ticket of the memorization phase, its
// table and figures render from the cache, a second run executes nothing, and changing the
// pruning level makes stale exactly what follows the pruning.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { PipelineRunner } from './cli.js';

const STAGES = 27;

describe('pipelines/grokking-tickets.ts (smoke)', () => {
  const runner = new PipelineRunner();
  after(() => runner.remove());

  test('runs: the dense network, three tickets and five controls, with the grokking measures', () => {
    const r = runner.run('grokking-tickets.ts', ['--jobs', '2']);
    assert.equal(r.code, 0, r.out);
    assert.equal(r.executed.length, STAGES, r.executed.join(' '));
    // Every metric (the [done] lines print the first few only).
    const rows = new Map(runner.show('grokking-tickets.ts').map((row) => [row.id, (row.metrics ?? {}) as Record<string, number | null>]));
    const metrics = (id: string) => rows.get(id) ?? assert.fail(`no stage ${id}`);
    const dense = metrics('train-dense');
    assert.equal(typeof dense.iterationsToMemorize, 'number', 'the dense network memorizes');
    assert.equal(typeof dense.iterationsToGeneralize, 'number', 'the dense network groks within the smoke budget');
    assert.ok((dense.iterationsToMemorize as number) < (dense.iterationsToGeneralize as number), 'memorization comes first');
    const phase = (id: string) => metrics(`${id}/phase`);
    assert.equal(phase('ticket').iteration, dense.iterationsToGeneralize);
    assert.equal(phase('ticket-memorization').iteration, dense.iterationsToMemorize);
    for (const id of ['ticket', 'ticket-transition', 'ticket-memorization', 'random', 'snip', 'synflow']) {
      assert.ok(Math.abs((metrics(`${id}/prune`).density as number) - 0.6) < 1e-3, `${id}: density`);
    }
    // The papers' claim, on this seed: the ticket generalizes sooner than the dense network and the memorization ticket.
    const ticket = metrics('ticket/retrain').iterationsToGeneralize as number;
    assert.ok(ticket < (dense.iterationsToGeneralize as number), `ticket ${ticket} vs dense ${dense.iterationsToGeneralize}`);
    const memo = metrics('ticket-memorization/retrain').iterationsToGeneralize ?? null;
    assert.ok(memo === null || memo > ticket, `memorization ticket ${memo} vs ticket ${ticket}`);
    const norm = metrics('dense-norm-l2/start');
    assert.ok((norm.ratio as number) < 1 && (norm.ratio as number) > 0.5, `the ticket keeps most of the norm: ${norm.ratio}`);
  });

  test('a second run executes nothing', () => runner.assertSecondRunExecutesNothing('grokking-tickets.ts', [], STAGES));

  test('the table and the figures render from the cache', () => {
    const table = runner.tables('grokking-tickets.ts', []).get('grokking-tickets');
    assert.ok(table);
    assert.equal(table.rows.length, 9, 'dense, three tickets, five controls');
    assert.equal(table.rows[0]!.variant, 'Dense');
    assert.equal(typeof table.rows[1]!.generalize, 'number', JSON.stringify(table.rows[1]));
    const out = join(runner.dir, 'plots');
    const p = runner.command('plot', 'grokking-tickets.ts', ['--out', out, '--format', 'svg']);
    assert.equal(p.code, 0, p.out);
    assert.deepEqual(readdirSync(out).sort(), ['test-accuracy.svg', 'train-accuracy.svg']);
  });

  test('another pruning level: what follows the pruning is stale, the dense run and its phases are not', () => {
    const r = runner.command('status', 'grokking-tickets.ts', ['--set', 'density=0.4', '--json']);
    assert.equal(r.code, 0, r.out);
    const st = JSON.parse(r.stdout) as { stages: Array<{ id: string; state: string }> };
    const fresh = st.stages.filter((s) => s.state === 'up-to-date').map((s) => s.id).sort();
    assert.deepEqual(fresh, ['dense-mask', 'ticket-memorization/phase', 'ticket-transition/phase', 'ticket/phase', 'train-dense']);
    assert.equal(st.stages.length, STAGES);
  });
});
