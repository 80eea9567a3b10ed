// Issue #2, "what it must show" 1-3: changing a param reruns exactly that stage and its
// descendants; editing a helper reruns its callers; A -> B -> A restores from the run cache.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestProject } from '../helpers/project.js';
import { TOY_HELPERS, toyPipeline } from '../helpers/toy-pipeline.js';

const sorted = (xs: string[]) => [...xs].sort();

describe('incremental runs of a 5-stage pipeline', () => {
  let project: TestProject;
  before(() => {
    project = new TestProject({ 'pipeline.ts': toyPipeline(), 'helpers.ts': TOY_HELPERS });
  });
  after(() => project.remove());

  test('first run executes every stage once; the results are right', () => {
    const r = project.cli(['run', 'pipeline.ts']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(sorted(project.executions()), ['a', 'b', 'c', 'd', 'e']);
    // a: x=10; b: y=11; c: (11*3+1)*2=68; d: -10; e: 58
    const show = JSON.parse(project.cli(['show', 'pipeline.ts', '--json']).stdout) as Array<{ id: string; metrics: { total?: number } }>;
    assert.equal(show.find((s) => s.id === 'e')?.metrics.total, 58);
  });

  test('running again executes nothing and leaves the lock file as it was', () => {
    const lockBefore = project.read('dvc-like.lock');
    project.clearExecutions();
    const r = project.cli(['run', 'pipeline.ts']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(project.executions(), []);
    assert.equal(project.read('dvc-like.lock'), lockBefore);
    assert.match(project.cli(['status', 'pipeline.ts']).stdout, /all 5 stages up to date/);
  });

  test('changing one param reruns that stage and its descendants only, and status says why', () => {
    const status = project.cli(['status', 'pipeline.ts', '--set', 'scale=3']);
    assert.match(status.stdout, /stale\s+c\n\s+param 'scale' changed: 2 -> 3/);
    assert.match(status.stdout, /stale\s+e\n\s+input 'z' comes from 'c', which must run first/);
    assert.doesNotMatch(status.stdout, /stale\s+[abd]\n/);
    project.clearExecutions();
    const r = project.cli(['run', 'pipeline.ts', '--set', 'scale=3']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(sorted(project.executions()), ['c', 'e']);
  });

  test('a stage param set from the command line is parsed with its schema type', () => {
    project.clearExecutions();
    const r = project.cli(['run', 'pipeline.ts', '--set', 'scale=3', '--set', 'b.add=5']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(sorted(project.executions()), ['b', 'c', 'e']);
  });

  test('switching a param A -> B -> A restores A from the run cache without executing', () => {
    project.clearExecutions();
    assert.equal(project.cli(['run', 'pipeline.ts', '--set', 'scale=2']).code, 0);
    assert.deepEqual(sorted(project.executions()), [], 'scale=2 with b.add=1 was computed in the first run');
    assert.equal(project.cli(['run', 'pipeline.ts', '--set', 'scale=7']).code, 0);
    assert.deepEqual(sorted(project.executions()), ['c', 'e']);
    project.clearExecutions();
    const back = project.cli(['run', 'pipeline.ts', '--set', 'scale=2']);
    assert.equal(back.code, 0, back.stderr);
    assert.deepEqual(project.executions(), []);
    assert.match(back.stderr, /0 ran, 5 from cache/);
  });

  test('--force executes the named stage even though it is cached; unchanged outputs keep descendants cached', () => {
    project.clearExecutions();
    const r = project.cli(['run', 'pipeline.ts', '--force', 'd']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(project.executions(), ['d']);
  });
});

describe('code fingerprints', () => {
  let project: TestProject;
  before(() => {
    project = new TestProject({ 'pipeline.ts': toyPipeline(), 'helpers.ts': TOY_HELPERS });
    assert.equal(project.cli(['run', 'pipeline.ts']).code, 0);
  });
  after(() => project.remove());

  test('a comment- or whitespace-only edit of a helper reruns nothing', () => {
    project.write('helpers.ts', TOY_HELPERS.replace('// helpers used by stage c', '/* a different comment */').replace('return x * 3 + 1;', 'return   x*3 +1; // same code'));
    project.clearExecutions();
    const r = project.cli(['run', 'pipeline.ts']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(project.executions(), []);
  });

  test('editing a helper that a stage does not call reruns nothing', () => {
    project.write('helpers.ts', TOY_HELPERS.replace('return x - 1;', 'return x - 2;'));
    project.clearExecutions();
    assert.equal(project.cli(['run', 'pipeline.ts']).code, 0);
    assert.deepEqual(project.executions(), []);
  });

  test('editing the helper called by c reruns c and its descendants only, and status names the code change', () => {
    project.write('helpers.ts', TOY_HELPERS.replace('return x * 3 + 1;', 'return x * 3 + 2;'));
    assert.match(project.cli(['status', 'pipeline.ts']).stdout, /stale\s+c\n\s+the code of 'c' changed/);
    project.clearExecutions();
    const r = project.cli(['run', 'pipeline.ts']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(sorted(project.executions()), ['c', 'e']);
  });

  test('editing a stage\'s own run function reruns it and its descendants', () => {
    project.write('pipeline.ts', project.read('pipeline.ts').replace("String(-(await readNum(ctx.input('x'))))", "String(-2 * (await readNum(ctx.input('x'))))"));
    project.clearExecutions();
    assert.equal(project.cli(['run', 'pipeline.ts']).code, 0);
    assert.deepEqual(sorted(project.executions()), ['d', 'e']);
  });
});
