// IDX and CIFAR-10 binary parsing: good files give the right values; truncated files and wrong
// magic numbers fail with DATASET_CORRUPT naming the file; the official tar.gz layout is read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { create } from 'tar';
import { isPipelineError } from '../../../src/errors.js';
import { encodeIdx, readIdxFile } from '../../../src/nn/data/idx.js';
import { encodeCifarBatch, parseCifarBatch, readCifarArchive } from '../../../src/nn/data/cifar.js';
import { loadDataset } from '../../../src/nn/data/index.js';
import { images, labels, pixel, tempDir, writeCifarFolder, writeMnistDir } from './helpers.js';

function corruptNaming(file: string) {
  return (e: unknown) => {
    assert.ok(isPipelineError(e, 'DATASET_CORRUPT'), `expected DATASET_CORRUPT, got ${String(e)}`);
    assert.ok(e.message.includes(file), `message should name ${file}: ${e.message}`);
    assert.equal(e.where, file);
    assert.ok(e.hint);
    return true;
  };
}

test('IDX: a gzipped image file and a plain label file parse to the right values', async () => {
  const dir = tempDir();
  const img = join(dir, 'imgs.gz');
  const lab = join(dir, 'labels');
  writeFileSync(img, gzipSync(encodeIdx([3, 28, 28], images(3, 784))));
  writeFileSync(lab, encodeIdx([3], Uint8Array.from([7, 0, 9])));
  const a = await readIdxFile(img, 3);
  assert.deepEqual(a.dims, [3, 28, 28]);
  assert.equal(a.data.length, 3 * 784);
  assert.equal(a.data[784 * 2 + 5], pixel(2, 5));
  const b = await readIdxFile(lab, 1);
  assert.deepEqual(b.dims, [3]);
  assert.deepEqual([...b.data], [7, 0, 9]);
});

test('IDX: a truncated file fails with DATASET_CORRUPT naming the file', async () => {
  const dir = tempDir();
  const file = join(dir, 'train-images-idx3-ubyte');
  const full = encodeIdx([3, 28, 28], images(3, 784));
  writeFileSync(file, full.subarray(0, full.length - 100));
  await assert.rejects(readIdxFile(file, 3), (e: unknown) => corruptNaming(file)(e) && /truncated/.test((e as Error).message));
  // a truncated gzip stream too
  const gz = join(dir, 'train-images-idx3-ubyte.gz');
  const zipped = gzipSync(full);
  writeFileSync(gz, zipped.subarray(0, zipped.length - 50));
  await assert.rejects(readIdxFile(gz, 3), corruptNaming(gz));
});

test('IDX: a wrong magic number fails with DATASET_CORRUPT naming the file', async () => {
  const dir = tempDir();
  const file = join(dir, 'train-labels-idx1-ubyte.gz');
  // an image file (0x0803) where labels (0x0801) are expected
  writeFileSync(file, gzipSync(encodeIdx([2, 28, 28], images(2, 784))));
  await assert.rejects(readIdxFile(file, 1), (e: unknown) => corruptNaming(file)(e) && /magic/.test((e as Error).message));
});

test('loadDataset: a bad magic number inside a dataset folder names that file', async () => {
  const dir = writeMnistDir(tempDir());
  const bad = join(dir, 't10k-labels-idx1-ubyte.gz');
  writeFileSync(bad, gzipSync(Uint8Array.from([0, 0, 8, 9, 0, 0, 0, 1, 5])));
  await assert.rejects(loadDataset('mnist', { path: dir, download: false, validationSize: 5 }), corruptNaming(bad));
});

test('CIFAR-10: records decode to NHWC with the R, G, B planes interleaved', () => {
  const rec = new Uint8Array(2 * 3073);
  rec[0] = 3;
  rec[3073] = 9;
  for (let p = 0; p < 1024; p++) {
    rec[1 + p] = 10; // red plane of record 0
    rec[1 + 1024 + p] = 20;
    rec[1 + 2048 + p] = p & 0xff;
  }
  rec[3073 + 1 + 2048 + 5] = 77; // blue of pixel 5, record 1
  const r = parseCifarBatch(rec, 'x.bin');
  assert.equal(r.n, 2);
  assert.deepEqual([...r.labels], [3, 9]);
  assert.deepEqual([...r.images.subarray(0, 6)], [10, 20, 0, 10, 20, 1]);
  assert.equal(r.images[3072 + 5 * 3 + 2], 77);
  // encoder round trip
  assert.deepEqual(encodeCifarBatch(r.images, r.labels), rec);
});

