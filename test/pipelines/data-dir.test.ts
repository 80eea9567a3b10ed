// Where data is found is not a param: a folder the user names with --data-dir (PIPELINE_DATA_DIR)
// must hold the dataset, else the run stops while the pipeline is built (exit 2, with the file and
// line and what to do), before anything runs or any cache is touched; `--set dataDir=` says where
// that setting went; data found nowhere is a note in `status`.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { PipelineRunner } from './cli.js';

describe('data folders', () => {
  const runner = new PipelineRunner();
  after(() => runner.remove());
  const empty = join(runner.dir, 'empty-data');
  mkdirSync(empty, { recursive: true });
  const nothingWritten = () => {
    assert.equal(existsSync(join(runner.dir, 'cache', 'runs')), false, 'nothing was written to the cache');
    assert.equal(existsSync(join(runner.dir, 'dvc-like.lock')), false);
  };

  for (const pipeline of ['lenet-mnist-imp.ts', 'resnet18-late-reset.ts']) {
    test(`${pipeline}: --data-dir without the dataset is exit 2 at the pipeline's line`, () => {
      const r = runner.run(pipeline, ['--data-dir', empty]);
      assert.equal(r.code, 2, r.out);
      assert.match(r.out, new RegExp(`pipelines/${pipeline.replace('.', '\\.')}:\\d+: no (mnist|cifar10) files in PIPELINE_DATA_DIR \\(${empty}\\)`));
      assert.match(r.out, /point --data-dir \(PIPELINE_DATA_DIR\) at a folder that holds them/);
      assert.deepEqual(r.executed, []);
      nothingWritten();
    });
  }

  test('--set dataDir=... is not a param any more, and the error says what replaced it', () => {
    const r = runner.run('lenet-mnist-imp.ts', ['--set', `dataDir=${empty}`]);
    assert.equal(r.code, 2, r.out);
    assert.match(r.out, /--set dataDir=\S+: no pipeline param/);
    assert.match(r.out, /data is found through --data-dir <folder> or PIPELINE_DATA_DIR/);
    nothingWritten();
  });

  test('status notes a dataset found nowhere (the stages will look again and download)', () => {
    // An empty default data folder (XDG_CACHE_HOME), and ../shared/data holds no CIFAR-10.
    const r = runner.status('resnet18-late-reset.ts', [], { XDG_CACHE_HOME: join(runner.dir, 'xdg') });
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /note: no cifar10 files in .* the stages that read them look again when they run and download them \(unless PIPELINE_OFFLINE=1\)/);
  });
});
