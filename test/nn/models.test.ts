// Parameter counts (exact, from the architectures), names, seeded initialisation, forward shapes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, tf } from '../../src/nn/backend.js';
import { countParams, createModel, MODEL_NAMES } from '../../src/nn/models/index.js';
import { isPipelineError } from '../../src/errors.js';

// [prunable weights, all trainable parameters]
const EXPECTED: Record<string, [number, number]> = {
  lenet300100: [266_200, 266_610], // 784*300 + 300*100 + 100*10, biases 410
  conv2: [4_300_992, 4_301_642],
  conv4: [2_425_024, 2_425_930],
  conv6: [2_261_184, 2_262_602],
  resnet20: [270_896, 272_474], // as open_lth's cifar_resnet_20 (projection shortcuts)
  vgg16: [14_715_584, 14_724_042],
  vgg19: [20_024_000, 20_035_018],
};

test('parameter counts match the architectures', () => {
  for (const name of MODEL_NAMES) {
    const m = createModel(name);
    assert.deepEqual([countParams(m, m.prunable), countParams(m, m.trainable)], EXPECTED[name], name);
  }
  const lenet = createModel('lenet300100');
  assert.equal(countParams(lenet, lenet.trainable) - countParams(lenet, lenet.prunable), 410);
  const r = createModel('resnet20');
  const total = countParams(r, r.trainable);
  assert.ok(total >= 272_000 && total <= 274_000);
});

test('stable names, kinds and output layer', () => {
  const lenet = createModel('lenet300100');
  assert.deepEqual(lenet.prunable, ['fc1.kernel', 'fc2.kernel', 'fc3.kernel']);
  assert.equal(lenet.outputLayer, 'fc3.kernel');
  assert.deepEqual(lenet.layerKinds, { 'fc1.kernel': 'fc', 'fc2.kernel': 'fc', 'fc3.kernel': 'output' });
  const r = createModel('resnet20');
  assert.ok(r.prunable.includes('layer2.0.conv1.kernel'));
  assert.ok(r.prunable.includes('layer2.0.shortcut.kernel'));
  assert.ok(!r.prunable.some((n) => n.includes('bn') || n.endsWith('.bias')));
  assert.ok(r.buffers.includes('layer3.2.bn2.running_var'));
  assert.equal(r.layerKinds['fc.kernel'], 'output');
  assert.equal(r.layerKinds['conv1.kernel'], 'conv');
  const c6 = createModel('conv6');
  assert.deepEqual(c6.params.find((p) => p.name === 'conv5.kernel')?.shape, [3, 3, 128, 256]);
  assert.deepEqual(c6.params.find((p) => p.name === 'fc1.kernel')?.shape, [4096, 256]);
});

test('initialisation is seeded, Glorot/He scaled', () => {
  const a = createModel('lenet300100', { seed: 3 }).init();
  const b = createModel('lenet300100', { seed: 3 }).init();
  const c = createModel('lenet300100', { seed: 4 }).init();
  assert.deepEqual(a['fc1.kernel']!.data, b['fc1.kernel']!.data);
  assert.notDeepEqual(a['fc1.kernel']!.data, c['fc1.kernel']!.data);
  const sd = (d: Float32Array) => Math.sqrt(d.reduce((s, v) => s + v * v, 0) / d.length);
  assert.ok(Math.abs(sd(a['fc1.kernel']!.data) - Math.sqrt(2 / (784 + 300))) < 0.003); // Glorot
  assert.ok(a['fc1.bias']!.data.every((v) => v === 0));
  const r = createModel('resnet20', { seed: 1 }).init();
  assert.ok(Math.abs(sd(r['layer3.1.conv1.kernel']!.data) - Math.sqrt(2 / (9 * 64))) < 0.003); // He
  assert.ok(r['bn1.gamma']!.data.every((v) => v === 1));
});

test('unknown model and bad dropout are PARAM_INVALID', () => {
  assert.throws(() => createModel('resnet50'), (e) => isPipelineError(e, 'PARAM_INVALID'));
  assert.throws(() => createModel('conv2', { dropout: 1.5 }), (e) => isPipelineError(e, 'PARAM_INVALID'));
});

test('forward passes give [N, 10] logits (wasm)', async () => {
  await initBackend('wasm');
  const t = tf();
  for (const name of MODEL_NAMES) {
    const m = createModel(name, { seed: 1 });
    const w0 = m.init();
    const before = t.memory().numTensors;
    const w = Object.fromEntries(Object.entries(w0).map(([k, v]) => [k, t.tensor(v.data, v.shape)]));
    for (const training of [false, true]) {
      const shape = t.tidy(() => {
        const x = t.zeros([2, ...m.inputShape]);
        const out = m.forward(w, x, { training, dropoutSeed: 1 });
        if (training && m.buffers.length) assert.equal(Object.keys(out.buffers).length, m.buffers.length, name);
        return out.logits.shape;
      });
      assert.deepEqual(shape, [2, 10], name);
    }
    t.dispose(Object.values(w));
    assert.equal(t.memory().numTensors, before);
  }
});
