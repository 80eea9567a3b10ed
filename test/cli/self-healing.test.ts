// Issue #23, point 1: an object in the local cache that does not hash to its name is treated as
// missing. A run that reads it quarantines it, says so once, recomputes the stage that made it and
// goes on (exit 0); `get` quarantines it and says which stage to rerun; a stage computed again
// replaces a corrupt copy of its output.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { TestProject } from '../helpers/project.js';
import { TOY_HELPERS, toyPipeline } from '../helpers/toy-pipeline.js';

function outputDigest(project: TestProject, stageId: string, output: string): string {
  const lock = project.read('dvc-like.lock');
  const section = lock.slice(lock.indexOf(`\n      ${stageId}:\n`));
  const m = new RegExp(`\\n {10}${output}:\\n {12}digest: ([0-9a-f]{64})`).exec(section);
  assert.ok(m, `output ${output} of ${stageId} in the lock file`);
  return m[1]!;
}

describe('a corrupt object in the local cache', () => {
  const project = new TestProject({ 'pipeline.ts': toyPipeline(), 'helpers.ts': TOY_HELPERS });
  let lockBefore: string;
  before(() => {
    assert.equal(project.cli(['run', 'pipeline.ts']).code, 0);
    lockBefore = project.read('dvc-like.lock');
  });
  after(() => project.remove());

  test('read by a stage that runs: quarantined, said once, its producer recomputed, the run goes on (exit 0)', () => {
    const x = outputDigest(project, 'a', 'x');
    project.flipByte(x);
    project.clearExecutions();
    // b and d both read a's x: b is forced; d stays cached (its key did not change).
    const r = project.cli(['run', 'pipeline.ts', '--force', 'b']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr.match(/is corrupt/g)?.length, 1, `said once:\n${r.stderr}`);
    assert.match(r.stderr, new RegExp(`a: object ${x.slice(0, 12)} \\(output 'x'\\) is corrupt \\(its bytes hash to [0-9a-f]{12}\\); it is now in .*quarantine; recomputing 'a'`));
    assert.deepEqual(project.executions().sort(), ['a', 'b']);
    assert.match(r.stderr, /\(5\/5\)\n(?!.*\(6\/5\))/s, 'each stage counted once');
    assert.equal(readdirSync(project.path('cache/quarantine')).length, 1);
    assert.equal(project.read('dvc-like.lock'), lockBefore, 'the same results');
    assert.match(project.cli(['verify']).stdout, /all intact/);
  });

  test('found by `get`: quarantined, the error names the stage and the command to rerun; `run` heals it', () => {
    const total = outputDigest(project, 'e', 'total');
    project.flipByte(total);
    const r = project.cli(['get', 'pipeline.ts', 'e', '-o', 'total.txt']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`object ${total.slice(0, 12)} \\(output 'total' of stage 'e'\\) was corrupt .* now in quarantine\\n\\s+rerun the stage that made it: pipeline run pipeline.ts`));
    assert.equal(project.exists('total.txt'), false);
    assert.match(project.cli(['status', 'pipeline.ts']).stdout, /e\b.*\n?.*its results are not in this cache/);
    project.clearExecutions();
    assert.equal(project.cli(['run', 'pipeline.ts']).code, 0);
    assert.deepEqual(project.executions(), ['e']);
    assert.equal(project.cli(['get', 'pipeline.ts', 'e', '-o', 'total.txt']).code, 0);
    assert.equal(project.read('total.txt'), '58');
  });

  test('a stage computed again replaces a corrupt copy of its output', () => {
    const w = outputDigest(project, 'd', 'w');
    project.flipByte(w);
    project.clearExecutions();
    assert.equal(project.cli(['run', 'pipeline.ts', '--force', 'd']).code, 0);
    assert.deepEqual(project.executions(), ['d']);
    assert.match(project.cli(['verify']).stdout, /all intact/);
    assert.equal(project.read('dvc-like.lock'), lockBefore);
  });
});
