/**
 * Compute backend selection for the training engine.
 *
 * One TensorFlow.js instance is used by everything in src/nn: call `tf()` for it, never import
 * `@tensorflow/tfjs*` directly in models or training code. The native backend is the binding of
 * `@tensorflow/tfjs-node-gpu` built by `pipeline setup native` against TensorFlow's own wheel
 * (src/nn/native/), or an installed `@tensorflow/tfjs-node(-gpu)` package; its tfjs is the
 * engine's (linked), so `tf()` is the same tfjs-core whichever backend runs. Otherwise it is
 * `@tensorflow/tfjs-core` with the WASM backend (XNNPACK, SIMD) and our extra kernels, or the
 * pure-JS cpu backend.
 *
 * Preference order for 'auto': native TensorFlow > wasm > cpu. The environment variable
 * `LTH_BACKEND` (auto|tensorflow|wasm|cpu) replaces the default preference 'auto'.
 */
import { mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, sep } from 'node:path';
import { core, type Core } from './tfjs-core.js';
import { PipelineError } from '../errors.js';
import { NATIVE_PACKAGE, nativeDir, opsSourceDigest, packageDir, readManifest, type NativeManifest } from './native/layout.js';

export type TF = Core;
export type BackendPref = 'auto' | 'tensorflow' | 'wasm' | 'cpu';
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

export interface BackendInfo {
  /** The backend actually in use. */
  name: BackendName;
  /** What was asked for (after LTH_BACKEND was applied to 'auto'). */
  requested: BackendPref;
  /** Compute threads the backend uses (WASM: XNNPACK's thread pool; native: TensorFlow's own). */
  threads: number;
  /** Package versions that can change numerical results, for provenance. */
  versions: Record<string, string>;
  /** Why a preferred backend was not used ('auto' only). */
  fallbackReason?: string;
}

const PREFS: readonly BackendPref[] = ['auto', 'tensorflow', 'wasm', 'cpu'];
const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

// tfjs-core until a native backend's namespace replaces it; loaded on first use (./tfjs-core.ts).
let active: TF | undefined;
let current: BackendInfo | undefined;
let currentKey: string | undefined;
let warned = false;

/** The active TensorFlow.js namespace (the native package's when that backend is active). */
export function tf(): TF {
  return active ?? core();
}

/** The info of the active backend, or undefined before `initBackend`. */
export function backendInfo(): BackendInfo | undefined {
  return current;
}

function parsePref(v: string, where: string): BackendPref {
  if ((PREFS as readonly string[]).includes(v)) return v as BackendPref;
  throw new PipelineError('PARAM_INVALID', `unknown backend '${v}'`, {
    where,
    hint: `use one of ${PREFS.join(', ')}`,
  });
}

function errMsg(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.split('\n')[0]!.slice(0, 300);
}

interface NativeLoad {
  ok: boolean;
  pkg?: string;
  mod?: TF & { version?: Record<string, string> };
  /** The build of `pipeline setup native` that was loaded, if it was that. */
  build?: NativeManifest;
  /** The digest of our ops' source when their library was loaded with the build. */
  ops?: string;
  reason?: string;
}

let nativeLoad: NativeLoad | undefined;

/**
 * TensorFlow's settings, read once when its binding loads (so before the first native
 * backend of the process): intra-op threads as the stage was given (the scheduler counts them),
 * one inter-op thread (eager ops run one at a time), its warnings and errors but not its INFO
 * notices (level 1; the notices that Abseil prints while the library loads are dropped where a
 * stage's output is read: src/engine/runner/library-log.ts), and deterministic kernels. Each is left as it is when the user set it.
 */
function nativeEnv(threads: number | undefined): void {
  const set = (k: string, v: string) => {
    if (process.env[k] === undefined) process.env[k] = v;
  };
  if (threads !== undefined) set('TF_NUM_INTRAOP_THREADS', String(threads));
  set('TF_NUM_INTEROP_THREADS', '1');
  set('TF_CPP_MIN_LOG_LEVEL', '1');
  set('TF_DETERMINISTIC_OPS', '1');
}

/**
 * Load the native backend, remembered for the process: the build of `pipeline setup native`
 * first, then an installed native package.
 */
