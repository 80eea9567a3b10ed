// Issue #12: open_lth-style parameterized names (parameter counts from open_lth's own
// constructions), the old names as aliases of the same networks, and networks of a project's own
// written with the layer builders.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { isPipelineError } from '../../src/errors.js';
import { initBackend, tf } from '../../src/nn/backend.js';
import { countParams, createModel, modelNameProblem, MODEL_NAMES, registerModel, unregisterModel, type Model, type ModelDefinition } from '../../src/nn/models/index.js';

const trainable = (m: Model): number => countParams(m, m.trainable);
const prunable = (m: Model): number => countParams(m, m.prunable);

// ---- open_lth's constructions, as parameter counts (PyTorch's parameters(): weights, biases, BN weight/bias) --

/** models/mnist_lenet.py: nn.Linear(current, size) per width, then self.fc = nn.Linear(current, outputs). */
function openLthLenet(plan: number[], outputs = 10): { total: number; weights: number } {
  let total = 0;
  let weights = 0;
  let current = 784;
  for (const size of [...plan, outputs]) {
    weights += current * size;
    total += current * size + size;
    current = size;
  }
  return { total, weights };
}

/**
 * models/cifar_resnet.py: conv 3x3 (3 -> W, no bias) + BN; plan [(W, D), (2W, D), (4W, D)] with
 * D = (N - 2) / 6; each block conv3x3 + BN + conv3x3 + BN, plus a 1x1 conv + BN shortcut where it
 * downsamples or the width changes; fc (4W -> outputs).
 */
function openLthResnet(depth: number, width = 16, outputs = 10): { total: number; weights: number } {
  const d = (depth - 2) / 6;
  const plan: Array<[number, number]> = [
    [width, d],
    [2 * width, d],
    [4 * width, d],
  ];
  let weights = 0;
  let total = 0;
  const conv = (cin: number, cout: number, k: number): void => {
    weights += cin * cout * k * k;
    total += cin * cout * k * k;
  };
  const bn = (c: number): void => {
    total += 2 * c;
  };
  let current = plan[0]![0];
  conv(3, current, 3);
  bn(current);
  plan.forEach(([filters, blocks], segment) => {
    for (let b = 0; b < blocks; b++) {
      const downsample = segment > 0 && b === 0;
      conv(current, filters, 3);
      bn(filters);
      conv(filters, filters, 3);
      bn(filters);
      if (downsample || current !== filters) {
        conv(current, filters, 1);
        bn(filters);
      }
      current = filters;
    }
  });
  weights += plan[2]![0] * outputs;
  total += plan[2]![0] * outputs + outputs;
  return { total, weights };
}

/** models/cifar_vgg.py: per plan entry a ConvModule (conv 3x3 with bias + BN) or 'M'; fc (512 -> outputs). */
function openLthVgg(plan: Array<number | 'M'>, outputs = 10): { total: number; weights: number } {
  let filters = 3;
  let total = 0;
  let weights = 0;
  for (const spec of plan) {
    if (spec === 'M') continue;
    weights += filters * spec * 9;
    total += filters * spec * 9 + spec + 2 * spec;
    filters = spec;
  }
  return { total: total + 512 * outputs + outputs, weights: weights + 512 * outputs };
}

