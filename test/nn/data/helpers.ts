// Shared helpers of the dataset tests: small files in the official formats, in temp folders.
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { encodeIdx } from '../../../src/nn/data/idx.js';
import { CIFAR100, encodeCifarBatch } from '../../../src/nn/data/cifar.js';

export function tempDir(prefix = 'lth-data-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Deterministic bytes: image k, pixel p. */
export function pixel(k: number, p: number): number {
  return (k * 31 + p * 7) & 0xff;
}

export function images(n: number, size: number): Uint8Array {
  const out = new Uint8Array(n * size);
  for (let k = 0; k < n; k++) for (let p = 0; p < size; p++) out[k * size + p] = pixel(k, p);
  return out;
}

export function labels(n: number, classes = 10): Uint8Array {
  return Uint8Array.from({ length: n }, (_, k) => (k * 3) % classes);
}

/** Writes a small MNIST-like folder (gzipped IDX files): `nTrain` and `nTest` images of 28x28. */
export function writeMnistDir(dir: string, nTrain = 20, nTest = 6): string {
  mkdirSync(dir, { recursive: true });
  const gz = (b: Uint8Array) => gzipSync(b);
  writeFileSync(join(dir, 'train-images-idx3-ubyte.gz'), gz(encodeIdx([nTrain, 28, 28], images(nTrain, 784))));
  writeFileSync(join(dir, 'train-labels-idx1-ubyte.gz'), gz(encodeIdx([nTrain], labels(nTrain))));
  writeFileSync(join(dir, 't10k-images-idx3-ubyte.gz'), gz(encodeIdx([nTest, 28, 28], images(nTest, 784))));
  writeFileSync(join(dir, 't10k-labels-idx1-ubyte.gz'), gz(encodeIdx([nTest], labels(nTest))));
  return dir;
}

/** Writes the six CIFAR-10 batch files (`perBatch` records each) into `dir`. */
export function writeCifarFolder(dir: string, perBatch = 4): string {
  mkdirSync(dir, { recursive: true });
  const names = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin'];
  names.forEach((name, b) => {
    const img = new Uint8Array(perBatch * 3072);
    for (let k = 0; k < perBatch; k++) for (let p = 0; p < 3072; p++) img[k * 3072 + p] = pixel(b * perBatch + k, p);
    const lab = Uint8Array.from({ length: perBatch }, (_, k) => (b * perBatch + k) % 10);
    writeFileSync(join(dir, name), encodeCifarBatch(img, lab));
  });
  return dir;
}

/** The fine label of CIFAR-100 test record k (0..99), and a coarse label (0..19) that differs from it. */
export const fineLabel = (k: number): number => (k * 7 + 3) % 100;
export const coarseLabel = (k: number): number => (k * 3 + 1) % 20;

/**
 * Writes CIFAR-100 binary files (`train.bin`, `test.bin`: 1 coarse + 1 fine label byte + 3072
 * pixel bytes per record) into `dir`; record k of the training file is example k, of the test
 * file example `nTrain + k`.
 */
export function writeCifar100Folder(dir: string, nTrain = 30, nTest = 10): string {
  mkdirSync(dir, { recursive: true });
  const write = (name: string, first: number, n: number) => {
    const img = new Uint8Array(n * 3072);
    for (let k = 0; k < n; k++) for (let p = 0; p < 3072; p++) img[k * 3072 + p] = pixel(first + k, p);
    const fine = Uint8Array.from({ length: n }, (_, k) => fineLabel(first + k));
    const coarse = Uint8Array.from({ length: n }, (_, k) => coarseLabel(first + k));
    writeFileSync(join(dir, name), encodeCifarBatch(img, fine, CIFAR100, coarse));
  };
  write('train.bin', 0, nTrain);
  write('test.bin', nTrain, nTest);
  return dir;
}
