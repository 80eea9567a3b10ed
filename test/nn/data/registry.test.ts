// The dataset registry: the built-in names, a project's datasets from arrays (uint8 or float32,
// with or without their own validation split) and from folders of IDX or CIFAR files, loaded by
// name like the built-in ones; bad names and sources are refused, unknown names list what exists.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { isPipelineError } from '../../../src/errors.js';
import {
  BUILTIN_DATASETS,
  datasetNames,
  datasetSource,
  datasetTitle,
  hasDataset,
  loadDataset,
  registerDataset,
  unregisterDataset,
} from '../../../src/nn/data/index.js';
import { fineLabel, tempDir, writeCifar100Folder, writeMnistDir } from './helpers.js';

const mine: string[] = [];
function register(name: string, source: Parameters<typeof registerDataset>[1]): void {
  registerDataset(name, source);
  mine.push(name);
}
after(() => mine.forEach((n) => unregisterDataset(n)));

/** n examples of shape [2, 2, 1]: example k has every value k, label k % classes. */
function arrays<T extends Uint8Array | Float32Array>(n: number, make: (len: number) => T, classes = 3, offset = 0) {
  const images = make(n * 4);
  for (let k = 0; k < n; k++) images.fill(k + offset, k * 4, (k + 1) * 4);
  return { images, labels: Array.from({ length: n }, (_, k) => (k + Math.floor(offset)) % classes) };
}

test('the built-in datasets are registered, with their titles', () => {
  assert.deepEqual([...BUILTIN_DATASETS], ['mnist', 'fashion-mnist', 'cifar10', 'cifar100', 'synthetic', 'modular-addition']);
  for (const name of BUILTIN_DATASETS) assert.ok(hasDataset(name));
  assert.equal(datasetTitle('cifar100'), 'CIFAR-100');
  assert.equal(datasetTitle('fashion-mnist'), 'Fashion-MNIST');
  assert.equal(datasetSource('cifar100').kind, 'official');
});

test('arrays (uint8): the usual seeded hold-out, /255 normalisation, labels checked', async () => {
  let loads = 0;
  register('blobs-u8', {
    kind: 'arrays',
    title: 'Blobs',
    load: () => {
      loads++;
      return { shape: [2, 2, 1], numClasses: 3, train: arrays(40, (l) => new Uint8Array(l)), test: arrays(6, (l) => new Uint8Array(l), 3, 100) };
    },
  });
  assert.ok(datasetNames().includes('blobs-u8'));
  assert.equal(datasetTitle('blobs-u8'), 'Blobs');
  const ds = await loadDataset('blobs-u8', { splitSeed: 3 });
  assert.equal(loads, 1);
  assert.equal(ds.name, 'blobs-u8');
  assert.equal(ds.numClasses, 3);
  assert.deepEqual(ds.inputShape, [2, 2, 1]);
  // default hold-out: a tenth of a training set this small
  assert.equal(ds.size('validation'), 4);
  assert.equal(ds.size('train'), 36);
  assert.equal(ds.size('test'), 6);
  const b = ds.batch('test', [0, 5]);
  assert.deepEqual([...b.y], [100 % 3, 105 % 3]);
  assert.ok(Math.abs(b.x[0]! - 100 / 255) < 1e-6);
  assert.equal(ds.augmentation, undefined);
  // the same split as any other dataset with the same seed and size
  const again = await loadDataset('blobs-u8', { splitSeed: 3, validationSize: 4 });
  assert.deepEqual(again.splits.validation.labels, ds.splits.validation.labels);
});

test('arrays (float32) with their own validation split and normalisation', async () => {
  register('blobs-f32', {
    kind: 'arrays',
    normalization: { mean: [1], std: [2] },
    load: async () => ({
      shape: [2, 2, 1],
      numClasses: 4,
      train: arrays(8, (l) => new Float32Array(l), 4),
      validation: arrays(3, (l) => new Float32Array(l), 4, 0.5),
      test: arrays(2, (l) => new Float32Array(l), 4),
    }),
  });
  const ds = await loadDataset('blobs-f32', { subset: { train: 5 }, augment: true });
  assert.equal(ds.size('validation'), 3, 'its own validation split is kept');
  assert.equal(ds.size('train'), 5);
  assert.ok(ds.splits.train.images instanceof Float32Array);
  const b = ds.batch('validation', [1]);
  assert.equal(b.x[0], (1.5 - 1) / 2);
  // augmentation asked for by the stage: padding uses value 0 before normalisation
  assert.ok(ds.augmentation);
  const aug = ds.batch('train', [0, 1, 2, 3, 4], { augmentSeed: 1 });
  assert.equal(aug.x.length, 5 * 4);
});

