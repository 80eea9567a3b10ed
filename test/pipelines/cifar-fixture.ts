/**
 * Small generated CIFAR-10 files in the official binary format (cifar-10-batches-bin/), for the
 * end-to-end tests of the CIFAR pipelines: each class has its own colour and stripe pattern, plus
 * seeded noise, so that a few iterations already learn something.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeCifarBatch } from '../../src/nn/data/index.js';
import { hashInts } from '../../src/nn/rng.js';

function batch(n: number, seed: number): Uint8Array {
  const images = new Uint8Array(n * 32 * 32 * 3);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = hashInts(seed, i) % 10;
    labels[i] = c;
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        const stripe = ((c < 5 ? x : y) >> (1 + (c % 3))) & 1;
        for (let ch = 0; ch < 3; ch++) {
          const base = ((c * 37 + ch * 91) % 200) + 28 * stripe;
          const noise = (hashInts(seed, i, y * 32 + x, ch) & 63) - 32;
          images[((i * 32 + y) * 32 + x) * 3 + ch] = Math.max(0, Math.min(255, base + noise));
        }
      }
    }
  }
  return encodeCifarBatch(images, labels);
}

/** Writes `<dir>/cifar10/cifar-10-batches-bin/` with 5 x `perBatch` training and `test` test records; returns `dir`. */
export function writeCifarFixture(dir: string, perBatch = 120, test = 100): string {
  const folder = join(dir, 'cifar10', 'cifar-10-batches-bin');
  mkdirSync(folder, { recursive: true });
  for (let b = 1; b <= 5; b++) writeFileSync(join(folder, `data_batch_${b}.bin`), batch(perBatch, b));
  writeFileSync(join(folder, 'test_batch.bin'), batch(test, 99));
  return dir;
}
