// Our weights in PyTorch's conventions (src/nn/torch-format.ts): the layouts are pinned by what
// they must preserve: a layer computes the same thing on the same activation in either layout.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeSafetensors, encodeSafetensors } from '../../src/nn/safetensors.js';
import { toTorchStateDict } from '../../src/nn/torch-format.js';
import { Rng } from '../../src/nn/rng.js';

const rand = (n: number, seed: number) => {
  const r = new Rng(seed);
  return Float32Array.from({ length: n }, () => r.normal());
};

test('a dense layer fed by a flattened NHWC activation computes the same outputs on the NCHW flattening', () => {
  const [h, w, c, out] = [2, 3, 4, 5];
  const nIn = h * w * c;
  const kernel = rand(nIn * out, 1);
  const sd = toTorchStateDict({ 'fc1.kernel': { shape: [nIn, out], data: kernel }, 'fc1.bias': { shape: [out], data: new Float32Array(out) } }, { flattenedInputs: { fc1: [h, w, c] } });
  const weight = sd['fc1.weight']!;
  assert.deepEqual(weight.shape, [out, nIn]);
  const act = rand(nIn, 2); // one example, NHWC order: index (y * w + x) * c + ch
  for (let o = 0; o < out; o++) {
    let ours = 0;
    for (let i = 0; i < nIn; i++) ours += act[i]! * kernel[i * out + o]!;
    let theirs = 0;
    for (let ch = 0; ch < c; ch++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) theirs += act[(y * w + x) * c + ch]! * (weight.data as Float32Array)[o * nIn + (ch * h + y) * w + x]!;
    assert.ok(Math.abs(ours - theirs) < 1e-5, `output ${o}: ${ours} vs ${theirs}`);
  }
});

test('conv kernels [kh, kw, in, out] become (out, in, kh, kw); masked kernels become weight_orig + weight_mask', () => {
  const shape = [3, 2, 4, 5];
  const data = Float32Array.from({ length: 120 }, (_, i) => i);
  const mask = Uint8Array.from({ length: 120 }, (_, i) => (i % 3 === 0 ? 0 : 1));
  const sd = toTorchStateDict({ 'layer1.0.conv1.kernel': { shape, data } }, { mask: { 'layer1.0.conv1.kernel': { shape, data: mask } } });
  assert.deepEqual(Object.keys(sd).sort(), ['layer1.0.conv1.weight_mask', 'layer1.0.conv1.weight_orig']);
  const w = sd['layer1.0.conv1.weight_orig']!;
  const m = sd['layer1.0.conv1.weight_mask']!;
  assert.deepEqual(w.shape, [5, 4, 3, 2]);
  for (let y = 0; y < 3; y++)
    for (let x = 0; x < 2; x++)
      for (let i = 0; i < 4; i++)
        for (let o = 0; o < 5; o++) {
          const src = ((y * 2 + x) * 4 + i) * 5 + o;
          const dst = ((o * 4 + i) * 3 + y) * 2 + x;
          assert.equal(w.data[dst], data[src]);
          assert.equal(m.data[dst], mask[src]);
        }
});

test('batch norm: gamma/beta -> weight/bias, running statistics kept, num_batches_tracked as int64', () => {
  const v = (x: number) => ({ shape: [2], data: Float32Array.of(x, x + 1) });
  const sd = toTorchStateDict({ 'bn1.gamma': v(1), 'bn1.beta': v(3), 'bn1.running_mean': v(5), 'bn1.running_var': v(7) }, { batchesTracked: 1234 });
  assert.deepEqual(Object.keys(sd).sort(), ['bn1.bias', 'bn1.num_batches_tracked', 'bn1.running_mean', 'bn1.running_var', 'bn1.weight']);
  assert.deepEqual([...(sd['bn1.weight']!.data as Float32Array)], [1, 2]);
  assert.deepEqual([...(sd['bn1.bias']!.data as Float32Array)], [3, 4]);
  // I64 round-trips through safetensors (the dtype PyTorch's counter has).
  const back = decodeSafetensors(encodeSafetensors(sd)).tensors['bn1.num_batches_tracked']!;
  assert.equal(back.dtype, 'I64');
  assert.deepEqual(back.shape, []);
  assert.equal((back.data as BigInt64Array)[0], 1234n);
});

test('a weight without a role suffix, or a mask of another model, is refused', () => {
  assert.throws(() => toTorchStateDict({ w: { shape: [1], data: new Float32Array(1) } }), /no role suffix/);
  assert.throws(() => toTorchStateDict({ 'fc.kernel': { shape: [1, 1], data: new Float32Array(1) } }, { mask: { 'conv.kernel': { shape: [1, 1], data: new Uint8Array(1) } } }), /different models/);
});
