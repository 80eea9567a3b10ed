// Issue #4, tests 3 and 6 (CIFAR-10): the smoke profiles of conv-cifar-imp and resnet18-late-reset
// run on small generated files in CIFAR-10's binary format; a second run executes nothing;
// changing the rewind iteration reruns only that k's replay, rewind, retrain, stability (and its
// summary): train-dense and the level-1 mask are not executed again.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeCifarFixture } from './cifar-fixture.js';
import { parseCifarBatch } from '../../src/nn/data/cifar.js';
import { compareWithTorch, TORCH_PYTHON } from '../helpers/torch-export.js';
import { doneMetrics, PipelineRunner } from './cli.js';

describe('pipelines/resnet18-late-reset.ts (smoke)', () => {
  const runner = new PipelineRunner();
  let dataDir: string;
  before(() => {
    dataDir = writeCifarFixture(`${runner.dir}/data`);
  });
  after(() => runner.remove());

  test('runs: one trunk, one level-1 mask, rewind/retrain/stability per k', () => {
    const r = runner.run('resnet18-late-reset.ts', ['--data-dir', dataDir]);
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(r.executed, [
      'L1-mask',
      'k0/L1/retrain',
      'k0/L1/rewind',
      'k0/L1/stability',
      'k0/summary',
      'k4/L1/retrain',
      'k4/L1/rewind',
      'k4/L1/stability',
      'k4/summary',
      'train-dense',
    ]);
    const st = doneMetrics(r.out, 'k4/L1/stability') as { instability: number; errorA: number };
    assert.ok(Number.isFinite(st.instability) && st.instability >= 0, String(st.instability));
    assert.ok(st.errorA >= 0 && st.errorA <= 1);
  });

  test('a second run executes nothing', () => {
    const r = runner.run('resnet18-late-reset.ts', ['--data-dir', dataDir]);
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(r.executed, []);
  });

  // Issue #12, test 4: a retrained ResNet-20 (batch norm, projection shortcuts) as a PyTorch state dict.
  test('get --format torch: the retrained ResNet-20 loads into a torch ResNet-20 and gives our logits', { skip: !TORCH_PYTHON && 'python3 with torch and safetensors is not installed' }, async () => {
    const out = (name: string) => join(runner.dir, name);
    const get = (args: string[]) => runner.command('get', 'resnet18-late-reset.ts', ['--data-dir', dataDir, ...args]);
    for (const args of [['k4/L1/retrain', '--format', 'torch', '-o', out('r20.pt.safetensors')], ['k4/L1/retrain', '-o', out('r20.safetensors')], ['L1-mask', '-o', out('r20-mask.safetensors')]]) {
      const r = get(args);
      assert.equal(r.code, 0, r.out);
    }
    const batch = parseCifarBatch(readFileSync(join(dataDir, 'cifar10', 'cifar-10-batches-bin', 'test_batch.bin')), 'test_batch.bin');
    const n = 50;
    const inputs = { shape: [n, 32, 32, 3], data: Float32Array.from(batch.images.subarray(0, n * 3072), (v) => v / 255 - 0.5) };
    const check = await compareWithTorch(runner.dir, 'resnet20', out('r20.safetensors'), out('r20.pt.safetensors'), inputs, out('r20-mask.safetensors'));
    assert.equal(check.masks, 22, 'every conv and the fc layer are masked');
    assert.ok(check.maxAbsDiff <= 1e-4 * Math.max(1, check.maxAbsLogit), JSON.stringify(check));
    assert.equal(check.argmaxAgree, 1);
  });

  test('another rewind iteration (not stored: replayed) reruns only its own branch', () => {
    const r = runner.run('resnet18-late-reset.ts', ['--data-dir', dataDir, '--set', 'ks=[0,3]']);
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(r.executed, ['k3/L1/retrain', 'k3/L1/rewind', 'k3/L1/stability', 'k3/replay-k3', 'k3/summary']);
    assert.match(r.out, /\[cached\] train-dense/);
    assert.match(r.out, /\[cached\] L1-mask/);
  });

  test('status, back at the default ks, names the changed pipeline param, the instances that left, and what the run cache restores', () => {
    const r = runner.status('resnet18-late-reset.ts', ['--data-dir', dataDir]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /pipeline param 'ks' changed: \[0,3\] -> \[\] \(since the lock file\)/);
    assert.match(r.out, /5 instance\(s\) of the lock file are no longer in the pipeline: k3\//);
    // The k4 branch ran first, then left the lock file: restored, and said so plainly.
    assert.match(r.out, /in cache +k4\/L1\/retrain\n +restored from the run cache, not in the lock file: computed \d{4}-\d\d-\d\d \d\d:\d\d UTC on /);
    assert.match(r.out, /: 0 stale, 4 in the run cache, \d+ up to date/);
  });
});

describe('pipelines/conv-cifar-imp.ts (smoke)', () => {
  const runner = new PipelineRunner();
  let dataDir: string;
  before(() => {
    dataDir = writeCifarFixture(`${runner.dir}/data`);
  });
  after(() => runner.remove());

  test('runs Conv-2 for 2 levels with the reinit baseline; a second run executes nothing', () => {
    const r = runner.run('conv-cifar-imp.ts', ['--data-dir', dataDir]);
    assert.equal(r.code, 0, r.out);
    assert.equal(r.executed.length, 13, r.executed.join(' '));
    const again = runner.run('conv-cifar-imp.ts', ['--data-dir', dataDir]);
    assert.equal(again.code, 0, again.out);
    assert.deepEqual(again.executed, []);
    const summary = doneMetrics(r.out, 'conv2/summary') as { finalDensity: number };
    assert.ok(Math.abs(summary.finalDensity - 0.6416) < 0.001, `density ${summary.finalDensity}`);
  });
});
