// Where a training step's time goes, per kernel, on a backend (BK=wasm by default, or tensorflow) (a step as in
// src/nn/train.ts: forward, backward, masked optimizer update; random data).
//
//   node --import tsx bench/profile-step.ts MODEL [THREADS] [STEPS]
//   CPUPROF=1 [SHAPES=1] [TOP=25]  process CPU time per kernel (robust on a shared machine)
//   PROFILE=1 [PN=5]               tf.profile wall-clock kernel times
//   FUSED=0                        composed optimizer update instead of the fused kernel
//   DENSE=0                        composed step instead of the native one-op dense step
import { initBackend, tf } from '../src/nn/backend.js';
import { createModel } from '../src/nn/models/index.js';
import { optimizerStep, validateOptimizer, setFusedOptimizer } from '../src/nn/optim.js';
import { nativeDenseStep } from '../src/nn/native/dense-step.js';
if (process.env.FUSED === '0') setFusedOptimizer(false);
import type { Tensor, Scalar } from '@tensorflow/tfjs-core';

const [modelName = 'lenet300100', threadsS = '1', stepsS = '3'] = process.argv.slice(2);
const SPECS: Record<string, { batch: number; opt: any; lr: number }> = {
  lenet300100: { batch: 60, opt: { type: 'adam' }, lr: 1.2e-3 },
  conv2: { batch: 60, opt: { type: 'adam' }, lr: 2e-4 },
  resnet20: { batch: 128, opt: { type: 'momentum', momentum: 0.9 }, lr: 0.1 },
};
const info = await initBackend((process.env.BK as any) ?? 'wasm', { threads: Number(threadsS) });
const t = tf();
import { getKernelsForBackend, unregisterKernel, registerKernel } from '@tensorflow/tfjs-core';
const kc = new Map<string, { us: number; n: number }>();
let kdepth = 0;
if (process.env.CPUPROF) {
  for (const k of getKernelsForBackend(info.name)) {
    const fn = k.kernelFunc;
    unregisterKernel(k.kernelName, info.name);
    registerKernel({ ...k, kernelFunc: (args: any) => {
      if (kdepth > 0) return fn(args);
      kdepth++;
      const c0 = process.cpuUsage();
      try { return fn(args); } finally {
        const c = process.cpuUsage(c0); kdepth--;
        const key = k.kernelName + (process.env.SHAPES ? ' ' + JSON.stringify(Object.values(args.inputs).map((x: any) => x.shape)) : '');
        const e = kc.get(key) ?? { us: 0, n: 0 }; e.us += c.user + c.system; e.n++; kc.set(key, e);
      }
    } });
  }
}
const spec = SPECS[modelName]!;
const model = createModel(modelName, { seed: 0 });
const w0 = model.init();
let params: Record<string, Tensor> = {};
let buffers: Record<string, Tensor> = {};
for (const p of model.params) (p.trainable ? params : buffers)[p.name] = t.tensor(w0[p.name]!.data, p.shape);
let state: Record<string, Tensor> = {};
const opt = validateOptimizer(spec.opt);
const masks: Record<string, Tensor> = {};
for (const n of model.prunable) masks[n] = t.onesLike(params[n]!);
const xs = new Float32Array(spec.batch * model.inputShape.reduce((a, b) => a * b)).map(() => Math.random());
const ys = new Int32Array(spec.batch).map(() => Math.floor(Math.random() * 10));
const phase: Record<string, number> = { grad: 0, opt: 0, sync: 0 };
// The whole step as one op where the native backend runs it so (src/nn/native/dense-step.ts), as train() does.
const dense = process.env.DENSE === '0' ? undefined : nativeDenseStep(model, opt);
if (dense) console.log('the whole step as one op (LthDenseTrainStep; DENSE=0 profiles the composed step)');
function step(it: number) {
  if (dense) {
    let a = performance.now();
    const r = dense(params, state, masks, xs, ys, spec.lr, it);
    const b = performance.now(); phase.opt! += b - a; a = b;
    t.dispose(Object.values(params)); t.dispose(Object.values(state));
    params = r.params; state = r.state;
    return;
  }
  const names = model.trainable;
  const newBuffers: Record<string, Tensor> = {};
  let a = performance.now();
  const { value, grads } = t.tidy(() => {
    const x = t.tensor(xs, [spec.batch, ...model.inputShape]);
    const y = t.tensor1d(ys, 'int32');
    const f = (...ps: Tensor[]) => {
      const w: Record<string, Tensor> = { ...buffers };
      names.forEach((n, i) => (w[n] = ps[i]!));
      const out = model.forward(w, x, { training: true, dropoutSeed: 1 });
      for (const [k, v] of Object.entries(out.buffers)) newBuffers[k] = t.keep(v);
      const oneHot = t.oneHot(y as never, 10);
      return t.neg(t.mean(t.sum(t.mul(oneHot, t.logSoftmax(out.logits)), 1))) as Scalar;
    };
    return t.valueAndGrads(f)(names.map((n) => params[n]!));
  });
  let b = performance.now(); phase.grad! += b - a; a = b;
  const gm: Record<string, Tensor> = {};
  names.forEach((n, i) => (gm[n] = grads[i]!));
  const s = optimizerStep(opt, params, gm, state, masks, spec.lr, it);
  b = performance.now(); phase.opt! += b - a; a = b;
  value.dataSync();
  b = performance.now(); phase.sync! += b - a;
  value.dispose(); t.dispose(Object.values(gm)); t.dispose(Object.values(params)); t.dispose(Object.values(state));
  params = s.params; state = s.state;
  for (const k of Object.keys(newBuffers)) { buffers[k]!.dispose(); buffers[k] = newBuffers[k]!; }
}
for (let i = 0; i < 2; i++) step(i);
const steps = Number(stepsS);
for (const k in phase) phase[k] = 0;
const times: number[] = [];
const cpus: number[] = [];
kc.clear();
for (let i = 0; i < steps; i++) { const c0 = process.cpuUsage(); const a = performance.now(); step(2 + i); times.push(performance.now() - a); const c = process.cpuUsage(c0); cpus.push((c.user + c.system) / 1000); }
times.sort((a, b) => a - b);
cpus.sort((a, b) => a - b);
console.log(`cpu ms/step median ${cpus[steps >> 1]!.toFixed(1)}`);
if (process.env.CPUPROF) {
  const tot = [...kc.values()].reduce((a, e) => a + e.us, 0) / steps / 1000;
  console.log(`kernel cpu total ${tot.toFixed(1)} ms/step`);
  for (const [k, e] of [...kc.entries()].sort((a, b) => b[1].us - a[1].us).slice(0, Number(process.env.TOP ?? 25))) console.log(`  ${(e.us / steps / 1000).toFixed(1).padStart(8)} ms ${String(e.n / steps).padStart(5)}x  ${k}`);
}
console.log(`${modelName} threads=${threadsS} step median ${times[steps >> 1]!.toFixed(1)} ms  phases/step`, Object.fromEntries(Object.entries(phase).map(([k, v]) => [k, +(v / steps).toFixed(1)])));
if (process.env.PROFILE) {
  const agg = new Map<string, { ms: number; n: number }>();
  const PN = Number(process.env.PN ?? 5);
  const info = await t.profile(() => { for (let i = 0; i < PN; i++) step(100 + i); return [] as any; });
  for (const k of info.kernels) {
    const key = k.name + (process.env.SHAPES ? ' ' + JSON.stringify(k.inputShapes) : '');
    const e = agg.get(key) ?? { ms: 0, n: 0 };
    e.ms += (k.kernelTimeMs as number) / PN; e.n += 1 / PN; agg.set(key, e);
  }
  const tot = [...agg.values()].reduce((a, e) => a + e.ms, 0);
  console.log(`kernel total ${tot.toFixed(1)} ms, ${info.kernels.length} kernels`);
  for (const [k, e] of [...agg.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, Number(process.env.TOP ?? 25))) console.log(`  ${e.ms.toFixed(1).padStart(8)} ms ${String(e.n).padStart(5)}x  ${k}`);
}
