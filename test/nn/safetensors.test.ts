// safetensors: byte-exact against the format spec, round trips, checkpoint and mask files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  decodeCheckpoint,
  decodeMask,
  decodeSafetensors,
  encodeCheckpoint,
  encodeMask,
  encodeSafetensors,
} from '../../src/nn/safetensors.js';
import { isPipelineError } from '../../src/errors.js';

test('byte layout follows the spec exactly', () => {
  const bytes = encodeSafetensors(
    {
      'b.w': { dtype: 'F32', shape: [2], data: new Float32Array([1, -2]) },
      'a.m': { dtype: 'U8', shape: [1, 3], data: new Uint8Array([1, 0, 1]) },
    },
    { z: '1', model: 'x' },
  );
  const json =
    '{"__metadata__":{"model":"x","z":"1"},' +
    '"a.m":{"dtype":"U8","shape":[1,3],"data_offsets":[0,3]},' +
    '"b.w":{"dtype":"F32","shape":[2],"data_offsets":[3,11]}}';
  const padded = json + ' '.repeat((8 - (json.length % 8)) % 8);
  const expected = Buffer.concat([
    (() => {
      const h = Buffer.alloc(8);
      h.writeBigUInt64LE(BigInt(padded.length));
      return h;
    })(),
    Buffer.from(padded, 'utf8'),
    Buffer.from([1, 0, 1]),
    Buffer.from([0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0]), // 1.0f, -2.0f little-endian
  ]);
  assert.equal(padded.length % 8, 0);
  assert.ok(Buffer.from(bytes).equals(expected), `got ${Buffer.from(bytes).toString('latin1')}`);
});

test('round trip, BOOL masks, corrupt input', () => {
  const w = new Float32Array([0.5, -0, 3.25e-8, NaN, Infinity, -1e30]);
  const bytes = encodeSafetensors({ w: { dtype: 'F32', shape: [2, 3], data: w }, m: { dtype: 'BOOL', shape: [2], data: new Uint8Array([0, 7]) } });
  const f = decodeSafetensors(bytes);
  assert.deepEqual(f.tensors.w!.shape, [2, 3]);
  assert.ok(Buffer.from(f.tensors.w!.data.buffer).equals(Buffer.from(w.buffer)));
  assert.deepEqual([...f.tensors.m!.data], [0, 1]);
  assert.equal(f.tensors.m!.dtype, 'BOOL');
  assert.throws(() => decodeSafetensors(bytes.subarray(0, 20)), (e) => isPipelineError(e, 'STORE_CORRUPT'));
  assert.throws(() => decodeSafetensors(bytes.subarray(0, bytes.length - 1)), (e) => isPipelineError(e, 'STORE_CORRUPT'));
});

test('checkpoint and mask files', () => {
  const ck = {
    iteration: 7,
    weights: { 'fc1.kernel': { shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) } },
    optimizer: { 'adam_m/fc1.kernel': { shape: [2, 2], data: new Float32Array([0.1, 0.2, 0.3, 0.4]) } },
    curve: [{ iteration: 0, trainLoss: NaN, valLoss: 2.3, valAccuracy: 0.1 }],
    pendingLoss: [1.5, 2] as [number, number],
  };
  const bytes = encodeCheckpoint(ck, { model: 'lenet300100', backend: 'wasm' });
  const back = decodeCheckpoint(bytes);
  assert.equal(back.iteration, 7);
  assert.deepEqual(back.weights, ck.weights);
  assert.deepEqual(back.optimizer, ck.optimizer);
  assert.deepEqual(back.curve, ck.curve);
  assert.deepEqual(back.pendingLoss, [1.5, 2]);
  assert.equal(back.metadata.model, 'lenet300100');
  assert.ok(Buffer.from(encodeCheckpoint(back, { model: 'lenet300100', backend: 'wasm' })).equals(Buffer.from(bytes)));
  const mb = encodeMask({ 'fc1.kernel': { shape: [2, 2], data: new Float32Array([1, 0, 0, 1]) } });
  const m = decodeMask(mb);
  assert.deepEqual([...m.mask['fc1.kernel']!.data], [1, 0, 0, 1]);
  assert.equal(decodeSafetensors(mb).tensors['fc1.kernel']!.dtype, 'U8');
  assert.throws(() => decodeCheckpoint(mb), (e) => isPipelineError(e, 'STORE_CORRUPT'));
});

// Cross-check with the reference implementation (.ci/run installs it with pip for Debian's Python).
const PY = ['/usr/bin/python3', 'python3'].find((p) => spawnSync(p, ['-c', 'import safetensors, numpy'], { encoding: 'utf8' }).status === 0);
test('readable by the Python safetensors package', { skip: !PY && 'python3 safetensors/numpy not installed' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'st-'));
  const file = join(dir, 'x.safetensors');
  writeFileSync(file, encodeMask({ m: { shape: [3], data: new Uint8Array([1, 0, 1]) } }, { k: 'v' }));
  const r = spawnSync(PY!, ['-c', `from safetensors.numpy import load_file; print(load_file(${JSON.stringify(file)})['m'].tolist())`], { encoding: 'utf8' });
  assert.equal(r.stdout.trim(), '[1, 0, 1]');
});

test('decodes from a view into a larger buffer (a Node Buffer read from disk), I64 included', () => {
  const bytes = encodeSafetensors({ f: { dtype: 'F32', shape: [2], data: Float32Array.of(1.5, -2.25) }, n: { dtype: 'I64', shape: [], data: BigInt64Array.of(1234567890123n) } });
  const view = Buffer.concat([Buffer.alloc(5, 7), Buffer.from(bytes)]).subarray(5);
  const back = decodeSafetensors(view).tensors;
  assert.deepEqual([...(back.f!.data as Float32Array)], [1.5, -2.25]);
  assert.equal((back.n!.data as BigInt64Array)[0], 1234567890123n);
});
