// CIFAR-100 (binary version): files written here in its layout (1 coarse + 1 fine label byte +
// 3072 pixel bytes per record) load with 100 classes and the fine labels, from the extracted
// folder and from the official archive layout; a damaged file is DATASET_CORRUPT naming it; offline
// and not found, DATASET_MISSING names the official archive; the published md5 is recorded; the
// pipeline side declares its files as checked stage inputs.
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { create } from 'tar';
import { GraphBuilder } from '../../../src/engine/definition/pipeline.js';
import { isPipelineError } from '../../../src/errors.js';
import { datasetInputs, findDatasetFiles } from '../../../src/lth/data.js';
import { CIFAR100, OFFICIAL_FILES, loadDataset, parseCifarBatch } from '../../../src/nn/data/index.js';
import { coarseLabel, fineLabel, pixel, tempDir, writeCifar100Folder } from './helpers.js';

beforeEach(() => {
  process.env.XDG_CACHE_HOME = tempDir('lth-xdg-');
  delete process.env.PIPELINE_DATA_DIR;
  process.env.PIPELINE_OFFLINE = '1';
});

test('CIFAR-100 files load with 100 classes, and the labels are the fine labels', async () => {
  const root = tempDir();
  writeCifar100Folder(join(root, 'cifar-100-binary'), 30, 10);
  const ds = await loadDataset('cifar100', { path: root, validationSize: 5 });
  assert.equal(ds.numClasses, 100);
  assert.deepEqual(ds.inputShape, [32, 32, 3]);
  assert.equal(ds.size('train'), 25);
  assert.equal(ds.size('validation'), 5);
  assert.equal(ds.size('test'), 10);
  assert.equal(ds.source, join(root, 'cifar-100-binary'));
  const fine = Array.from({ length: 10 }, (_, k) => fineLabel(30 + k));
  const coarse = Array.from({ length: 10 }, (_, k) => coarseLabel(30 + k));
  assert.deepEqual([...ds.splits.test.labels], fine);
  assert.notDeepEqual(fine, coarse);
  assert.ok(fine.some((y) => y >= 20), 'some fine labels are beyond the 20 coarse classes');
  // pixels: planes interleaved to NHWC, after the two label bytes
  assert.equal(ds.splits.test.images[3 * 7 + 2], pixel(30, 3 * 7 + 2));
  // the batches carry the fine labels too, normalised per channel, augmented by default as CIFAR-10
  assert.deepEqual([...ds.batch('test', [0, 9]).y], [fine[0], fine[9]]);
  assert.ok(ds.augmentation);
});

test('CIFAR-100: the official archive layout (cifar-100-binary/ in cifar-100-binary.tar.gz), found in PIPELINE_DATA_DIR/cifar100', async () => {
  const data = tempDir();
  const src = tempDir();
  writeCifar100Folder(join(src, 'cifar-100-binary'), 12, 4);
  writeFileSync(join(src, 'cifar-100-binary', 'fine_label_names.txt'), 'apple\n');
  mkdirSync(join(data, 'cifar100'));
  const archive = join(data, 'cifar100', 'cifar-100-binary.tar.gz');
  await create({ gzip: true, file: archive, cwd: src }, ['cifar-100-binary']);
  process.env.PIPELINE_DATA_DIR = data;
  const ds = await loadDataset('cifar100', { validationSize: 2 });
  assert.equal(ds.source, archive);
  assert.equal(ds.size('train'), 10);
  assert.deepEqual([...ds.splits.test.labels], [12, 13, 14, 15].map(fineLabel));
});

test('CIFAR-100: a file that is not whole records, or a fine label over 99, is DATASET_CORRUPT naming it', async () => {
  const dir = writeCifar100Folder(join(tempDir(), 'cifar-100-binary'), 6, 2);
  const file = join(dir, 'train.bin');
  const good = readFileSync(file);
  writeFileSync(file, good.subarray(0, good.length - 3073)); // a CIFAR-10 record's worth: 5 records and 3073 bytes
  await assert.rejects(loadDataset('cifar100', { path: dir, validationSize: 1 }), (e: unknown) => {
    assert.ok(isPipelineError(e, 'DATASET_CORRUPT'), String(e));
    assert.equal(e.where, file);
    assert.match(e.message, /not a whole number of 3074-byte CIFAR-100 records/);
    return true;
  });
  const bad = Uint8Array.from(good);
  bad[3074 + 1] = 100; // the fine label of record 1
  writeFileSync(file, bad);
  assert.throws(() => parseCifarBatch(bad, file, CIFAR100), /record 1 has label byte 1 100, expected 0-99/);
  await assert.rejects(loadDataset('cifar100', { path: dir, validationSize: 1 }), (e: unknown) => isPipelineError(e, 'DATASET_CORRUPT') && e.where === file);
});

test('CIFAR-100 offline and nowhere: DATASET_MISSING names the official archive; its md5 is the published one', async () => {
  await assert.rejects(loadDataset('cifar100'), (e: unknown) => {
    assert.ok(isPipelineError(e, 'DATASET_MISSING'), String(e));
    assert.match(e.message, /PIPELINE_OFFLINE=1/);
    assert.match(e.message, /cifar-100-binary\.tar\.gz/);
    assert.match(e.hint ?? '', /https:\/\/www\.cs\.toronto\.edu\/~kriz\/cifar-100-binary\.tar\.gz/);
    return true;
  });
  assert.deepEqual(
    OFFICIAL_FILES.cifar100.map((f) => [f.name, f.md5, f.size]),
    [['cifar-100-binary.tar.gz', '03b5dce01913d631647c71ecec9e9cb8', 168513733]],
  );
});

test('CIFAR-100 on the pipeline side: datasetInputs declares the files of <data dir>/cifar100, each checked before a run', () => {
  const data = tempDir();
  const dir = writeCifar100Folder(join(data, 'cifar100', 'cifar-100-binary'), 4, 2);
  assert.deepEqual(findDatasetFiles('cifar100', data), [join(dir, 'train.bin'), join(dir, 'test.bin')]);
  const p = new GraphBuilder(join(tempDir(), 'pipeline.ts'));
  const refs = datasetInputs(p, 'cifar100', { PIPELINE_DATA_DIR: data });
  assert.deepEqual(refs.map((r) => (r.kind === 'file' ? [r.path, r.check?.id] : [])), [
    [join(dir, 'train.bin'), 'dataset-file:v1:cifar100:100'],
    [join(dir, 'test.bin'), 'dataset-file:v1:cifar100:100'],
  ]);
});
