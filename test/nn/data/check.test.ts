// The check of one dataset file before a run (checkDatasetFile): good files pass; a wrong IDX
// magic number, a truncated gzip stream, a label count that does not match the images, a label out
// of range, a CIFAR file that is not whole records, a damaged archive: DATASET_CORRUPT naming the
// file and what is wrong, without loading the dataset.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { create } from 'tar';
import { isPipelineError } from '../../../src/errors.js';
import { checkDatasetFile, encodeIdx, formatFilesIn } from '../../../src/nn/data/index.js';
import { images, labels, tempDir, writeCifar100Folder, writeCifarFolder, writeMnistDir } from './helpers.js';

function corrupt(file: string, what: RegExp) {
  return (e: unknown) => {
    assert.ok(isPipelineError(e, 'DATASET_CORRUPT'), `expected DATASET_CORRUPT, got ${String(e)}`);
    assert.equal(e.where, file);
    assert.ok(e.message.includes(file), e.message);
    assert.match(e.message, what);
    return true;
  };
}

async function checkAll(format: 'idx' | 'cifar10' | 'cifar100', dir: string, classes: number): Promise<void> {
  const r = formatFilesIn(format, dir);
  assert.ok(r.files, `files of ${format} in ${dir}`);
  for (const f of r.files) await checkDatasetFile(format, f, classes);
}

test('good IDX (gzipped and plain), CIFAR-10 and CIFAR-100 files pass', async () => {
  const mnist = writeMnistDir(tempDir(), 20, 6);
  await checkAll('idx', mnist, 10);
  const plain = tempDir();
  writeFileSync(join(plain, 'train-images-idx3-ubyte'), encodeIdx([3, 28, 28], images(3, 784)));
  writeFileSync(join(plain, 'train-labels-idx1-ubyte'), encodeIdx([3], labels(3)));
  writeFileSync(join(plain, 't10k-images-idx3-ubyte'), encodeIdx([2, 28, 28], images(2, 784)));
  writeFileSync(join(plain, 't10k-labels-idx1-ubyte'), encodeIdx([2], labels(2)));
  await checkAll('idx', plain, 10);
  await checkAll('cifar10', writeCifarFolder(tempDir(), 3), 10);
  await checkAll('cifar100', writeCifar100Folder(tempDir(), 5, 2), 100);
});

test('IDX: a wrong magic number', async () => {
  const dir = writeMnistDir(tempDir());
  const file = join(dir, 'train-labels-idx1-ubyte.gz');
  writeFileSync(file, gzipSync(encodeIdx([20, 28, 28], images(20, 784)))); // images where labels belong
  await assert.rejects(checkDatasetFile('idx', file, 10), corrupt(file, /wrong IDX magic number 0x00000803 \(expected 0x00000801/));
});

test('IDX: a truncated gzip stream, and a file shorter than its dimensions', async () => {
  const dir = writeMnistDir(tempDir());
  const file = join(dir, 'train-images-idx3-ubyte.gz');
  const gz = readFileSync(file);
  writeFileSync(file, gz.subarray(0, gz.length - 40));
  await assert.rejects(checkDatasetFile('idx', file, 10), corrupt(file, /gzip data is damaged or truncated/));
  const full = encodeIdx([20, 28, 28], images(20, 784));
  writeFileSync(file, gzipSync(full.subarray(0, full.length - 100)));
  await assert.rejects(checkDatasetFile('idx', file, 10), corrupt(file, /truncated: dimensions 20 x 28 x 28 need 15680 data bytes, found 15580/));
});

test('IDX: labels that do not match the number of images, seen from either file', async () => {
  const dir = writeMnistDir(tempDir(), 20, 6);
  const labelsFile = join(dir, 't10k-labels-idx1-ubyte.gz');
  const imagesFile = join(dir, 't10k-images-idx3-ubyte.gz');
  writeFileSync(labelsFile, gzipSync(encodeIdx([5], labels(5))));
  await assert.rejects(checkDatasetFile('idx', labelsFile, 10), corrupt(labelsFile, /has 5 labels for the 6 images of .*t10k-images-idx3-ubyte\.gz/));
  // the images file's check finds it too (the error names the labels file)
  await assert.rejects(checkDatasetFile('idx', imagesFile, 10), corrupt(labelsFile, /has 5 labels for the 6 images/));
});

test('IDX: a label beyond the classes', async () => {
  const dir = writeMnistDir(tempDir(), 20, 6);
  const file = join(dir, 'train-labels-idx1-ubyte.gz');
  writeFileSync(file, gzipSync(encodeIdx([20], Uint8Array.from({ length: 20 }, (_, i) => (i === 13 ? 10 : 1)))));
  await assert.rejects(checkDatasetFile('idx', file, 10), corrupt(file, /label 10 at 13 is not in 0\.\.9/));
});

test('CIFAR: a size that is not a whole number of records, a bad label, a damaged archive', async () => {
  const dir = writeCifarFolder(tempDir(), 3);
  const file = join(dir, 'data_batch_2.bin');
  const good = readFileSync(file);
  writeFileSync(file, good.subarray(0, good.length - 10));
  await assert.rejects(checkDatasetFile('cifar10', file, 10), corrupt(file, /9209 bytes is not a whole number of 3073-byte CIFAR-10 records/));
  // a CIFAR-10 batch read as CIFAR-100 is not whole 3074-byte records either
  writeFileSync(file, good);
  await assert.rejects(checkDatasetFile('cifar100', file, 100), corrupt(file, /3074-byte CIFAR-100 records/));
  const c100 = writeCifar100Folder(tempDir(), 4, 2);
  const train = join(c100, 'train.bin');
  const bytes = readFileSync(train);
  bytes[2 * 3074] = 20; // coarse label of record 2
  writeFileSync(train, bytes);
  await assert.rejects(checkDatasetFile('cifar100', train, 100), corrupt(train, /record 2 has label byte 0 20, expected 0-19/));
  const root = tempDir();
  writeCifarFolder(join(root, 'cifar-10-batches-bin'), 3);
  const archive = join(root, 'cifar-10-binary.tar.gz');
  await create({ gzip: true, file: archive, cwd: root }, ['cifar-10-batches-bin']);
  await checkDatasetFile('cifar10', archive, 10);
  const whole = readFileSync(archive);
  writeFileSync(archive, whole.subarray(0, Math.floor(whole.length / 2)));
  await assert.rejects(checkDatasetFile('cifar10', archive, 10), corrupt(archive, /archive/));
});
