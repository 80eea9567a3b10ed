// The grokking papers' networks on modular arithmetic (src/nn/models/grokking.ts): names, shapes and
// parameter counts; the forward pass and gradients agree across backends (cpu, wasm, and native
// where it is built) to the tolerance of the other families; and the token layers refuse misuse.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Scalar, Tensor } from '@tensorflow/tfjs-core';
import { initBackend, tf, type BackendPref } from '../../src/nn/backend.js';
import { buildModel, countParams, createModel, type Model } from '../../src/nn/models/index.js';
import { readManifest } from '../../src/nn/native/layout.js';
import { modularSplits } from '../../src/nn/data/index.js';
import { isPipelineError } from '../../src/errors.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeCheckpoint, encodeMask } from '../../src/nn/safetensors.js';
import { toTorchFile } from '../../src/nn/torch-format.js';
import { compareWithTorch, TORCH_PYTHON } from '../helpers/torch-export.js';

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

/** Largest difference relative to the largest magnitude of the reference (as test/nn/native.test.ts). */
function relDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let m = 1e-12;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    m = Math.max(m, Math.abs(b[i]!));
  }
  return d / m;
}

for (const name of ['modular_mlp_11_32_16']) {
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

test('token layers refuse inputs they cannot take, where the model is defined', () => {
  const def = (build: Parameters<typeof buildModel>[0]['build']) => () => buildModel({ name: 'bad', inputShape: [4, 4, 1], numClasses: 3, build });
  assert.throws(def((l) => [l.sumTokens(), l.dense(3)]), /sumTokens needs a sequence input \[tokens, features\], got \[4, 4, 1\]/);
  assert.throws(def((l) => [l.embedding(0, 4), l.sumTokens(), l.dense(3)]), /vocab must be a positive integer/);
  assert.throws(def((l) => [l.embedding(5, 4), l.dense(3)]), /output is \[16, 3\]/);
});

// `get --format torch` for the MLP, from the other side: torch.nn modules load the export strictly
// (the pruned layers as torch.nn.utils.prune keeps them) and give our logits.
test('the MLP ticket exported for PyTorch loads into nn.Embedding + nn.Linear and gives our logits', { skip: !TORCH_PYTHON && 'python3 with torch and safetensors is not installed' }, async () => {
  const name = 'modular_mlp_13_24_16';
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
    assert.equal(check.masks, 4);
    assert.ok(check.maxAbsDiff <= 1e-5 * Math.max(1, check.maxAbsLogit), JSON.stringify(check));
    assert.equal(check.argmaxAgree, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
