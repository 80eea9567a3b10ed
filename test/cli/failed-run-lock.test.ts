// A failed run never leaves lock-file params that disagree with its stage entries (issue #11):
// with changed params, the section holds the new params and only the entries this run produced
// or confirmed under them, so `status` calls what did not finish stale (or restorable from the
// run cache), never up to date.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { TestProject } from '../helpers/project.js';
import { TOY_HELPERS, toyPipeline } from '../helpers/toy-pipeline.js';

interface Section {
  params: Record<string, unknown>;
  stages: Record<string, { key: string; params: Record<string, unknown> }>;
}
interface StatusJson {
  counts: Record<string, number>;
  paramChanges: string[];
  stages: Array<{ id: string; state: string; key: string | null }>;
}

describe('a failed run and the lock file', () => {
  // Stage c fails (as on corrupt data) while TOY_FAIL_C is set.
  const source = toyPipeline().replace("const v = shape(", "if (process.env.TOY_FAIL_C) throw new Error('corrupt input');\n    const v = shape(");
  const project = new TestProject({ 'pipeline.ts': source, 'helpers.ts': TOY_HELPERS });
  const section = (): Section => (parse(project.read('dvc-like.lock')) as { pipelines: Record<string, Section> }).pipelines.toy!;
  const status = (...args: string[]): StatusJson => {
    const r = project.cli(['status', 'pipeline.ts', '--json', ...args]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as StatusJson;
  };
  const states = (s: StatusJson): Record<string, string> => Object.fromEntries(s.stages.map((x) => [x.id, x.state]));
  let before_: Section;

  before(() => {
    assert.equal(project.cli(['run', 'pipeline.ts']).code, 0);
    before_ = section();
  });
  after(() => project.remove());

  test('with changed params: the new params, and only the entries made under them; status says what must run', () => {
    const r = project.cli(['run', 'pipeline.ts', '--set', 'scale=4'], { TOY_FAIL_C: '1' });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /corrupt input/);
    const after_ = section();
    assert.deepEqual(after_.params, { seed: 1, scale: 4 });
    // a, b and d do not depend on scale: confirmed under the new params. c failed, e never ran.
    assert.deepEqual(Object.keys(after_.stages).sort(), ['a', 'b', 'd']);
    for (const id of ['a', 'b', 'd']) assert.equal(after_.stages[id]!.key, before_.stages[id]!.key);

    const changed = status('--set', 'scale=4');
    assert.deepEqual(states(changed), { a: 'up-to-date', b: 'up-to-date', c: 'stale', d: 'up-to-date', e: 'stale' });
    assert.deepEqual(changed.paramChanges, []);

    // Back at the lock's previous params, c and e are restored from the run cache, not "up to date".
    const previous = status();
    assert.deepEqual(states(previous), { a: 'up-to-date', b: 'up-to-date', c: 'cached', d: 'up-to-date', e: 'cached' });
    assert.deepEqual(previous.paramChanges, ["pipeline param 'scale' changed: 4 -> 2"]);
  });

  test('the next successful run completes the section', () => {
    project.clearExecutions();
    const r = project.cli(['run', 'pipeline.ts', '--set', 'scale=4']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(project.executions().sort(), ['c', 'e']);
    assert.deepEqual(Object.keys(section().stages).sort(), ['a', 'b', 'c', 'd', 'e']);
    assert.deepEqual(states(status('--set', 'scale=4')), { a: 'up-to-date', b: 'up-to-date', c: 'up-to-date', d: 'up-to-date', e: 'up-to-date' });
  });

  test('with the same params, a failed run keeps the entries it did not replace (they were made under those params)', () => {
    const lock = project.read('dvc-like.lock');
    const r = project.cli(['run', 'pipeline.ts', '--set', 'scale=4', '--force', 'c'], { TOY_FAIL_C: '1' });
    assert.equal(r.code, 1, r.stderr);
    assert.equal(project.read('dvc-like.lock'), lock);
    assert.equal(states(status('--set', 'scale=4')).c, 'up-to-date');
  });
});
