// Issue #12, "what it must show" 1 and 2: a pipeline in a folder of its own defines a 784-500-250-10
// MLP with defineModel and a small dataset with defineDataset, and runs two IMP levels on them
// (the stages in child processes, which import the defining module first); a second run executes
// nothing; editing the model's definition reruns the stages that use it and nothing else; a model
// name that parses but is invalid, and an unknown one, are exit 2 before anything runs.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { API, REPO, TestProject, type CliResult } from '../helpers/project.js';

const LTH = join(REPO, 'src', 'lth', 'index.ts');

const MLP_LAYERS = 'l.flatten(), l.dense(500), l.relu(), l.dense(250), l.relu(), l.dense(10)';

/** The pipeline file; `mlpLayers` and `noise` are what the tests edit. */
function pipelineSource(opts: { mlpLayers?: string; noise?: number } = {}): string {
  return `import { definePipeline } from ${JSON.stringify(API)};
import { defineDataset, defineModel, imp, trainDense, trainDenseRun } from ${JSON.stringify(LTH)};

// The network under study: 784-500-250-10.
defineModel({
  name: 'mlp-500-250',
  inputShape: [28, 28, 1],
  numClasses: 10,
  build: (l) => [${opts.mlpLayers ?? MLP_LAYERS}],
});

// Another network, trained once beside the IMP run.
defineModel({ name: 'probe', inputShape: [28, 28, 1], numClasses: 10, build: (l) => [l.flatten(), l.dense(10)] });

/** n images of class i % 10: a bright band (rows 2.8c..2.8c+2.8) over seeded noise. */
function blobs(n: number, seed: number) {
  let s = seed >>> 0;
  const rand = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const images = new Uint8Array(n * 784);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 10;
    for (let j = 0; j < 784; j++) images[i * 784 + j] = (Math.floor(j / 78.4) === i % 10 ? 180 : 0) + Math.floor(rand() * ${opts.noise ?? 60});
  }
  return { images, labels };
}

defineDataset({ name: 'blobs', load: () => ({ shape: [28, 28, 1], numClasses: 10, train: blobs(240, 1), test: blobs(100, 2) }) });

export default definePipeline({ name: 'own-model', params: { model: 'mlp-500-250' } }, (p, cfg) => {
  const training = { dataset: 'blobs', data: { validationSize: 40 }, batchSize: 20, iterations: 12, optimizer: 'adam', lr: 1e-3, evalEvery: 6 } as const;
  const dense = trainDenseRun(p, { ...training, model: cfg.model, checkpoints: [0] }, []);
  imp(p, { dense, levels: 2, prune: { scope: 'layerwise', rates: { fc: 0.5, output: 0.25 } }, rewindTo: 0 });
  p.stage(trainDense, { ...training, model: 'probe', files: [] }, { id: 'probe' });
});
`;
}

const ENV = { LTH_QUIET_BACKEND: '1', PIPELINE_OFFLINE: '1' };

function executed(r: CliResult): string[] {
  return `${r.stdout}\n${r.stderr}`
    .split('\n')
    .map((l) => /^\[done\]\s+(\S+)/.exec(l)?.[1])
    .filter((x): x is string => Boolean(x))
    .sort();
}

const IMP_STAGES = ['L1/prune', 'L1/retrain', 'L1/rewind', 'L2/prune', 'L2/retrain', 'L2/rewind', 'mask-stats', 'summary', 'train-dense'];

