// Backend selection: explicit choices, LTH_BACKEND, idempotence, and a clear error for native.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { initBackend, tf } from '../../src/nn/backend.js';
import { isPipelineError } from '../../src/errors.js';
import { readManifest } from '../../src/nn/native/layout.js';

const require = createRequire(import.meta.url);
const packageInstalled = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'].some((p) => {
  try {
    require.resolve(p);
    return true;
  } catch {
    return false;
  }
});
const nativeInstalled = readManifest() !== undefined || packageInstalled;

test('wasm and cpu are available and reported', async () => {
  const w = await initBackend('wasm');
  assert.equal(w.name, 'wasm');
  assert.equal(tf().getBackend(), 'wasm');
  assert.ok(w.threads >= 1);
  assert.equal(w.versions['tfjs-backend-wasm'], '4.22.0');
  assert.match(w.versions['lth-wasm-simd'] ?? '', /^[0-9a-f]{12}$/, 'our SIMD kernels are loaded and named in provenance');
  assert.equal(await initBackend('wasm'), w, 'idempotent');
  const c = await initBackend('cpu');
  assert.equal(c.name, 'cpu');
  assert.equal(tf().getBackend(), 'cpu');
});

test('auto picks native when loadable, else wasm with the reason recorded', async () => {
  const a = await initBackend('auto');
  if (!nativeInstalled) {
    assert.equal(a.name, 'wasm');
    assert.match(a.fallbackReason ?? '', /the native backend is not built \(npx pipeline setup native\)/);
  } else {
    assert.equal(a.name, 'tensorflow', a.fallbackReason);
  }
});

test('LTH_BACKEND overrides auto; bad values are PARAM_INVALID', async () => {
  process.env.LTH_BACKEND = 'cpu';
  try {
    assert.equal((await initBackend()).name, 'cpu');
    assert.equal((await initBackend('wasm')).name, 'wasm', 'an explicit choice wins');
    process.env.LTH_BACKEND = 'gpu';
    await assert.rejects(initBackend(), (e) => isPipelineError(e, 'PARAM_INVALID'));
  } finally {
    delete process.env.LTH_BACKEND;
  }
  await assert.rejects(initBackend('webgpu' as never), (e) => isPipelineError(e, 'PARAM_INVALID'));
});

test('explicit tensorflow without the native build is BACKEND_UNAVAILABLE, and says how to build it', { skip: packageInstalled && 'a native npm package is installed' }, () => {
  // In a child process pointed at an empty native folder: this process may have loaded the native backend.
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', "import('./src/nn/backend.ts').then((b) => b.initBackend('tensorflow')).catch((e) => { console.log(e.code, e.hint); })"], {
    encoding: 'utf8',
    env: { ...process.env, LTH_NATIVE_DIR: '/nonexistent/lth-native', NODE_PATH: '' },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /BACKEND_UNAVAILABLE .*npx pipeline setup native/);
});

test('wasm on 2 threads under Node: the same gradients as cpu, bitwise those of 1 thread, and the process exits', () => {
  const runOn = (threads: number) => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/nn/fixtures/wasm-threads.ts', String(threads)], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(r.signal, null, `the process did not exit by itself (killed by ${r.signal})`);
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { threads: number; maxRel: number; digest: string };
  };
  const two = runOn(2);
  assert.equal(two.threads, 2);
  assert.ok(two.maxRel < 1e-4, `max relative difference ${two.maxRel}`);
  // Our SIMD kernels split work by output rows, so every sum keeps its order on any thread count.
  const one = runOn(1);
  assert.equal(one.threads, 1);
  assert.equal(two.digest, one.digest);
});
