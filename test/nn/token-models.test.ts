// The grokking papers' networks on modular arithmetic (src/nn/models/grokking.ts): names, shapes and
// parameter counts; the forward pass and gradients agree across backends (cpu, wasm, and native
// where it is built) to the tolerance of the other families; and the token layers refuse misuse.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Scalar, Tensor } from '@tensorflow/tfjs-core';
import { initBackend, tf, type BackendPref } from '../../src/nn/backend.js';
import { buildModel, countParams, createModel, NetworkBuilder, selfAttention, type Model } from '../../src/nn/models/index.js';
import { readManifest } from '../../src/nn/native/layout.js';
import { modularSplits } from '../../src/nn/data/index.js';
import { isPipelineError } from '../../src/errors.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeCheckpoint, encodeMask } from '../../src/nn/safetensors.js';
import { toTorchFile } from '../../src/nn/torch-format.js';
import { compareWithTorch, TORCH_PYTHON } from '../helpers/torch-export.js';
import { relDiff } from '../helpers/numeric.js';

const BACKENDS: BackendPref[] = ['cpu', 'wasm', ...(readManifest() ? (['tensorflow'] as const) : [])];

test('modular_mlp_<p>[_<dEmb>_<dHidden>]: the Grokking-Tickets MLP, weights named as its PyTorch module', () => {
  const m = createModel('modular_mlp_97');
  assert.deepEqual(m.inputShape, [1, 2, 1]);
  assert.equal(m.numClasses, 97);
  assert.deepEqual(m.prunable, ['embed.kernel', 'inproj.kernel', 'outproj.kernel', 'unembed.kernel']);
  assert.deepEqual(m.trainable, m.prunable, 'no biases');
  assert.deepEqual(m.params.map((p) => p.shape), [[97, 500], [500, 48], [48, 500], [500, 97]]);
  assert.equal(countParams(m), 97 * 500 * 2 + 500 * 48 * 2);
  assert.deepEqual(m.embeddings, ['embed']);
  assert.equal(m.outputLayer, 'unembed.kernel');
  assert.deepEqual(createModel('modular_mlp_7_16_8').params.map((p) => p.shape), [[7, 16], [16, 8], [8, 16], [16, 7]]);
  for (const bad of ['modular_mlp_1', 'modular_mlp_300', 'modular_mlp_97_500', 'modular_mlp_x']) {
    assert.throws(() => createModel(bad), (e) => isPipelineError(e) && e.code === 'PARAM_INVALID' && e.message.includes('modular_mlp_<p>'), bad);
  }
});

test('the MLP computes unembed(outproj(relu(inproj(E[a] + E[b])))), by hand', async () => {
  await initBackend('cpu');
  const t = tf();
  const m = createModel('modular_mlp_5_3_2', { seed: 1 });
  const w0 = m.init();
  const W = (n: string) => w0[`${n}.kernel`]!;
  const matvec = (v: number[], k: { shape: number[]; data: Float32Array }) =>
    Array.from({ length: k.shape[1]! }, (_, o) => v.reduce((s, x, i) => s + x * k.data[i * k.shape[1]! + o]!, 0));
  const [a, b] = [3, 4];
  const e = Array.from({ length: 3 }, (_, j) => W('embed').data[a * 3 + j]! + W('embed').data[b * 3 + j]!);
  const want = matvec(matvec(matvec(e, W('inproj')).map((v) => Math.max(0, v)), W('outproj')), W('unembed'));
  const w = Object.fromEntries(Object.entries(w0).map(([k, v]) => [k, t.tensor(v.data, v.shape)]));
  const logits = m.forward(w, t.tensor([a, b], [1, 1, 2, 1]), { training: false }).logits.dataSync();
  want.forEach((v, i) => assert.ok(Math.abs(logits[i]! - v) < 1e-5, `logit ${i}: ${logits[i]} vs ${v}`));
});

