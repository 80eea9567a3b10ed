// Issue #23, point 3: a pipeline file that does not exist is a user error that lists the pipeline
// files of its folder, nearest name first.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, describe, test } from 'node:test';
import { isPipelineError } from '../../src/errors.js';
import { checkPipelineFile, editDistance, nearestFirst } from '../../src/engine/host/pipeline-file.js';

describe('a pipeline file named on the command line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lth-pipeline-file-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  for (const name of ['lenet-mnist-imp.ts', 'conv-cifar-imp.ts', 'early-bird.ts']) writeFileSync(join(dir, name), 'export default definePipeline({ name: "x" }, () => {});\n');
  writeFileSync(join(dir, 'helpers.ts'), 'export const x = 1;\n');

  test('edit distance, and names ordered nearest first (ties alphabetically)', () => {
    assert.equal(editDistance('lenet-mnst-imp.ts', 'lenet-mnist-imp.ts'), 1);
    assert.equal(editDistance('', 'abc'), 3);
    assert.equal(editDistance('kitten', 'sitting'), 3);
    assert.deepEqual(nearestFirst('b.ts', ['c.ts', 'abc.ts', 'a.ts']), ['a.ts', 'c.ts', 'abc.ts']);
  });

  test('an existing file: its absolute path', async () => {
    assert.equal(await checkPipelineFile(join(dir, 'early-bird.ts')), join(dir, 'early-bird.ts'));
  });

  test('a typo: PIPELINE_LOAD (exit 2), the folder pipeline files nearest first, not its other modules', async () => {
    await assert.rejects(checkPipelineFile(join(dir, 'lenet-mnst-imp.ts')), (e) => {
      assert.ok(isPipelineError(e, 'PIPELINE_LOAD') && e.isUserError);
      assert.equal(e.message, `no pipeline file ${join(dir, 'lenet-mnst-imp.ts')}`);
      assert.equal(e.hint, `pipeline files in ${relative(process.cwd(), dir)}: lenet-mnist-imp.ts, conv-cifar-imp.ts, early-bird.ts`);
      return true;
    });
  });

  test('a folder that does not exist, or a folder itself, is said plainly', async () => {
    await assert.rejects(checkPipelineFile(join(dir, 'nope', 'p.ts')), (e) => isPipelineError(e, 'PIPELINE_LOAD') && /^there is no folder /.test(e.hint ?? ''));
    await assert.rejects(checkPipelineFile(dir), (e) => isPipelineError(e, 'PIPELINE_LOAD'));
  });
});