function loadNative(threads: number | undefined): NativeLoad {
  if (nativeLoad) return nativeLoad;
  const reasons: string[] = [];
  const dir = nativeDir();
  const build = readManifest(dir);
  const candidates: Array<{ pkg: string; from: string; build?: NativeManifest }> = [];
  if (build) candidates.push({ pkg: NATIVE_PACKAGE, from: packageDir(dir), build });
  else reasons.push('the native backend is not built (npx pipeline setup native)');
  for (const pkg of NATIVE_PACKAGES) candidates.push({ pkg, from: pkg });
  nativeEnv(threads);
  const require = createRequire(import.meta.url);
  if (build) resolveTfjsFromEngine(dir);
  for (const c of candidates) {
    try {
      const mod = require(c.from) as TF & { version?: Record<string, string> };
      const ops = c.build ? loadOps(dir, c.build) : undefined;
      nativeLoad = { ok: true, pkg: c.pkg, mod, ...(c.build ? { build: c.build } : {}), ...(ops ? { ops } : {}) };
      return nativeLoad;
    } catch (e) {
      const code = (e as { code?: string }).code;
      reasons.push(code === 'MODULE_NOT_FOUND' && !c.build ? `${c.pkg} is not installed` : `${c.build ? `the native build in ${dir}` : c.pkg} failed to load: ${errMsg(e)}`);
    }
  }
  nativeLoad = { ok: false, reason: reasons.join('; ') };
  return nativeLoad;
}

/**
 * The native build's own imports of tfjs (`@tensorflow/tfjs`, `-core`, ...) resolve to the running
 * engine's copies, not to the links the build has: a per-user build is shared by every project
 * (./native/layout.ts), its links point into the node_modules of the project that built it, and
 * one tfjs-core must hold every backend, kernel and tensor of the process. Node 20 has no public
 * resolution hook for require(): Module._resolveFilename is wrapped, for requests made from
 * inside the build's folder only.
 */
function resolveTfjsFromEngine(dir: string): void {
  const M = Module as unknown as { _resolveFilename: (request: string, parent: { filename?: string | null } | undefined, ...rest: unknown[]) => string };
  const original = M._resolveFilename;
  const engine = createRequire(import.meta.url);
  const inside = realpathOr(dir) + sep;
  M._resolveFilename = function (this: unknown, request, parent, ...rest) {
    if (request.startsWith('@tensorflow/tfjs') && !request.startsWith(NATIVE_PACKAGE) && parent?.filename?.startsWith(inside)) return engine.resolve(request);
    return original.call(this, request, parent, ...rest);
  };
}

