// Issue #11: corrupt dataset files are found before anything runs. A pipeline in a temporary folder
// trains on small MNIST-like files (PIPELINE_DATA_DIR); after a good run, each damage below makes
// the next `run` (and `status`) stop with exit 2 and DATASET_CORRUPT naming the file and what is
// wrong, no stage started, the lock file and the cache untouched: a wrong IDX magic number, a
// truncated gzip stream, a label file whose count does not match its images. A file that passed
// is not checked again (remembered by content digest), and restoring the files runs nothing. An
// unknown dataset name is exit 2 at the pipeline's line, with the names that exist.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { encodeIdx } from '../../src/nn/data/idx.js';
import { API, REPO, TestProject } from '../helpers/project.js';
import { images, labels, writeMnistDir } from '../nn/data/helpers.js';

const LTH = join(REPO, 'src', 'lth', 'index.ts');

const pipeline = `import { definePipeline } from ${JSON.stringify(API)};
import { datasetInputs, trainDenseRun } from ${JSON.stringify(LTH)};

export default definePipeline({ name: 'data-check' }, (p) => {
  const files = datasetInputs(p, 'mnist');
  trainDenseRun(p, { model: 'lenet300100', dataset: 'mnist', data: { validationSize: 4 }, batchSize: 4, iterations: 1, optimizer: 'sgd', lr: 0.1, evalEvery: 0, checkpoints: [0] }, files);
});
`;

describe('dataset files are checked before anything runs', () => {
  const project = new TestProject({ 'pipeline.ts': pipeline });
  const data = join(project.dir, 'data', 'mnist');
  const env = { PIPELINE_DATA_DIR: join(project.dir, 'data'), PIPELINE_OFFLINE: '1', LTH_QUIET_BACKEND: '1' };
  let good: string;
  after(() => project.remove());

  before(() => {
    writeMnistDir(data, 20, 6);
    const r = project.cli(['run', 'pipeline.ts', '--no-typecheck'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /1 ran/);
    const checks = JSON.parse(project.read('cache/meta/file-checks.json')) as Record<string, true>;
    assert.equal(Object.keys(checks).length, 4, 'the four files passed and are remembered');
    good = project.snapshot();
  });

  const cases: Array<{ name: string; file: string; bytes: () => Uint8Array; what: RegExp; where?: string }> = [
    {
      name: 'a wrong IDX magic number',
      file: 'train-labels-idx1-ubyte.gz',
      bytes: () => gzipSync(encodeIdx([20, 28, 28], images(20, 784))),
      what: /train-labels-idx1-ubyte\.gz: wrong IDX magic number 0x00000803 \(expected 0x00000801/,
    },
    {
      name: 'a truncated gzip stream',
      file: 't10k-images-idx3-ubyte.gz',
      bytes: () => {
        const gz = gzipSync(encodeIdx([6, 28, 28], images(6, 784)));
        return gz.subarray(0, gz.length - 30);
      },
      what: /t10k-images-idx3-ubyte\.gz: gzip data is damaged or truncated/,
    },
    {
      name: 'a label count that does not match the images',
      file: 't10k-labels-idx1-ubyte.gz',
      bytes: () => gzipSync(encodeIdx([5], labels(5))),
      what: /t10k-labels-idx1-ubyte\.gz has 5 labels for the 6 images of \S+t10k-images-idx3-ubyte\.gz/,
    },
  ];

  for (const c of cases) {
    test(`${c.name}: exit 2 naming the file, nothing run, lock file and cache untouched`, () => {
      const file = join(data, c.file);
      const original = readFileSync(file);
      writeFileSync(file, c.bytes());
      try {
        for (const command of ['run', 'status']) {
          const r = project.cli([command, 'pipeline.ts', ...(command === 'run' ? ['--no-typecheck'] : [])], env);
          assert.equal(r.code, 2, `${command}: ${r.stderr}`);
          assert.match(r.stderr, c.what);
          assert.ok(r.stderr.includes(file), `the message names ${file}:\n${r.stderr}`);
          assert.doesNotMatch(r.stderr, /\[(start|done|fail)/, 'no stage started');
          assert.equal(project.snapshot(), good, `${command} changed nothing`);
        }
      } finally {
        writeFileSync(file, original);
      }
    });
  }

  test('an unknown dataset name, in datasetInputs or in a stage param: exit 2 at the line, listing the datasets', () => {
    for (const [file, site] of [
      ['typo-inputs.ts', pipeline.replace("datasetInputs(p, 'mnist'", "datasetInputs(p, 'mnits'")],
      ['typo-param.ts', pipeline.replace("dataset: 'mnist'", "dataset: 'mnits'")],
    ] as const) {
      project.write(file, site);
      const r = project.cli(['run', file, '--no-typecheck'], env);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`${file.replace('.', '\\.')}:[56]: .*unknown dataset "mnits": the datasets are mnist, fashion-mnist, cifar10, cifar100, synthetic`));
      assert.equal(project.snapshot(), good);
    }
  });

  test('the original files again: nothing runs, nothing is checked again', () => {
    const before = readFileSync(project.path('cache/meta/file-checks.json'), 'utf8');
    const r = project.cli(['run', 'pipeline.ts', '--no-typecheck'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /0 ran/);
    assert.equal(project.snapshot(), good);
    assert.equal(readFileSync(project.path('cache/meta/file-checks.json'), 'utf8'), before);
  });
});
