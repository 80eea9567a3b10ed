// AdamW (decoupled weight decay) against its definition, on a step computed by hand, on every
// backend this machine has; and the contrast with Adam's L2 decay, which goes through the moments.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, tf } from '../../src/nn/backend.js';
import { optimizerStep, setFusedOptimizer, validateOptimizer } from '../../src/nn/optim.js';
import { readManifest } from '../../src/nn/native/layout.js';

/**
 * Two AdamW steps by hand, in double precision (Loshchilov & Hutter 2019, Algorithm 2 as PyTorch's
 * AdamW computes it): w <- w (1 - lr wd); m <- b1 m + (1 - b1) g; v <- b2 v + (1 - b2) g^2;
 * w <- w - (lr / (1 - b1^t)) m / (sqrt(v / (1 - b2^t)) + eps).
 */
function adamwByHand(w: number, grads: number[], lr: number, wd: number, b1: number, b2: number, eps: number) {
  let m = 0;
  let v = 0;
  grads.forEach((g, i) => {
    const t = i + 1;
    w = w * (1 - lr * wd);
    m = b1 * m + (1 - b1) * g;
    v = b2 * v + (1 - b2) * g * g;
    w = w - ((lr / (1 - b1 ** t)) * m) / (Math.sqrt(v / (1 - b2 ** t)) + eps);
  });
  return { w, m, v };
}

// Native (where built): AdamW runs as composed TensorFlow ops (the native ops know the other four kinds).
for (const backend of ['cpu', 'wasm', ...(readManifest() ? (['tensorflow'] as const) : [])] as const) {
  for (const fused of [true, false]) {
    test(`AdamW equals its definition over two steps; masked weights stay 0 (${backend}, ${fused ? 'fused' : 'composed'})`, async () => {
      await initBackend(backend);
      setFusedOptimizer(fused);
      try {
        const t = tf();
        const cfg = validateOptimizer({ type: 'adamw', weightDecay: 1, beta1: 0.9, beta2: 0.98 });
        const w0 = [0.5, -1.25, 2, 0.75, -0.1];
        const mask = [1, 1, 0, 1, 0];
        const g = [
          [0.1, -0.2, 0.3, 0, 5],
          [-0.05, 0.4, -1, 0.2, 5],
        ];
        const lr = 0.01;
        let params = { w: t.tensor(w0) };
        let state = {};
        const masks = { w: t.tensor(mask) };
        for (let it = 0; it < 2; it++) {
          const r = optimizerStep(cfg, params, { w: t.tensor(g[it]!) }, state, masks, lr, it);
          params = r.params as { w: never };
          state = r.state;
        }
        const got = Array.from(params.w.dataSync() as Float32Array);
        const st = state as Record<string, import('@tensorflow/tfjs-core').Tensor>;
        const m = Array.from(st['adam_m/w']!.dataSync());
        const v = Array.from(st['adam_v/w']!.dataSync());
        w0.forEach((w, i) => {
          if (mask[i] === 0) {
            assert.ok(got[i] === 0, `masked weight ${i} is ${got[i]}`);
            return;
          }
          const want = adamwByHand(w, [g[0]![i]!, g[1]![i]!], lr, 1, 0.9, 0.98, 1e-8);
          assert.ok(Math.abs(got[i]! - want.w) <= 1e-6 * Math.max(1, Math.abs(want.w)), `w[${i}] ${got[i]} vs ${want.w}`);
          assert.ok(Math.abs(m[i]! - want.m) <= 1e-7, `m[${i}] ${m[i]} vs ${want.m}`);
          assert.ok(Math.abs(v[i]! - want.v) <= 1e-7, `v[${i}] ${v[i]} vs ${want.v}`);
        });
        // The decay is decoupled: with a zero gradient the weight only shrinks, by (1 - lr wd) per step;
        // Adam's L2 decay would instead move it by about lr per step (the normalised w wd).
        assert.ok(Math.abs(got[3]! - adamwByHand(0.75, [0, 0.2], lr, 1, 0.9, 0.98, 1e-8).w) < 1e-6);
        const one = (type: 'adam' | 'adamw') =>
          optimizerStep(validateOptimizer({ type, weightDecay: 1 }), { w: t.tensor([2]) }, { w: t.tensor([0]) }, {}, {}, lr, 0).params.w!.dataSync()[0]!;
        assert.ok(Math.abs(one('adamw') - 2 * (1 - lr)) < 1e-6, `adamw: ${one('adamw')}`);
        assert.ok(Math.abs(one('adam') - (2 - lr)) < 1e-6, `adam: ${one('adam')}`);
      } finally {
        setFusedOptimizer(true);
      }
    });
  }
}