/** Loss, logits and gradients of one batch of real examples (token ids), as plain arrays. */
async function lossAndGrads(backend: BackendPref, model: Model, p: number): Promise<Record<string, Float32Array>> {
  await initBackend(backend, { threads: 1 });
  const t = tf();
  const w0 = model.init();
  const train = modularSplits({ p, op: '+', trainFraction: 0.5, seed: 1 }).train;
  const n = Math.min(train.n, 32);
  const out: Record<string, Float32Array> = {};
  t.tidy(() => {
    const w: Record<string, Tensor> = {};
    for (const q of model.params) w[q.name] = t.tensor(w0[q.name]!.data, q.shape);
    const x = t.tensor(train.images.subarray(0, n * 2), [n, ...model.inputShape]);
    const y = t.oneHot(t.tensor1d(Int32Array.from(train.labels.subarray(0, n)), 'int32'), model.numClasses);
    const f = (...ps: Tensor[]) => {
      const ws = { ...w };
      model.trainable.forEach((name, i) => (ws[name] = ps[i]!));
      const r = model.forward(ws, x, { training: true, dropoutSeed: 1 });
      out.logits = r.logits.dataSync() as Float32Array;
      return t.losses.softmaxCrossEntropy(y, r.logits) as Scalar;
    };
    const { value, grads } = t.valueAndGrads(f)(model.trainable.map((name) => w[name]!));
    out.loss = value.dataSync() as Float32Array;
    model.trainable.forEach((name, i) => (out[`grad ${name}`] = grads[i]!.dataSync() as Float32Array));
  });
  return out;
}

for (const name of ['modular_mlp_11_32_16', 'modular_transformer_11_16_4_2']) {
  test(`${name}: loss, logits and gradients agree across ${BACKENDS.join(', ')}`, async () => {
    const model = createModel(name, { seed: 5 });
    const ref = await lossAndGrads('cpu', model, model.numClasses);
    assert.ok(ref['grad embed.kernel']!.some((v) => v !== 0), 'the embedding gets a gradient');
    for (const backend of BACKENDS.slice(1)) {
      const other = await lossAndGrads(backend, model, model.numClasses);
      assert.deepEqual(Object.keys(other).sort(), Object.keys(ref).sort());
      for (const k of Object.keys(ref)) {
        const d = relDiff(other[k]!, ref[k]!);
        assert.ok(d < 2e-5, `${name} ${backend} ${k}: relative difference ${d.toExponential(2)}`);
      }
    }
  });
}

test('modular_transformer_<p>[_<d>_<heads>_<layers>]: Nanda et al.\'s one-layer transformer, weights named as torch.nn names them', () => {
  const m = createModel('modular_transformer_113');
  assert.deepEqual(m.inputShape, [1, 2, 1]);
  assert.equal(m.numClasses, 113);
  assert.deepEqual(
    m.params.map((p) => [p.name, p.shape]),
    [
      ['embed.kernel', [113, 128]],
      ['pos_embed.kernel', [2, 128]],
      ['blocks.0.attn.in_proj.kernel', [128, 384]],
      ['blocks.0.attn.out_proj.kernel', [128, 128]],
      ['blocks.0.mlp_in.kernel', [128, 512]],
      ['blocks.0.mlp_out.kernel', [512, 128]],
      ['unembed.kernel', [128, 113]],
    ],
  );
  assert.deepEqual(m.embeddings, ['embed', 'pos_embed']);
  assert.equal(createModel('modular_transformer_7_8_2_3').prunable.length, 2 + 4 * 3 + 1);
  assert.throws(() => createModel('modular_transformer_7_10_4_1'), /4 heads do not divide the width 10/);
});

test('causal attention: a position sees only itself and the positions before it; non-causal sees all', async () => {
  await initBackend('cpu');
  const t = tf();
  for (const causal of [true, false]) {
    const net = new NetworkBuilder('glorot_normal', 'attn');
    const layer = selfAttention(2, { causal, name: 'attn' })(net, [3, 4]);
    const w: Record<string, Tensor> = {};
    for (const p of net.params) w[p.name] = t.tensor(Float32Array.from({ length: p.shape[0]! * p.shape[1]! }, (_, i) => Math.sin(i + 1)), p.shape);
    const run = (x: number[]) => Array.from(layer.forward(t.tensor(x, [1, 3, 4]), { weight: (n) => w[n]!, opts: { training: false }, buffers: {} }).dataSync());
    const x = Array.from({ length: 12 }, (_, i) => Math.cos(i));
    const later = x.map((v, i) => (i >= 4 ? v + 1 : v)); // positions 1 and 2 changed
    const [a, b] = [run(x), run(later)];
    const same0 = a.slice(0, 4).every((v, i) => v === b[i]);
    assert.equal(same0, causal, `causal=${causal}: position 0 ${same0 ? 'unchanged' : 'changed'} by later tokens`);
    assert.notDeepEqual(a.slice(8), b.slice(8), 'the last position sees them');
  }
});

