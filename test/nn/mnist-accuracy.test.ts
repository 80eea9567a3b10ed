// LeNet-300-100 on real MNIST: >= 95% test accuracy after 2,000 iterations (batch 60, Adam 1.2e-3,
// as Frankle & Carbin). Skips only when the MNIST folder is absent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { trainLenet } from '../helpers/lenet-accuracy.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const dir = process.env.PIPELINE_DATA_DIR
  ? [join(process.env.PIPELINE_DATA_DIR, 'mnist'), process.env.PIPELINE_DATA_DIR].find((d) => existsSync(join(d, 'train-images-idx3-ubyte.gz')) || existsSync(join(d, 'train-images-idx3-ubyte')))
  : resolve(repo, '../shared/data/mnist');
const present = dir !== undefined && existsSync(dir);

test('LeNet-300-100 reaches >= 95% on MNIST after 2,000 iterations', { skip: !present && `no MNIST folder (${dir ?? 'PIPELINE_DATA_DIR'})`, timeout: 180_000 }, async () => {
  const { testAccuracy: acc, result: r } = await trainLenet('mnist', dir!, 2000);
  assert.ok(acc >= 0.95, `test accuracy ${acc}`);
  assert.equal(r.curve.length, 3);
});
