// Issue #4, test 6 (MNIST): the smoke profile of lenet-mnist-imp runs end to end on the shared
// MNIST files (../shared/data/mnist from the repo root), and a second run executes nothing.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { REPO } from '../helpers/project.js';
import { nativeDir, readManifest } from '../../src/nn/native/layout.js';
import { doneMetrics, PipelineRunner } from './cli.js';
import { compareWithTorch, TORCH_PYTHON } from '../helpers/torch-export.js';
import { readIdxFile } from '../../src/nn/data/idx.js';

const MNIST = join(REPO, '..', 'shared', 'data');

function secondRunExecutesNothing(runner: PipelineRunner, env: Record<string, string> = {}): void {
  const r = runner.run('lenet-mnist-imp.ts', ['--data-dir', MNIST], env);
  assert.equal(r.code, 0, r.out);
  assert.deepEqual(r.executed, []);
  assert.match(r.out, /0 ran, 18 from cache/);
}

describe('pipelines/lenet-mnist-imp.ts (smoke)', { skip: !existsSync(join(MNIST, 'mnist')) && 'no ../shared/data/mnist' }, () => {
  const runner = new PipelineRunner();
  after(() => runner.remove());

  test('runs: winning tickets and random reinitialisation at 3 levels, a summary table', () => {
    const r = runner.run('lenet-mnist-imp.ts', ['--jobs', '2', '--data-dir', MNIST]);
    assert.equal(r.code, 0, r.out);
    assert.equal(r.executed.length, 18, r.executed.join(' '));
    for (const id of ['train-dense', 'L1/prune', 'L3/retrain', 'L3/retrain-reinit', 'mask-stats', 'summary']) assert.ok(r.executed.includes(id), id);
    const summary = doneMetrics(r.out, 'summary') as { finalDensity: number; ticketAcc: number; reinitAcc: number; denseAcc: number };
    assert.ok(Math.abs(summary.finalDensity - 0.0651) < 0.001, `final density ${summary.finalDensity}`);
    assert.ok(summary.denseAcc > 0.85, `dense accuracy ${summary.denseAcc}`);
    assert.ok(summary.ticketAcc > 0.85, `ticket accuracy ${summary.ticketAcc}`);
    const stats = doneMetrics(r.out, 'mask-stats') as { levels: number; finalDensity: number };
    assert.equal(stats.levels, 3);
    assert.equal(stats.finalDensity, summary.finalDensity);
    // show names the backend that computed each trained result
    const rows = runner.show('lenet-mnist-imp.ts', ['--data-dir', MNIST]);
    assert.match(rows.find((x) => x.id === 'train-dense')?.backend ?? '', /^(wasm|tensorflow \d+\.\d+)/);
  });

  test('a second run executes nothing', () => secondRunExecutesNothing(runner));

  // Issue #12, test 4: the L3 ticket leaves the cache as a PyTorch state dict that Debian's
  // PyTorch loads with strict=True and that gives our logits on MNIST test images.
  test('get --format torch: the retrained L3 ticket loads into torch LeNet-300-100 and gives our logits', { skip: !TORCH_PYTHON && 'python3 with torch and safetensors is not installed' }, async () => {
    const get = (args: string[]) => runner.command('get', 'lenet-mnist-imp.ts', ['--data-dir', MNIST, ...args]);
    const out = (name: string) => join(runner.dir, name);
    let r = get(['L3/retrain', '--format', 'torch', '-o', out('ticket.pt.safetensors'), '--json']);
    assert.equal(r.code, 0, r.out);
    const got = JSON.parse(r.stdout) as { output: string; digest: string };
    assert.equal(got.output, 'final');
    // show --json gives every output's digest and where the cache holds it.
    const row = runner.show('lenet-mnist-imp.ts', ['--data-dir', MNIST]).find((x) => x.id === 'L3/retrain');
    assert.equal(row?.outputs?.final?.digest, got.digest);
    assert.ok(existsSync(row.outputs.final.path), row.outputs.final.path);
    assert.equal(get(['L3/retrain', '-o', out('ticket.safetensors')]).code, 0);
    assert.equal(get(['L3/prune', 'mask', '-o', out('mask.safetensors')]).code, 0);
    const images = await readIdxFile(join(MNIST, 'mnist', 't10k-images-idx3-ubyte.gz'), 3);
    const n = 200;
    const inputs = { shape: [n, 28, 28, 1], data: Float32Array.from(images.data.subarray(0, n * 784), (v) => v / 255) };
    const check = await compareWithTorch(runner.dir, 'lenet300100', out('ticket.safetensors'), out('ticket.pt.safetensors'), inputs, out('mask.safetensors'));
    assert.equal(check.masks, 3, 'three masked layers');
    assert.ok(check.maxAbsDiff <= 1e-4 * Math.max(1, check.maxAbsLogit), JSON.stringify(check));
    assert.equal(check.argmaxAgree, 1);
    // Errors: an unknown stage, an unknown output, a stage without a result: exit 2.
    r = get(['L9/retrain', '-o', out('x')]);
    assert.equal(r.code, 2, r.out);
    assert.match(r.out, /no stage 'L9\/retrain'/);
    r = get(['L3/retrain', 'weights', '-o', out('x')]);
    assert.equal(r.code, 2, r.out);
    assert.match(r.out, /its outputs: final, curve/);
    r = get(['L3/retrain', '--set', 'seed=7', '-o', out('x')]);
    assert.equal(r.code, 2, r.out);
    assert.match(r.out, /no result for its current params/);
  });

  // Invariant 6: no machine's path in a key, a param or the lock file. Two copies of the project
  // at different paths (each with its lock file at its root, as a clone has), their data at
  // different paths, one cache: the second is up to date with the first's lock file, and its run
  // leaves that lock file byte-identical.
  test('a copy of the project at another path, with the data at another path, on the same cache: all up to date, and a run leaves the lock file byte-identical', () => {
    const copy = (name: string) => {
      const root = join(runner.dir, name, 'project');
      for (const d of ['bin', 'src', 'pipelines', 'package.json', 'tsconfig.json']) cpSync(join(REPO, d), join(root, d), { recursive: true });
      symlinkSync(join(REPO, 'node_modules'), join(root, 'node_modules'));
      const data = join(runner.dir, name, 'datasets');
      cpSync(join(MNIST, 'mnist'), join(data, 'mnist'), { recursive: true });
      return (cmd: string) =>
        spawnSync(process.execPath, [join(root, 'bin', 'pipeline.js'), cmd, join(root, 'pipelines', 'lenet-mnist-imp.ts'), '--cache', join(runner.dir, 'cache'), '--data-dir', data], {
          cwd: root,
          encoding: 'utf8',
          env: { ...process.env, LTH_QUIET_BACKEND: '1' },
        });
    };
    const a = copy('a');
    const first = a('run');
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stderr, /0 ran, 18 from cache/);
    const lock = readFileSync(join(runner.dir, 'a', 'project', 'dvc-like.lock'));
    const b = copy('b');
    writeFileSync(join(runner.dir, 'b', 'project', 'dvc-like.lock'), lock);
    const status = b('status');
    assert.equal(status.status, 0, status.stderr);
    assert.match(status.stdout, /lenet-mnist-imp: all 18 stages up to date/);
    const run = b('run');
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /0 ran, 18 from cache/);
    assert.ok(readFileSync(join(runner.dir, 'b', 'project', 'dvc-like.lock')).equals(lock), 'the lock file is byte-identical');
    assert.doesNotMatch(lock.toString(), new RegExp(runner.dir), 'no path of this machine in the lock file');
  });
});