function realpathOr(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/**
 * Our ops (src/nn/native/ops/lth_ops.cc) after the binding, when the build has them compiled from
 * the source as it is now (`LTH_NATIVE_OPS=0`: never, for comparisons). Otherwise the composed
 * versions run, and a build from other source is said once. Returns the source's digest.
 */
function loadOps(dir: string, build: NativeManifest): string | undefined {
  if (process.env.LTH_NATIVE_OPS === '0') return undefined;
  if (!build.ops || build.ops.digest !== opsSourceDigest()) {
    process.stderr.write(`lth-pipeline: the native build in ${dir} has ${build.ops ? 'our TensorFlow ops from another source' : 'no TensorFlow ops of ours'}; \`npx pipeline setup native\` compiles them (until then batch norm and the optimizer run as composed ops)\n`);
    return undefined;
  }
  try {
    createRequire(import.meta.url)(join(dir, build.ops.path));
    return build.ops.digest;
  } catch (e) {
    process.stderr.write(`lth-pipeline: our TensorFlow ops in ${dir} failed to load (${errMsg(e)}); \`npx pipeline setup native\` builds them again\n`);
    return undefined;
  }
}

async function useNative(load: NativeLoad): Promise<Omit<BackendInfo, 'requested'>> {
  const mod = load.mod!;
  active = mod;
  // Kernel modules are loaded with the backend that uses them: planning never needs them.
  const { registerNativeKernels } = await import('./kernels/native.js');
  registerNativeKernels(load.ops !== undefined);
  await mod.setBackend('tensorflow');
  await mod.ready();
  const versions: Record<string, string> = { [load.pkg!]: String(mod.version?.['tfjs-node'] ?? 'unknown') };
  for (const [k, v] of Object.entries(mod.version ?? {})) versions[k] = String(v);
  versions['tfjs-core'] = mod.version_core ?? versions['tfjs-core'] ?? 'unknown';
  if (load.build) {
    // Provenance: which TensorFlow computed the result, and the exact wheel its library came from.
    versions.tensorflow = load.build.tensorflow;
    versions['tensorflow-wheel'] = load.build.wheel.name;
    versions['tensorflow-wheel-sha256'] = load.build.wheel.sha256;
    versions['lth-ops'] = load.ops ?? 'not loaded';
  }
  return { name: 'tensorflow', threads: Number(process.env.TF_NUM_INTRAOP_THREADS) || availableParallelism(), versions };
}

let wasmThreadsEnabled = false;

/**
 * Let the WASM backend run XNNPACK on several threads under Node. The package turns threads off
 * whenever it detects Node (tensorflow/tfjs#3830) and hands Emscripten its pthread worker and
 * main script as Blobs, which Node's worker_threads cannot load. Here: the worker script is
 * written to a file (with, in front, a shim that makes the worker read the threaded factory from
 * its file in the package instead of the Blob), `URL.createObjectURL` returns that file for the
 * worker Blob, and the support flag is set. Must run before the wasm backend first initialises.
 */
function enableNodeWasmThreads(): void {
  if (wasmThreadsEnabled) return;
  const require = createRequire(import.meta.url);
  const out = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'wasm-out');
  const factoryFile = join(out, 'tfjs-backend-wasm-threaded-simd.js');
  const { wasmWorkerContents } = require(join(out, 'tfjs-backend-wasm-threaded-simd.worker.js')) as { wasmWorkerContents: string };
  const shim = `URL.createObjectURL=()=>${JSON.stringify(factoryFile)};URL.revokeObjectURL=()=>{};`;
  const strict = '"use strict";';
  const body = wasmWorkerContents.startsWith(strict) ? strict + shim + wasmWorkerContents.slice(strict.length) : shim + wasmWorkerContents;
  const workerFile = join(mkdtempSync(join(tmpdir(), 'lth-wasm-')), 'tfjs-backend-wasm-threaded-simd.worker.js');
  // As the package does for its Blob: the template literal turned escaped newlines inside string
  // literals into real ones.
  writeFileSync(workerFile, body.replace(/\n/g, '\\n'));
  const original = URL.createObjectURL.bind(URL);
  URL.createObjectURL = (obj: Blob | MediaSource) =>
    obj instanceof Blob && obj.type === 'application/javascript' ? workerFile : original(obj as Blob);
  core().env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  wasmThreadsEnabled = true;
}

async function useWasm(threads: number | undefined): Promise<Omit<BackendInfo, 'requested'>> {
  const tfwasm = await import('@tensorflow/tfjs-backend-wasm');
  const { registerWasmKernels, simdKernels, useSimdKernels } = await import('./kernels/index.js');
  const { loadSimdKernels } = await import('./kernels/simd/index.js');
  const tfcore = core();
  active = tfcore;
  // Threads can only be chosen before the backend's first initialisation (one WASM instance).
  const first = !tfcore.findBackend('wasm');
  const threaded = threads !== undefined && threads > 1 && first;
  if (threaded) enableNodeWasmThreads();
  if (threads !== undefined) tfwasm.setThreadsCount(threads);
  registerWasmKernels();
  // The backend's C++ start-up caps its thread pool at half the logical cores that
  // os.cpus() reports (assuming 2 hyperthreads per core); report enough for the threads asked.
  const os = createRequire(import.meta.url)('node:os') as { cpus: () => unknown[] };
  const cpus = os.cpus;
  if (threaded) os.cpus = () => Array.from({ length: Math.max(cpus().length, 2 * threads) }, (_, i) => cpus()[i % cpus().length]);
  try {
    const ok = await tfcore.setBackend('wasm');
    if (!ok) throw new Error('tf.setBackend("wasm") returned false');
    await tfcore.ready();
  } finally {
    os.cpus = cpus;
  }
  const b = tfcore.backend() as unknown as {
    wasm?: {
      tfjs?: { getThreadsCount?: () => number };
      asm?: { memory?: WebAssembly.Memory };
      wasmMemory?: WebAssembly.Memory;
      PThread?: { runningWorkers?: Array<{ unref?: () => void }> };
    };
  };
  const t = b.wasm?.tfjs?.getThreadsCount?.() ?? 1;
  // The thread pool's workers wait for work for the life of the process; Emscripten leaves them
  // referenced, so a script that used threads would never exit by itself.
  for (const w of b.wasm?.PThread?.runningWorkers ?? []) w.unref?.();
  // Our SIMD kernels (src/nn/kernels/simd/) on the backend's heap; LTH_WASM_SIMD=0 turns them
  // off (for comparisons), and without them the XNNPACK-based kernels are used.
  // (The single-threaded build exports its memory; the threaded one creates it in JS.)
  const memory = b.wasm?.asm?.memory ?? b.wasm?.wasmMemory;
  if (process.env.LTH_WASM_SIMD !== '0' && memory && !simdKernels()) useSimdKernels(await loadSimdKernels(memory, t));
  const versions: Record<string, string> = { 'tfjs-core': tfcore.version_core, 'tfjs-backend-wasm': tfwasm.version_wasm };
  const simd = simdKernels();
  if (simd) versions['lth-wasm-simd'] = simd.version;
  return { name: 'wasm', threads: t, versions };
}

