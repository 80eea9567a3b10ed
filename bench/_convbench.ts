import { initBackend, tf } from '../src/nn/backend.js';
await initBackend('tensorflow', { threads: 1 });
const t = tf() as any;
const dWk = (x: any, dy: any, shape: number[], s: number, pad: any) => t.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: s, pad, dataFormat: 'NHWC', filterShape: shape });
const PAD = [[0,0],[1,1],[1,1],[0,0]] as any;
function time(name: string, f: () => any) {
  for (let i = 0; i < 2; i++) t.dispose(f());
  const c0 = process.cpuUsage(); const n = 5;
  for (let i = 0; i < n; i++) { const r = f(); (Array.isArray(r) ? r[0] : r).dataSync(); t.dispose(r); }
  const c = process.cpuUsage(c0); console.log(name, ((c.user + c.system) / 1000 / n).toFixed(1), 'ms');
}
for (const [H, C, s] of [[32, 16, 1], [16, 32, 1], [32, 32, 2], [8, 64, 1]] as const) {
  const x = t.randomNormal([128, H, H, C]);
  const Co = s === 2 ? C : C;
  const w = t.randomNormal([3, 3, C, Co]);
  const Ho = H / s;
  const dy = t.randomNormal([128, Ho, Ho, Co]);
  console.log(`--- H=${H} C=${C} stride=${s}`);
  time('fwd explicit', () => t.conv2d(x, w, s, PAD));
  time('fwd pad+valid', () => t.conv2d(t.pad(x, PAD), w, s, 'valid'));
  if (s === 1) time('fwd same', () => t.conv2d(x, w, s, 'same'));
  time('dW explicit', () => dWk(x, dy, w.shape, s, PAD));
  time('dW pad+valid', () => t.tidy(() => dWk(t.pad(x, PAD), dy, w.shape, s, 'valid')));
  if (s === 1) time('dW same', () => dWk(x, dy, w.shape, s, 'same'));
  time('dX explicit', () => t.conv2dTranspose(dy, w, [128, H, H, C], s, PAD));
  time('dX valid+slice', () => t.tidy(() => t.slice(t.conv2dTranspose(dy, w, [128, H + 2, H + 2, C], s, 'valid'), [0, 1, 1, 0], [128, H, H, C])));
  if (s === 1) time('dX same', () => t.conv2dTranspose(dy, w, [128, H, H, C], s, 'same'));
}
const x = t.randomNormal([128, 32, 32, 16]);
time('step', () => t.step(x));
time('greater+cast', () => t.tidy(() => t.cast(t.greater(x, 0), 'float32')));
