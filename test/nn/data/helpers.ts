// Shared helpers of the dataset tests: small files in the official formats, in temp folders.
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { encodeIdx } from '../../../src/nn/data/idx.js';
import { encodeCifarBatch } from '../../../src/nn/data/cifar.js';

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
