// The read-only views: dag (text and Mermaid), show, status --json; and the safety net for a
// changed param default (defaults are not part of the key).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestProject } from '../helpers/project.js';
import { TOY_HELPERS, toyPipeline } from '../helpers/toy-pipeline.js';

describe('views of a pipeline', () => {
  const project = new TestProject({ 'pipeline.ts': toyPipeline(), 'helpers.ts': TOY_HELPERS });
  before(() => assert.equal(project.cli(['run', 'pipeline.ts']).code, 0));
  after(() => project.remove());

  test('dag prints a tree, a stage with two parents once in full', () => {
    const r = project.cli(['dag', 'pipeline.ts']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      ['toy (5 stages)', '└─ a', '   ├─ b', '   │  └─ c', '   │     └─ e', '   └─ d', '      └─ e ↑', ''].join('\n'),
    );
  });

  test('dag --mermaid prints a flowchart with one edge per input', () => {
    const r = project.cli(['dag', 'pipeline.ts', '--mermaid']);
    assert.match(r.stdout, /^flowchart TD\n/);
    assert.equal((r.stdout.match(/-->/g) ?? []).length, 5);
  });

  test('show --json has state, key, duration and metrics of every instance', () => {
    const rows = JSON.parse(project.cli(['show', 'pipeline.ts', '--json']).stdout) as Array<Record<string, unknown>>;
    assert.deepEqual(rows.map((r) => r.id), ['a', 'b', 'c', 'd', 'e']);
    for (const r of rows) {
      assert.equal(r.state, 'up-to-date');
      assert.match(String(r.key), /^[0-9a-f]{64}$/);
      assert.equal(typeof r.durationMs, 'number');
    }
    assert.deepEqual(rows.find((r) => r.id === 'c')?.metrics, { z: 68, mode: 'fast' });
  });

  test('run --dry-run says what would run and runs nothing', () => {
    project.clearExecutions();
    const r = project.cli(['run', 'pipeline.ts', '--dry-run', '--set', 'seed=5']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /would run\s+a\n\s+param 'seed' changed: 1 -> 5/);
    assert.match(r.stdout, /5 would run/);
    assert.deepEqual(project.executions(), []);
  });

  test('changing a param default reruns the stages that used it, although defaults are not in the key', () => {
    project.write('pipeline.ts', project.read('pipeline.ts').replace('add: z.number().default(1)', 'add: z.number().default(4)'));
    const status = project.cli(['status', 'pipeline.ts']);
    assert.match(status.stdout, /stale\s+b\n\s+the default of param 'add' changed: 1 -> 4/);
    project.clearExecutions();
    assert.equal(project.cli(['run', 'pipeline.ts']).code, 0);
    assert.deepEqual(project.executions().sort(), ['b', 'c', 'e']);
  });
});
