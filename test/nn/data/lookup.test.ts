// Where the loader looks: explicit path, PIPELINE_DATA_DIR (directly or in <dir>/mnist), the
// default data dir; DATASET_MISSING lists every place; no download when offline.
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isPipelineError } from '../../../src/errors.js';
import { candidateDirs, defaultDataDir, loadDataset } from '../../../src/nn/data/index.js';
import { tempDir, writeMnistDir } from './helpers.js';

let cache: string;
beforeEach(() => {
  cache = tempDir('lth-xdg-');
  process.env.XDG_CACHE_HOME = cache; // the default data dir lives here during these tests
  delete process.env.PIPELINE_DATA_DIR;
  process.env.PIPELINE_OFFLINE = '1';
});

test('the default data dir follows XDG_CACHE_HOME, else ~/.cache', () => {
  assert.equal(defaultDataDir({ XDG_CACHE_HOME: '/x/cache' }), '/x/cache/lth-pipeline/data');
  assert.match(defaultDataDir({}), /\.cache\/lth-pipeline\/data$/);
});

test('an explicit path is used first', async () => {
  const a = writeMnistDir(tempDir(), 12, 3);
  process.env.PIPELINE_DATA_DIR = writeMnistDir(tempDir(), 20, 4);
  const ds = await loadDataset('mnist', { path: a, validationSize: 2 });
  assert.equal(ds.source, a);
  assert.equal(ds.size('train'), 10);
  assert.equal(ds.size('validation'), 2);
  assert.equal(ds.size('test'), 3);
});

test('PIPELINE_DATA_DIR: files directly inside it, or in its mnist/ folder (preferred)', async () => {
  const env = writeMnistDir(tempDir(), 12, 3);
  process.env.PIPELINE_DATA_DIR = env;
  assert.equal((await loadDataset('mnist', { validationSize: 2 })).source, env);
  writeMnistDir(join(env, 'mnist'), 16, 3);
  const ds = await loadDataset('mnist', { validationSize: 2 });
  assert.equal(ds.source, join(env, 'mnist'));
  assert.equal(ds.size('train'), 14);
});

test('the default data dir is searched after PIPELINE_DATA_DIR, the system data sets last', async () => {
  const dir = writeMnistDir(join(cache, 'lth-pipeline', 'data', 'fashion-mnist'), 12, 3);
  const ds = await loadDataset('fashion-mnist', { validationSize: 2 });
  assert.equal(ds.source, dir);
  assert.deepEqual(
    candidateDirs('fashion-mnist', '/p', { PIPELINE_DATA_DIR: '/e', XDG_CACHE_HOME: '/c' }).map((c) => c.dir),
    ['/p', '/p/fashion-mnist', '/e/fashion-mnist', '/e', '/c/lth-pipeline/data/fashion-mnist', '/usr/share/datasets/fashion-mnist'],
  );
});

test('DATASET_MISSING says every place looked and how to provide the files', async () => {
  const explicit = tempDir();
  const env = tempDir();
  writeFileSync(join(env, 'train-images-idx3-ubyte.gz'), 'x'); // an incomplete folder
  process.env.PIPELINE_DATA_DIR = env;
  await assert.rejects(loadDataset('mnist', { path: explicit }), (e: unknown) => {
    assert.ok(isPipelineError(e, 'DATASET_MISSING'), String(e));
    for (const dir of [explicit, join(explicit, 'mnist'), env, join(env, 'mnist'), join(cache, 'lth-pipeline', 'data', 'mnist')]) {
      assert.ok(e.message.includes(`${dir} (`), `message should list ${dir}:\n${e.message}`);
    }
    assert.match(e.message, /missing train-labels-idx1-ubyte\.gz/);
    assert.match(e.message, /PIPELINE_OFFLINE=1/);
    assert.match(e.hint ?? '', /PIPELINE_DATA_DIR/);
    assert.match(e.hint ?? '', /train-images-idx3-ubyte\.gz/);
    assert.match(e.hint ?? '', /https:\/\/ossci-datasets\.s3\.amazonaws\.com\/mnist\//);
    assert.equal(e.where, join(explicit, 'train-images-idx3-ubyte.gz'));
    return true;
  });
  delete process.env.PIPELINE_OFFLINE;
  await assert.rejects(loadDataset('cifar10', { download: false }), (e: unknown) => {
    assert.ok(isPipelineError(e, 'DATASET_MISSING'));
    assert.match(e.message, /download: false/);
    assert.match(e.hint ?? '', /cifar-10-binary\.tar\.gz/);
    return true;
  });
});

test("verify 'official' checks files of the official size; 'strict' rejects other files", async () => {
  const dir = writeMnistDir(tempDir(), 12, 3);
  // a file with the official size of MNIST's test labels but other bytes
  writeFileSync(join(dir, 't10k-labels-idx1-ubyte.gz'), Buffer.alloc(4542, 1));
  await assert.rejects(
    loadDataset('mnist', { path: dir, validationSize: 2 }),
    (e: unknown) => isPipelineError(e, 'DATASET_CORRUPT') && /checksum/.test(e.message) && e.where === join(dir, 't10k-labels-idx1-ubyte.gz'),
  );
  // MNIST-sized file where Fashion-MNIST is expected
  await assert.rejects(
    loadDataset('fashion-mnist', { path: dir, validationSize: 2 }),
    (e: unknown) => isPipelineError(e, 'DATASET_CORRUPT') && /official mnist file/.test(e.message),
  );
  // verify 'none' skips checksums and then the structural check catches the garbage
  await assert.rejects(loadDataset('mnist', { path: dir, validationSize: 2, verify: 'none' }), (e: unknown) =>
    isPipelineError(e, 'DATASET_CORRUPT'),
  );
  const small = writeMnistDir(tempDir(), 12, 3);
  await assert.rejects(
    loadDataset('mnist', { path: small, validationSize: 2, verify: 'strict' }),
    (e: unknown) => isPipelineError(e, 'DATASET_CORRUPT') && /not the official/.test(e.message),
  );
  await assert.rejects(loadDataset('mnist', { path: small, validationSize: 20 }), (e: unknown) => isPipelineError(e, 'PARAM_INVALID'));
});