describe('pipelines/lenet-mnist-imp.ts (smoke) on the native backend', {
  skip: (!existsSync(join(MNIST, 'mnist')) && 'no ../shared/data/mnist') || (!readManifest() && `the native backend is not built in ${nativeDir()} (npx pipeline setup native)`),
}, () => {
  const runner = new PipelineRunner();
  after(() => runner.remove());
  const env = { LTH_BACKEND: 'tensorflow' };

  test('runs end to end with LTH_BACKEND=tensorflow; every trained result says so', () => {
    const r = runner.run('lenet-mnist-imp.ts', ['--jobs', '2', '--data-dir', MNIST], env);
    assert.equal(r.code, 0, r.out);
    assert.equal(r.executed.length, 18, r.executed.join(' '));
    const summary = doneMetrics(r.out, 'summary') as { finalDensity: number; ticketAcc: number; denseAcc: number };
    assert.ok(Math.abs(summary.finalDensity - 0.0651) < 0.001, `final density ${summary.finalDensity}`);
    assert.ok(summary.denseAcc > 0.85 && summary.ticketAcc > 0.85, `dense ${summary.denseAcc}, ticket ${summary.ticketAcc}`);
    const rows = runner.show('lenet-mnist-imp.ts', ['--data-dir', MNIST]);
    for (const id of ['train-dense', 'L1/retrain', 'L3/retrain-reinit']) assert.match(rows.find((x) => x.id === id)?.backend ?? '', /^tensorflow \d+\.\d+\.\d+$/, id);
  });

  test('a second run executes nothing', () => secondRunExecutesNothing(runner, env));
});
