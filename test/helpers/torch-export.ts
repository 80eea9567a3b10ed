/**
 * `pipeline get --format torch`, checked from the other side: Debian's PyTorch loads the exported
 * state dict into the matching torch.nn module with load_state_dict(strict=True) and computes the
 * logits that our forward pass computes on the same test images (test/helpers/torch_check.py).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createModel, decodeCheckpoint, encodeSafetensors, initBackend, tf } from '../../src/nn/index.js';

/** A Python with torch and safetensors: Debian's python3-torch lives in /usr/bin/python3's path. */
export const TORCH_PYTHON = ['/usr/bin/python3', 'python3'].find((p) => spawnSync(p, ['-c', 'import torch, safetensors'], { encoding: 'utf8' }).status === 0);

const CHECK = fileURLToPath(new URL('./torch_check.py', import.meta.url));

export interface TorchCheck {
  maxAbsDiff: number;
  maxAbsLogit: number;
  masks: number;
  argmaxAgree: number;
}

/**
 * Our logits for `inputs` ([n, h, w, c]) under the raw checkpoint file, then torch's under the
 * exported state dict; `rawMask`, our mask file, is compared with the exported masks.
 */
export async function compareWithTorch(dir: string, model: string, rawCheckpoint: string, exported: string, inputs: { shape: number[]; data: Float32Array }, rawMask?: string): Promise<TorchCheck> {
  await initBackend('wasm');
  const ck = decodeCheckpoint(readFileSync(rawCheckpoint));
  const m = createModel(model);
  const t = tf();
  const w = Object.fromEntries(Object.entries(ck.weights).map(([k, v]) => [k, t.tensor(v.data, v.shape)]));
  const x = t.tensor(inputs.data, inputs.shape);
  const logits = m.forward(w, x, { training: false }).logits;
  const io = join(dir, 'io.safetensors');
  writeFileSync(io, encodeSafetensors({ inputs: { dtype: 'F32', ...inputs }, logits: { dtype: 'F32', shape: logits.shape, data: logits.dataSync() as Float32Array } }));
  t.dispose([x, logits, ...Object.values(w)]);
  const r = spawnSync(TORCH_PYTHON!, [CHECK, model, exported, io, ...(rawMask ? [rawMask] : [])], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as TorchCheck;
}