test('CIFAR-10: a truncated batch or a bad label fails with DATASET_CORRUPT naming the file', async () => {
  const dir = writeCifarFolder(join(tempDir(), 'cifar-10-batches-bin'), 2);
  const file = join(dir, 'data_batch_3.bin');
  const good = encodeCifarBatch(images(2, 3072), labels(2));
  writeFileSync(file, good.subarray(0, good.length - 1));
  await assert.rejects(loadDataset('cifar10', { path: dir, download: false, validationSize: 1 }), corruptNaming(file));
  const badLabel = Uint8Array.from(good);
  badLabel[3073] = 12;
  writeFileSync(file, badLabel);
  await assert.rejects(loadDataset('cifar10', { path: dir, download: false, validationSize: 1 }), corruptNaming(file));
});

test('CIFAR-10: the extracted folder loads, with per-channel normalisation and augmentation on', async () => {
  const root = tempDir();
  writeCifarFolder(join(root, 'cifar-10-batches-bin'), 4);
  const ds = await loadDataset('cifar10', { path: root, download: false, validationSize: 5 });
  assert.deepEqual(ds.inputShape, [32, 32, 3]);
  assert.equal(ds.size('train') + ds.size('validation'), 20);
  assert.equal(ds.size('validation'), 5);
  assert.equal(ds.size('test'), 4);
  assert.equal(ds.numClasses, 10);
  assert.ok(ds.augmentation);
  // test image 0 was written (NHWC, encoded to planes by encodeCifarBatch) as pixel(20, p)
  const t = ds.splits.test;
  assert.equal(t.images[3 * 7 + 1], pixel(20, 3 * 7 + 1));
  assert.equal(t.labels[0], 0);
  // normalised training inputs have roughly zero mean per channel
  const all = Array.from({ length: ds.size('train') }, (_, i) => i);
  const { x } = ds.batch('train', all);
  let m = 0;
  for (let i = 0; i < x.length; i += 3) m += x[i]!;
  assert.ok(Math.abs(m / (x.length / 3)) < 1e-4);
});

test('CIFAR-10: the official tar.gz layout is read (entries under cifar-10-batches-bin/)', async () => {
  const root = tempDir();
  writeCifarFolder(join(root, 'src', 'cifar-10-batches-bin'), 3);
  writeFileSync(join(root, 'src', 'cifar-10-batches-bin', 'batches.meta.txt'), 'airplane\n');
  const archive = join(root, 'cifar-10-binary.tar.gz');
  await create({ gzip: true, file: archive, cwd: join(root, 'src') }, ['cifar-10-batches-bin']);
  const raw = await readCifarArchive(archive);
  assert.equal(raw.train.n, 15);
  assert.equal(raw.test.n, 3);
  assert.deepEqual([...raw.test.labels], [5, 6, 7]);
  // found through the folder lookup too, and by passing the archive itself
  mkdirSync(join(root, 'data'));
  writeFileSync(join(root, 'data', 'cifar-10-binary.tar.gz'), (await import('node:fs')).readFileSync(archive));
  const viaDir = await loadDataset('cifar10', { path: join(root, 'data'), download: false, validationSize: 3 });
  assert.equal(viaDir.source, join(root, 'data', 'cifar-10-binary.tar.gz'));
  assert.equal(viaDir.size('train'), 12);
  const viaFile = await loadDataset('cifar10', { path: archive, download: false, validationSize: 3 });
  assert.deepEqual(viaFile.splits.train.labels, viaDir.splits.train.labels);
});

test('CIFAR-10: a truncated tar.gz fails with DATASET_CORRUPT naming the archive', async () => {
  const root = tempDir();
  writeCifarFolder(join(root, 'cifar-10-batches-bin'), 3);
  const archive = join(root, 'cifar-10-binary.tar.gz');
  await create({ gzip: true, file: archive, cwd: root }, ['cifar-10-batches-bin']);
  const bytes = (await import('node:fs')).readFileSync(archive);
  const cut = join(root, 'cut.tar.gz');
  writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
  await assert.rejects(readCifarArchive(cut), corruptNaming(cut));
});