test('arrays that do not fit their shape or classes are PARAM_INVALID naming the dataset', async () => {
  register('bad-arrays', {
    kind: 'arrays',
    load: () => ({ shape: [2, 2, 1], numClasses: 3, train: { images: new Uint8Array(7), labels: [0, 1] }, test: arrays(2, (l) => new Uint8Array(l)) }),
  });
  await assert.rejects(loadDataset('bad-arrays'), (e: unknown) => isPipelineError(e, 'PARAM_INVALID') && /dataset 'bad-arrays': the train split has 7 image values and 2 labels/.test(e.message));
  register('bad-labels', {
    kind: 'arrays',
    load: () => ({ shape: [2, 2, 1], numClasses: 3, train: arrays(20, (l) => new Uint8Array(l)), test: { images: new Uint8Array(4), labels: [3] } }),
  });
  await assert.rejects(loadDataset('bad-labels'), (e: unknown) => isPipelineError(e, 'PARAM_INVALID') && /test label 3 at 0 is not an integer in 0\.\.2/.test(e.message));
});

test('files: a folder of IDX files and one of CIFAR-100 files, read as the built-in formats', async () => {
  const idx = writeMnistDir(tempDir(), 20, 6);
  register('my-digits', { kind: 'files', format: 'idx', dir: idx });
  const a = await loadDataset('my-digits', { validationSize: 2 });
  assert.equal(a.source, idx);
  assert.equal(a.size('train'), 18);
  assert.equal(a.numClasses, 10);
  const c = writeCifar100Folder(tempDir(), 10, 4);
  register('my-cifar', { kind: 'files', format: 'cifar100', dir: c });
  const b = await loadDataset('my-cifar', { validationSize: 2 });
  assert.equal(b.numClasses, 100);
  assert.deepEqual([...b.splits.test.labels], [10, 11, 12, 13].map(fineLabel));
  // a CIFAR layout is fed as CIFAR is (per-channel statistics, crop and flip) unless the source says otherwise
  assert.ok(b.augmentation);
  assert.notDeepEqual(b.normalization.std, [255, 255, 255]);
  register('my-cifar-plain', { kind: 'files', format: 'cifar100', dir: c, normalization: { mean: [0, 0, 0], std: [255, 255, 255] }, augmentByDefault: false });
  const plain = await loadDataset('my-cifar-plain', { validationSize: 2 });
  assert.equal(plain.augmentation, undefined);
  assert.deepEqual(plain.normalization.std, [255, 255, 255]);
  assert.equal(a.augmentation, undefined, 'IDX files are not augmented by default');
  // an empty folder: DATASET_MISSING naming it and what it should hold
  const empty = tempDir();
  register('nothing-here', { kind: 'files', format: 'cifar10', dir: empty });
  await assert.rejects(loadDataset('nothing-here'), (e: unknown) => isPipelineError(e, 'DATASET_MISSING') && e.message.includes(empty) && /cifar-10-binary\.tar\.gz/.test(e.message));
  // fewer classes than the labels use
  register('few-classes', { kind: 'files', format: 'idx', dir: idx, numClasses: 2 });
  await assert.rejects(loadDataset('few-classes', { validationSize: 2 }), (e: unknown) => isPipelineError(e, 'DATASET_CORRUPT') && e.where === join(idx, 'train-labels-idx1-ubyte.gz'));
});

test('an unknown name lists the datasets that exist; bad names and sources are refused; a name registered again is replaced', async () => {
  register('listed-one', { kind: 'arrays', load: () => ({ shape: [1, 1, 1], numClasses: 2, train: arrays(1, (l) => new Uint8Array(l)), test: arrays(1, (l) => new Uint8Array(l)) }) });
  await assert.rejects(loadDataset('imagenet'), (e: unknown) => {
    assert.ok(isPipelineError(e, 'PARAM_INVALID'), String(e));
    assert.match(e.message, /unknown dataset "imagenet": the datasets are mnist, fashion-mnist, cifar10, cifar100, synthetic, .*listed-one/);
    assert.match(e.hint ?? '', /defineDataset/);
    return true;
  });
  assert.throws(() => registerDataset('mnist', { kind: 'files', format: 'idx', dir: '/x' }), (e: unknown) => isPipelineError(e, 'PARAM_INVALID') && /built-in/.test(e.message));
  assert.throws(() => registerDataset('../up', { kind: 'files', format: 'idx', dir: '/x' }), (e: unknown) => isPipelineError(e, 'PARAM_INVALID'));
  assert.throws(() => registerDataset('x-fmt', { kind: 'files', format: 'png' as 'idx', dir: '/x' }), /format "png" is not one of idx, cifar10, cifar100/);
  assert.throws(() => registerDataset('x-kind', { kind: 'url' } as never), /the source must be/);
  register('replaced', { kind: 'files', format: 'idx', dir: '/first' });
  register('replaced', { kind: 'files', format: 'idx', dir: '/second' });
  assert.equal((datasetSource('replaced') as { dir: string }).dir, '/second');
  assert.equal(datasetNames().filter((n) => n === 'replaced').length, 1);
});