test('layer norm is PyTorch\'s: (x - mean) / sqrt(var + 1e-5) * gamma + beta over the features', async () => {
  await initBackend('cpu');
  const t = tf();
  const m = buildModel({ name: 'ln', inputShape: [2], numClasses: 3, build: (l) => [l.embedding(4, 3), l.layerNorm(), l.lastToken(), l.dense(3, { bias: false })] });
  assert.deepEqual(m.params.map((p) => p.name), ['embed1.kernel', 'ln1.gamma', 'ln1.beta', 'fc1.kernel']);
  const w0 = m.init(3);
  w0['ln1.gamma']!.data.set([0.5, 2, -1]);
  w0['ln1.beta']!.data.set([0.1, 0, 0.3]);
  const e = Array.from(w0['embed1.kernel']!.data.subarray(2 * 3, 3 * 3)); // token 2 at the last position
  const mean = e.reduce((a, b) => a + b) / 3;
  const variance = e.reduce((a, b) => a + (b - mean) ** 2, 0) / 3;
  const normed = e.map((v, j) => ((v - mean) / Math.sqrt(variance + 1e-5)) * w0['ln1.gamma']!.data[j]! + w0['ln1.beta']!.data[j]!);
  const K = w0['fc1.kernel']!;
  const want = [0, 1, 2].map((o) => normed.reduce((s, v, i) => s + v * K.data[i * 3 + o]!, 0));
  const w = Object.fromEntries(Object.entries(w0).map(([k, v]) => [k, t.tensor(v.data, v.shape)]));
  const got = m.forward(w, t.tensor([[1, 2]]), { training: false }).logits.dataSync();
  want.forEach((v, i) => assert.ok(Math.abs(got[i]! - v) < 1e-5, `logit ${i}: ${got[i]} vs ${v}`));
});

test('token layers refuse inputs they cannot take, where the model is defined', () => {
  const def = (build: Parameters<typeof buildModel>[0]['build']) => () => buildModel({ name: 'bad', inputShape: [4, 4, 1], numClasses: 3, build });
  assert.throws(def((l) => [l.sumTokens(), l.dense(3)]), /sumTokens needs a sequence input \[tokens, features\], got \[4, 4, 1\]/);
  assert.throws(def((l) => [l.embedding(0, 4), l.sumTokens(), l.dense(3)]), /vocab must be a positive integer/);
  assert.throws(def((l) => [l.embedding(5, 4), l.dense(3)]), /output is \[16, 3\]/);
});

// `get --format torch` for both networks, from the other side: torch.nn modules load the export strictly
// (the pruned layers as torch.nn.utils.prune keeps them) and give our logits.
for (const name of ['modular_mlp_13_24_16', 'modular_transformer_13_16_4_1']) test(`${name}: a ticket exported for PyTorch loads strictly into torch.nn modules and gives our logits`, { skip: !TORCH_PYTHON && 'python3 with torch and safetensors is not installed' }, async () => {
  const model = createModel(name, { seed: 2 });
  const weights = model.init();
  // A ticket: every third weight of every layer pruned, the pruned ones zero.
  const mask = Object.fromEntries(model.prunable.map((n) => [n, { shape: weights[n]!.shape, data: Uint8Array.from(weights[n]!.data, (_, i) => (i % 3 === 0 ? 0 : 1)) }]));
  for (const [n, m] of Object.entries(mask)) weights[n]!.data.forEach((_, i) => m.data[i] === 0 && (weights[n]!.data[i] = 0));
  const dir = mkdtempSync(join(tmpdir(), 'lth-torch-mlp-'));
  try {
    const raw = join(dir, 'ticket.safetensors');
    const maskFile = join(dir, 'mask.safetensors');
    const exported = join(dir, 'ticket.pt.safetensors');
    writeFileSync(raw, encodeCheckpoint({ weights, optimizer: {}, iteration: 0, curve: [], pendingLoss: [0, 0] }, { model: name }));
    writeFileSync(maskFile, encodeMask(mask, { model: name }));
    writeFileSync(exported, toTorchFile(readFileSync(raw), raw, readFileSync(maskFile)));
    const all = modularSplits({ p: 13, op: '+', trainFraction: 0.5, seed: 0 }).test;
    const inputs = { shape: [all.n, 1, 2, 1], data: Float32Array.from(all.images) };
    const check = await compareWithTorch(dir, name, raw, exported, inputs, maskFile);
    assert.equal(check.masks, model.prunable.length);
    assert.ok(check.maxAbsDiff <= 1e-5 * Math.max(1, check.maxAbsLogit), JSON.stringify(check));
    assert.equal(check.argmaxAgree, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