test('open_lth-style names build with the parameter counts of open_lth\'s constructions', () => {
  const cases: Array<[string, { total: number; weights: number }]> = [
    ['mnist_lenet_500_250', openLthLenet([500, 250])],
    ['mnist_lenet_300_100', openLthLenet([300, 100])],
    ['mnist_lenet_1024', openLthLenet([1024])],
    ['cifar_resnet_32', openLthResnet(32)],
    ['cifar_resnet_20_64', openLthResnet(20, 64)],
    ['cifar_resnet_56_32', openLthResnet(56, 32)],
    ['cifar_vgg_11', openLthVgg([64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512])],
    ['cifar_vgg_16', openLthVgg([64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512])],
  ];
  for (const [name, expected] of cases) {
    const m = createModel(name);
    assert.deepEqual({ total: trainable(m), weights: prunable(m) }, expected, name);
    assert.equal(m.name, name);
  }
  // The formulas against figures published for them: ResNet-20 has 272,474 parameters (open_lth's README).
  assert.equal(openLthResnet(20).total, 272_474);
  assert.equal(openLthLenet([300, 100]).total, 266_610);
  // Shapes: cifar_resnet_20_64's stages are 64, 128, 256 wide; the last kernel is the 10-way output.
  const r = createModel('cifar_resnet_20_64');
  assert.deepEqual(r.params.find((p) => p.name === 'layer3.0.shortcut.kernel')?.shape, [1, 1, 128, 256]);
  assert.deepEqual(r.params.find((p) => p.name === 'fc.kernel')?.shape, [256, 10]);
  assert.equal(r.outputLayer, 'fc.kernel');
  const l = createModel('mnist_lenet_500_250');
  assert.deepEqual(l.prunable, ['fc1.kernel', 'fc2.kernel', 'fc3.kernel']);
  assert.deepEqual(l.layerKinds, { 'fc1.kernel': 'fc', 'fc2.kernel': 'fc', 'fc3.kernel': 'output' });
});

test('the old names are the same networks as their open_lth-style names, with the same weights; vgg16/vgg19 are not (no conv bias)', () => {
  const aliases: Array<[string, string]> = [
    ['lenet300100', 'mnist_lenet_300_100'],
    ['conv2', 'cifar_conv_2'],
    ['conv4', 'cifar_conv_4'],
    ['conv6', 'cifar_conv_6'],
    ['resnet20', 'cifar_resnet_20'],
    ['resnet20', 'cifar_resnet_20_16'],
  ];
  for (const [old, open] of aliases) {
    const a = createModel(old, { seed: 5 });
    const b = createModel(open, { seed: 5 });
    assert.deepEqual(a.params, b.params, `${old} / ${open}`);
    assert.deepEqual(a.init(), b.init(), `${old} / ${open}: initial weights`);
    assert.equal(a.outputLayer, b.outputLayer);
  }
  for (const d of [16, 19] as const) {
    const ours = createModel(`vgg${d}`);
    const theirs = createModel(`cifar_vgg_${d}`);
    const convBiases = theirs.params.filter((p) => /^conv\d+\.bias$/.test(p.name)).reduce((a, p) => a + p.shape[0]!, 0);
    assert.equal(trainable(theirs) - trainable(ours), convBiases, `vgg${d}`);
    assert.equal(convBiases, d === 16 ? 4_224 : 5_504);
    assert.equal(prunable(theirs), prunable(ours));
  }
});

test('a name that parses but is invalid, and an unknown name, are PARAM_INVALID saying what is valid', () => {
  const invalid: Array<[string, RegExp]> = [
    ['cifar_resnet_21', /cifar_resnet_<depth>\[_<width>\].*6n\+2.*got 21/],
    ['cifar_resnet_2', /6n\+2/],
    ['cifar_resnet_20_0', /positive integers/],
    ['cifar_resnet_20_16_1', /positive integers/],
    ['cifar_vgg_12', /one of 11, 13, 16, 19/],
    ['cifar_conv_3', /one of 2, 4, 6/],
    ['mnist_lenet_', /positive integers/],
    ['mnist_lenet_300_x', /positive integers/],
  ];
  for (const [name, message] of invalid) {
    assert.throws(
      () => createModel(name),
      (e: unknown) => isPipelineError(e, 'PARAM_INVALID') && message.test(e.message),
      name,
    );
    assert.match(modelNameProblem(name) ?? '', message);
  }
  assert.throws(
    () => createModel('resnet50'),
    (e: unknown) =>
      isPipelineError(e, 'PARAM_INVALID') &&
      /unknown model "resnet50"/.test(e.message) &&
      MODEL_NAMES.every((n) => e.message.includes(n)) &&
      e.message.includes('cifar_resnet_<depth>[_<width>]') &&
      e.message.includes('mnist_lenet_<w1>[_<w2>...]') &&
      /defineModel/.test(e.message),
  );
  for (const ok of ['resnet20', 'cifar_resnet_110', 'mnist_lenet_10', 'cifar_vgg_19', 'cifar_conv_6']) assert.equal(modelNameProblem(ok), undefined, ok);
});

