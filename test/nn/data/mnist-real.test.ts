// The real MNIST files at ../shared/data/mnist (relative to the repo root), if present: published
// sha256s, and the seeded 55000 / 5000 validation split.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hashFile, loadDataset } from '../../../src/nn/data/index.js';

const dir = fileURLToPath(new URL('../../../../shared/data/mnist', import.meta.url));
const present = existsSync(join(dir, 'train-images-idx3-ubyte.gz'));
const skip = present ? false : `no MNIST at ${dir}`;

const published: Record<string, string> = {
  'train-images-idx3-ubyte.gz': '440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609',
  'train-labels-idx1-ubyte.gz': '3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c',
  't10k-images-idx3-ubyte.gz': '8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6',
  't10k-labels-idx1-ubyte.gz': 'f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6',
};

test('the shared MNIST files have the published sha256s', { skip }, async () => {
  for (const [name, sha] of Object.entries(published)) assert.equal(await hashFile(join(dir, name), 'sha256'), sha, name);
});

test('MNIST: 55000 / 5000 / 10000, seeded split, strictly verified, normalised to [0, 1]', { skip }, async () => {
  const ds = await loadDataset('mnist', { path: dir, download: false, verify: 'strict' });
  assert.deepEqual([ds.size('train'), ds.size('validation'), ds.size('test')], [55000, 5000, 10000]);
  assert.deepEqual(ds.inputShape, [28, 28, 1]);
  // label counts of the first test labels (7, 2, 1, 0, 4 are the well-known first five)
  assert.deepEqual([...ds.splits.test.labels.subarray(0, 5)], [7, 2, 1, 0, 4]);
  const { x, y } = ds.batch('test', [0]);
  assert.equal(y[0], 7);
  assert.ok(Math.max(...x) <= 1 && Math.min(...x) >= 0 && Math.max(...x) > 0.99);
  // a different split seed holds out other examples; the same seed the same ones
  const again = await loadDataset('mnist', { path: dir, download: false, subset: { validation: 100 } });
  const other = await loadDataset('mnist', { path: dir, download: false, splitSeed: 1, subset: { validation: 100 } });
  const sub = await loadDataset('mnist', { path: dir, download: false, subset: { validation: 100 } });
  assert.deepEqual(again.splits.validation.labels, sub.splits.validation.labels);
  assert.notDeepEqual(again.splits.validation.images, other.splits.validation.images);
});
