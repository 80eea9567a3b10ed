// Fashion-MNIST from Debian's `dataset-fashion-mnist` package (`.ci/run` installs it): found in
// /usr/share/datasets/fashion-mnist/ by the loader (offline, nothing else configured) and by the
// pipeline-side lookup, accepted as the official data (Debian recompressed the files: their sizes
// and checksums are recorded as a repack), and LeNet-300-100 reaches >= 80% test accuracy in
// 1,000 iterations. Skips only where the package is not installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { GraphBuilder } from '../../../src/engine/definition/pipeline.js';
import { datasetInputs, findDatasetFiles } from '../../../src/lth/data.js';
import { SYSTEM_DATA_DIR, loadDataset } from '../../../src/nn/data/index.js';
import { tempDir } from './helpers.js';
import { trainLenet } from '../../helpers/lenet-accuracy.js';

const dir = join(SYSTEM_DATA_DIR, 'fashion-mnist');
const skip = !existsSync(join(dir, 'train-images-idx3-ubyte.gz')) && `Debian's dataset-fashion-mnist is not installed (${dir})`;

/** Only the system folder can hold the data: no PIPELINE_DATA_DIR, an empty default data dir, offline. */
function systemOnly(): NodeJS.ProcessEnv {
  return { ...process.env, PIPELINE_DATA_DIR: '', XDG_CACHE_HOME: tempDir('lth-xdg-'), PIPELINE_OFFLINE: '1' };
}

test('Fashion-MNIST is found in /usr/share/datasets/fashion-mnist by the loader and by datasetInputs', { skip }, async () => {
  const env = systemOnly();
  const saved = { ...process.env };
  Object.assign(process.env, env);
  delete process.env.PIPELINE_DATA_DIR;
  try {
    // strict: every file must be the official one, here Debian's recorded repack of it
    const data = await loadDataset('fashion-mnist', { verify: 'strict', log: () => undefined });
    assert.equal(data.source, dir);
    assert.equal(data.size('train') + data.size('validation'), 60000);
    assert.equal(data.size('test'), 10000);
    assert.equal(data.numClasses, 10);
    assert.equal(existsSync(join(dir, '.lth-verified.json')), false, 'nothing is written into a package-managed folder');
  } finally {
    process.env = saved;
  }
  const p = new GraphBuilder(join(tempDir(), 'pipeline.ts'));
  const refs = datasetInputs(p, 'fashion-mnist', { XDG_CACHE_HOME: env.XDG_CACHE_HOME! });
  assert.deepEqual(
    refs.map((r) => (r.kind === 'file' ? r.path : '')),
    ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'].map((f) => join(dir, f)),
  );
  assert.ok(refs.every((r) => r.kind === 'file' && r.check?.id === 'dataset-file:v1:idx:10'), 'each file is checked before a run');
  assert.deepEqual(p.notes, []);
  assert.deepEqual(findDatasetFiles('fashion-mnist', SYSTEM_DATA_DIR), refs.map((r) => (r.kind === 'file' ? r.path : '')));
});

test('loaded through a link to the system folder, nothing is written into it either', { skip }, async () => {
  const link = join(tempDir(), 'fashion-mnist');
  symlinkSync(dir, link);
  const data = await loadDataset('fashion-mnist', { path: link, verify: 'strict', log: () => undefined });
  assert.equal(data.size('test'), 10000);
  assert.equal(existsSync(join(dir, '.lth-verified.json')), false);
});

test('LeNet-300-100 reaches >= 80% on Fashion-MNIST after 1,000 iterations', { skip, timeout: 180_000 }, async () => {
  const { testAccuracy: acc } = await trainLenet('fashion-mnist', dir, 1000);
  assert.ok(acc >= 0.8, `test accuracy ${acc}`);
});