// ---- a project's own networks ------------------------------------------------------------------

const mine: string[] = [];
after(() => mine.forEach((n) => unregisterModel(n)));
function register(def: ModelDefinition, file = '/project/models.ts'): void {
  registerModel(def, { where: `${file}:1`, file });
  mine.push(def.name);
}

test('a network written with the layer builders is the built-in one of the same structure, weight for weight', () => {
  register({
    name: 'my-mlp',
    inputShape: [28, 28, 1],
    numClasses: 10,
    init: 'glorot_normal',
    build: (l) => [l.flatten(), l.dense(500), l.relu(), l.dense(250), l.relu(), l.dense(10)],
  });
  const a = createModel('my-mlp', { seed: 2 });
  const b = createModel('mnist_lenet_500_250', { seed: 2 });
  assert.deepEqual(a.params, b.params);
  assert.deepEqual(a.init(), b.init());
  assert.equal(modelNameProblem('my-mlp'), undefined);
  assert.match(modelNameProblem('my-mlps') ?? '', /unknown model "my-mlps".*my-mlp/);
  // Without the dropout layers it was not written with, a dropout rate is refused.
  assert.throws(() => createModel('my-mlp', { dropout: 0.1 }), (e: unknown) => isPipelineError(e, 'PARAM_INVALID') && /no dropout layers/.test(e.message));
});

test('conv, batch norm, pooling, residual blocks and dropout: names, kinds, shapes and a forward pass (wasm)', async () => {
  register({
    name: 'tiny-resnet',
    inputShape: [8, 8, 3],
    numClasses: 4,
    build: (l, o) => [
      l.conv(8, { bias: false }),
      l.batchNorm(),
      l.relu(),
      l.basicBlock(8, { name: 'stage1' }),
      l.basicBlock(16, { stride: 2, name: 'stage2' }),
      l.block('head', l.residual([l.conv(16), l.relu()]), l.maxPool(2), l.avgPool(2)),
      l.flatten(),
      l.dropout(o.dropout),
      l.dense(4),
    ],
  });
  const m = createModel('tiny-resnet', { seed: 1, dropout: 0.5 });
  assert.deepEqual(m.prunable, [
    'conv1.kernel',
    'stage1.conv1.kernel',
    'stage1.conv2.kernel',
    'stage2.conv1.kernel',
    'stage2.conv2.kernel',
    'stage2.shortcut.kernel',
    'head.conv1.kernel',
    'fc1.kernel',
  ]);
  assert.equal(m.outputLayer, 'fc1.kernel');
  assert.equal(m.layerKinds['fc1.kernel'], 'output');
  assert.equal(m.layerKinds['stage2.shortcut.kernel'], 'conv');
  assert.deepEqual(m.params.find((p) => p.name === 'stage2.shortcut.kernel')?.shape, [1, 1, 8, 16]);
  assert.deepEqual(m.params.find((p) => p.name === 'fc1.kernel')?.shape, [16, 4]); // 8x8 -> 4x4 (stride 2) -> 2x2 -> 1x1, 16 channels
  assert.ok(m.buffers.includes('stage2.shortcut_bn.running_var'));
  assert.ok(m.params.some((p) => p.name === 'head.conv1.bias'));
  assert.ok(!m.params.some((p) => p.name === 'stage1.conv1.bias'));

  await initBackend('wasm');
  const t = tf();
  const w = Object.fromEntries(Object.entries(m.init()).map(([k, v]) => [k, t.tensor(v.data, v.shape)]));
  const before = t.memory().numTensors;
  for (const training of [false, true]) {
    const { shape, buffers } = t.tidy(() => {
      const out = m.forward(w, t.randomNormal([3, 8, 8, 3], 0, 1, 'float32', 1), { training, dropoutSeed: 3 });
      return { shape: out.logits.shape, buffers: Object.keys(out.buffers).length };
    });
    assert.deepEqual(shape, [3, 4]);
    assert.equal(buffers, training ? m.buffers.length : 0);
  }
  assert.equal(t.memory().numTensors, before);
  t.dispose(Object.values(w));
});