describe('a pipeline of its own: defineModel and defineDataset', () => {
  const project = new TestProject({ 'pipeline.ts': pipelineSource() });
  after(() => project.remove());

  test('a model name that parses but is invalid, or is unknown: exit 2 before anything runs, naming what is valid', () => {
    const invalid = project.cli(['run', 'pipeline.ts', '--set', 'model=cifar_resnet_21'], ENV);
    assert.equal(invalid.code, 2, invalid.stderr);
    assert.match(invalid.stderr, /model 'cifar_resnet_21' is not a valid cifar_resnet_<depth>\[_<width>\]: the depth must be 6n\+2/);
    assert.match(invalid.stderr, /pipeline\.ts:\d+/);
    const unknown = project.cli(['run', 'pipeline.ts', '--set', 'model=mlp-500'], ENV);
    assert.equal(unknown.code, 2, unknown.stderr);
    // What exists: the built-in names, the parameterized ones, and this project's own.
    assert.match(unknown.stderr, /unknown model "mlp-500": the models are lenet300100, .*vgg19, mlp-500-250, probe, and by name mnist_lenet_<w1>\[_<w2>\.\.\.\], cifar_conv_<2\|4\|6>, cifar_resnet_<depth>\[_<width>\], cifar_vgg_<11\|13\|16\|19>/);
    for (const r of [invalid, unknown]) assert.deepEqual(executed(r), []);
    assert.ok(!project.exists('dvc-like.lock'), 'no lock file written');
  });

  test('two IMP levels on the project\'s MLP and dataset run; a second run executes nothing', () => {
    const first = project.cli(['run', 'pipeline.ts'], ENV);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(executed(first), [...IMP_STAGES, 'probe'].sort());
    const second = project.cli(['run', 'pipeline.ts'], ENV);
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(executed(second), []);
    assert.match(second.stderr, /0 ran, 10 from cache/);
  });

  test('a comment in the model\'s definition changes nothing; editing its layers reruns the stages that use it, and nothing else', () => {
    project.write('pipeline.ts', pipelineSource({ mlpLayers: `l.flatten(), /* hidden layers */ ${MLP_LAYERS.slice('l.flatten(), '.length)}` }));
    const comment = project.cli(['status', 'pipeline.ts'], ENV);
    assert.equal(comment.code, 0, comment.stderr);
    assert.match(comment.stdout, /all 10 stages up to date/);

    // Still 784-500-250-10: the first hidden layer initialised another way.
    project.write('pipeline.ts', pipelineSource({ mlpLayers: MLP_LAYERS.replace('l.dense(500)', "l.dense(500, { init: 'glorot_normal' })") }));
    const status = project.cli(['status', 'pipeline.ts'], ENV);
    assert.match(status.stdout, /stale +train-dense\n +the code of 'train-dense' or of what it uses \(model 'mlp-500-250', dataset 'blobs'\) changed/);
    assert.match(status.stdout, /stale +L1\/prune\n +the code of 'prune' or of what it uses \(model 'mlp-500-250'\) changed/);
    assert.match(status.stdout, /own-model: 9 stale, 0 in the run cache, 1 up to date/);
    assert.doesNotMatch(status.stdout, /probe/);
    const edited = project.cli(['run', 'pipeline.ts'], ENV);
    assert.equal(edited.code, 0, edited.stderr);
    assert.deepEqual(executed(edited), IMP_STAGES, 'probe, which does not use the MLP, comes from the cache');
    assert.deepEqual(executed(project.cli(['run', 'pipeline.ts'], ENV)), []);
  });

  test("editing the dataset's definition makes every stage that reads it stale", () => {
    project.write('pipeline.ts', pipelineSource({ mlpLayers: MLP_LAYERS.replace('l.dense(500)', "l.dense(500, { init: 'glorot_normal' })"), noise: 50 }));
    const status = project.cli(['status', 'pipeline.ts'], ENV);
    assert.match(status.stdout, /stale +train-dense\n +the code of 'train-dense' or of what it uses \(model 'mlp-500-250', dataset 'blobs'\) changed/);
    assert.match(status.stdout, /stale +probe\n +the code of 'train-dense' or of what it uses \(model 'probe', dataset 'blobs'\) changed/);
    assert.match(status.stdout, /stale +L1\/prune\n +input 'weights' comes from 'train-dense', which must run first/);
  });
});
