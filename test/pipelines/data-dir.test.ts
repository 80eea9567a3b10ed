// A data folder the user names must hold the dataset: the run stops while the pipeline is built
// (exit 2, with the file and line and what to do), before anything runs or any cache is touched.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { PipelineRunner } from './cli.js';

describe('an explicit dataDir without the dataset', () => {
  const runner = new PipelineRunner();
  after(() => runner.remove());

  for (const pipeline of ['lenet-mnist-imp.ts', 'resnet18-late-reset.ts']) {
    test(pipeline, () => {
      const empty = join(runner.dir, 'empty-data');
      mkdirSync(empty, { recursive: true });
      const r = runner.run(pipeline, ['--set', `dataDir=${empty}`]);
      assert.equal(r.code, 2, r.out);
      assert.match(r.out, new RegExp(`pipelines/${pipeline.replace('.', '\\.')}:\\d+: no (mnist|cifar10) files under ${empty}`));
      assert.match(r.out, /--set dataDir= \(empty\) to use the loader's default folders/);
      assert.deepEqual(r.executed, []);
      assert.equal(existsSync(join(runner.dir, 'cache', 'runs')), false, 'nothing was written to the cache');
      assert.equal(existsSync(join(runner.dir, 'dvc-like.lock')), false);
    });
  }
});
