// The read-only views: dag (text and Mermaid), show, status --json; and the safety net for a
// changed param default (defaults are not part of the key).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestProject } from '../helpers/project.js';
import { fixturePipeline } from '../report/fixture.js';
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

  test('show prints one table per stage kind (its scalar metrics, no stage column); --all one wide table', () => {
    const r = project.cli(['show', 'pipeline.ts']);
    assert.equal(r.code, 0, r.stderr);
    const titles = r.stdout.split('\n').filter((l) => /^[\w-]+ \(\d+\)$/.test(l));
    assert.ok(titles.length >= 2, r.stdout);
    assert.ok(r.stdout.split('\n').filter((l) => l.startsWith('id ')).every((l) => !/\bstage\b/.test(l)), 'no stage column');
    const all = project.cli(['show', 'pipeline.ts', '--all']);
    assert.equal(all.stdout.split('\n').filter((l) => l.startsWith('id ')).length, 1);
    assert.match(all.stdout, /^id +stage +state/);
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

// Issue #10, test 6: --json on every command gives one JSON document on stdout.
describe('--json on every command', () => {
  const project = new TestProject({ 'pipeline.ts': toyPipeline(), 'helpers.ts': TOY_HELPERS, 'fixture.ts': fixturePipeline() });
  after(() => project.remove());
  const json = (args: string[], env: Record<string, string> = {}): unknown => {
    const r = project.cli(args, env);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    try {
      return JSON.parse(r.stdout) as unknown;
    } catch {
      throw new Error(`${args.join(' ')}: stdout is not one JSON document:\n${r.stdout}`);
    }
  };

  test('run, status, dag, show, table, plot, report, diff, gc, verify and setup', () => {
    const run = json(['run', 'pipeline.ts', '--json']) as { ran: string[]; cached: string[] };
    assert.deepEqual(run.ran.sort(), ['a', 'b', 'c', 'd', 'e']);
    assert.deepEqual((json(['run', 'pipeline.ts', '--json']) as { cached: string[] }).cached.length, 5);
    const status = json(['status', 'pipeline.ts', '--set', 'seed=7', '--json']) as { paramChanges: string[]; counts: Record<string, number> };
    assert.deepEqual(status.paramChanges, ["pipeline param 'seed' changed: 1 -> 7"]);
    assert.equal(status.counts.stale, 5);
    assert.equal((json(['run', 'pipeline.ts', '--dry-run', '--json']) as { dryRun: boolean }).dryRun, true);
    assert.equal((json(['dag', 'pipeline.ts', '--json']) as { edges: unknown[] }).edges.length, 5);
    assert.equal((json(['show', 'pipeline.ts', '--json']) as unknown[]).length, 5);
    json(['run', 'fixture.ts', '--json']);
    assert.ok(Array.isArray(json(['table', 'fixture.ts', '--json'])));
    assert.ok((json(['plot', 'fixture.ts', '--json', '--format', 'vl']) as { files: string[] }).files.length > 0);
    assert.match((json(['report', 'fixture.ts', '--json']) as { file: string }).file, /report\.html$/);
    assert.equal((json(['gc', '--dry-run', '--json']) as { dryRun: boolean }).dryRun, true);
    assert.deepEqual((json(['verify', '--json']) as { corrupt: unknown[] }).corrupt, []);
    const native = mkdtempSync(join(tmpdir(), 'lth-native-none-'));
    try {
      assert.equal((json(['setup', 'native', '--remove', '--json'], { LTH_NATIVE_DIR: join(native, 'absent') }) as { removed: boolean }).removed, false);
    } finally {
      rmSync(native, { recursive: true, force: true });
    }
  });
});