async function useCpu(): Promise<Omit<BackendInfo, 'requested'>> {
  const tfcore = core();
  active = tfcore;
  await tfcore.setBackend('cpu');
  await tfcore.ready();
  return { name: 'cpu', threads: 1, versions: { 'tfjs-core': tfcore.version_core } };
}

/**
 * Select and initialise a backend. Idempotent: the same preference returns the same info.
 * An explicit preference that cannot be met throws BACKEND_UNAVAILABLE; 'auto' falls back and
 * records (and says once, on stderr) why.
 */
export async function initBackend(
  pref: BackendPref = 'auto',
  opts: { threads?: number } = {},
): Promise<BackendInfo> {
  parsePref(pref, 'initBackend');
  // @tensorflow/tfjs registers the gradient functions (and the cpu backend) on the shared
  // tfjs-core. Loaded here, not when this module is imported: planning a pipeline imports the
  // training code but never trains, and the package alone took ~360 of the LTH layer's ~840 ms
  // of import time (LeNet's warm `status`: 1.0 s).
  await import('@tensorflow/tfjs');
  let requested = pref;
  if (pref === 'auto' && process.env.LTH_BACKEND) requested = parsePref(process.env.LTH_BACKEND, 'LTH_BACKEND');
  if (opts.threads !== undefined && !(Number.isInteger(opts.threads) && opts.threads >= 1)) {
    throw new PipelineError('PARAM_INVALID', `threads must be a positive integer, got ${opts.threads}`, {
      where: 'initBackend',
    });
  }
  const key = `${requested}/${opts.threads ?? ''}`;
  if (current && currentKey === key && tf().getBackend() === current.name) return current;

  let info: Omit<BackendInfo, 'requested'>;
  const reasons: string[] = [];
  if (requested === 'tensorflow' || requested === 'auto') {
    const load = loadNative(opts.threads);
    if (load.ok) {
      try {
        info = await useNative(load);
        return remember({ ...info, requested }, key);
      } catch (e) {
        reasons.push(`${load.pkg} loaded but its backend failed: ${errMsg(e)}`);
      }
    } else {
      reasons.push(load.reason!);
    }
    if (requested === 'tensorflow') {
      throw new PipelineError('BACKEND_UNAVAILABLE', `native TensorFlow backend unavailable: ${reasons.join('; ')}`, {
        where: 'initBackend',
        hint: 'build it with `npx pipeline setup native` (TensorFlow\'s wheel, through pip), or use backend wasm',
      });
    }
  }
  if (requested === 'wasm' || requested === 'auto') {
    try {
      info = await useWasm(opts.threads);
      return remember({ ...info, requested, ...(reasons.length ? { fallbackReason: reasons.join('; ') } : {}) }, key);
    } catch (e) {
      reasons.push(`wasm backend failed: ${errMsg(e)}`);
      if (requested === 'wasm') {
        throw new PipelineError('BACKEND_UNAVAILABLE', `WASM backend unavailable: ${errMsg(e)}`, {
          where: 'initBackend',
          hint: 'check that @tensorflow/tfjs-backend-wasm is installed (npm ci), or use backend cpu',
          cause: e,
        });
      }
    }
  }
  info = await useCpu();
  return remember({ ...info, requested, ...(reasons.length ? { fallbackReason: reasons.join('; ') } : {}) }, key);
}

function remember(info: BackendInfo, key: string): BackendInfo {
  current = info;
  currentKey = key;
  // Say why once, unless the only reason is that no native backend is built (the normal case).
  const notable = info.fallbackReason?.split('; ').some((r) => !r.endsWith('is not installed') && !r.includes('is not built'));
  if (notable && !warned && !process.env.LTH_QUIET_BACKEND) {
    warned = true;
    process.stderr.write(`lth-pipeline: using the ${info.name} backend (${info.fallbackReason})\n`);
  }
  return info;
}