test('definition mistakes are PIPELINE_INVALID where the model is defined; built-in names cannot be taken', () => {
  const bad = (def: Partial<ModelDefinition> & { name: string }, message: RegExp): void =>
    assert.throws(
      () => register({ inputShape: [28, 28, 1], numClasses: 10, build: (l) => [l.flatten(), l.dense(10)], ...def }, '/project/bad.ts'),
      (e: unknown) => isPipelineError(e, 'PIPELINE_INVALID') && message.test(e.message) && /\/project\/bad\.ts:1/.test(e.where ?? ''),
      def.name,
    );
  bad({ name: 'no-flatten', build: (l) => [l.dense(10)] }, /dense 'fc1' needs a flat input \[n\] or a sequence \[tokens, n\], got \[28, 28, 1\]/);
  bad({ name: 'wrong-output', build: (l) => [l.flatten(), l.dense(7)] }, /output is \[7\], not the \[10\]/);
  bad({ name: 'same-names', build: (l) => [l.flatten(), l.dense(20, { name: 'fc' }), l.dense(10, { name: 'fc' })] }, /two weights are named 'fc.kernel'/);
  bad({ name: 'no-shortcut', build: (l) => [l.residual([l.conv(4)]), l.flatten(), l.dense(10)] }, /residual: the main path gives \[28, 28, 4\], the shortcut \[28, 28, 1\]/);
  bad({ name: 'too-small', build: (l) => [l.conv(4, { kernel: 5, padding: 0, stride: 40 }), l.maxPool(2), l.flatten(), l.dense(10)] }, /window of 2 does not fit/);
  bad({ name: 'not-a-layer', build: (l) => [l.flatten(), undefined as never, l.dense(10)] }, /a layer is undefined/);
  bad({ name: 'bad-width', build: (l) => [l.flatten(), l.dense(0), l.dense(10)] }, /units must be a positive integer/);
  bad({ name: 'resnet20' }, /built-in model/);
  bad({ name: 'cifar_resnet_mine' }, /starting with 'cifar_resnet_' are the built-in cifar_resnet_<depth>\[_<width>\]/);
  bad({ name: '../x' }, /must start with a letter/);
  // Defined again by the same file: replaced (a module imported again); by another file: refused.
  register({ name: 'twice', inputShape: [4], numClasses: 2, build: (l) => l.dense(2) }, '/project/a.ts');
  register({ name: 'twice', inputShape: [4], numClasses: 2, build: (l) => [l.dense(3), l.relu(), l.dense(2)] }, '/project/a.ts');
  assert.equal(createModel('twice').prunable.length, 2);
  assert.throws(
    () => register({ name: 'twice', inputShape: [4], numClasses: 2, build: (l) => l.dense(2) }, '/project/b.ts'),
    (e: unknown) => isPipelineError(e, 'PIPELINE_INVALID') && /two models are named 'twice'/.test(e.message) && /\/project\/a\.ts:1/.test(e.hint ?? ''),
  );
});

test('dense layers fed by a flattened image say so, with its [H, W, C] (what a PyTorch export reorders)', () => {
  assert.deepEqual(createModel('conv6').flattenedInputs, { fc1: [4, 4, 256] });
  assert.deepEqual(createModel('cifar_conv_2').flattenedInputs, { fc1: [16, 16, 64] });
  assert.deepEqual(createModel('lenet300100').flattenedInputs, { fc1: [28, 28, 1] });
  assert.deepEqual(createModel('vgg16').flattenedInputs, { fc: [1, 1, 512] });
  assert.deepEqual(createModel('resnet20').flattenedInputs, {}, 'global average pooling, no flatten');
});
