// Output names are plain file names (issue #11): one taken from a param (`--set w.name=../x`) is
// refused while the pipeline is built, exit 2, before anything runs; nothing is written outside
// the project, the cache and the lock file stay as they were.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { API, TestProject } from '../helpers/project.js';

const pipeline = `import { defineStage, definePipeline, z } from ${JSON.stringify(API)};
const writer = defineStage({
  name: 'writer',
  params: z.object({ name: z.string().default('report.txt') }),
  outputs: (p) => [p.name],
  isolation: 'inline',
  async run(ctx) { await ctx.writeText(ctx.params.name, 'written'); },
});
export default definePipeline({ name: 'names' }, (p) => {
  p.stage(writer, {}, { id: 'w' });
});
`;

function cacheFiles(project: TestProject): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (!dir.includes('/meta')) out.push(join(dir, e.name));
    }
  };
  walk(project.path('cache'));
  return out.sort();
}

describe('output names are plain file names', () => {
  const project = new TestProject({ 'pipeline.ts': pipeline });
  let lock = '';
  let files: string[] = [];
  before(() => {
    const r = project.cli(['run', 'pipeline.ts']);
    assert.equal(r.code, 0, r.stderr);
    lock = project.read('dvc-like.lock');
    files = cacheFiles(project);
  });
  after(() => project.remove());

  for (const bad of ['../../../victim.txt', 'sub/report.txt', '..', 'a\\b']) {
    test(`--set w.name=${bad} is refused at plan time (exit 2), nothing runs or changes`, () => {
      for (const command of ['run', 'status']) {
        const r = project.cli([command, 'pipeline.ts', '--set', `w.name=${bad}`]);
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, /stage 'w' \(writer\): output name .* (contains a path separator|is not a file name), made from its params/);
        assert.match(r.stderr, /pipeline\.ts:\d+/, 'names the line that adds the stage');
        assert.match(r.stderr, /plain name/, 'says what to do');
      }
      assert.equal(existsSync(join(dirname(dirname(dirname(project.dir))), 'victim.txt')), false);
      assert.equal(existsSync(join(dirname(project.dir), 'victim.txt')), false);
      assert.equal(project.read('dvc-like.lock'), lock);
      assert.deepEqual(cacheFiles(project), files);
    });
  }

  test('a declared output name with a path separator is refused where the stage is defined (exit 2)', () => {
    project.write('declared.ts', pipeline.replace('outputs: (p) => [p.name],', "outputs: ['../escape'],").replace("name: 'names'", "name: 'declared'"));
    const r = project.cli(['run', 'declared.ts', '--no-typecheck']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /declared\.ts:\d+: stage 'writer': output name "\.\.\/escape" contains a path separator/);
    assert.equal(project.read('dvc-like.lock'), lock);
  });

  test('a plain name from a param works', () => {
    const r = project.cli(['run', 'pipeline.ts', '--set', 'w.name=other.txt']);
    assert.equal(r.code, 0, r.stderr);
  });
});
