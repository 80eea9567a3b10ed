/**
 * Where the native TensorFlow backend lives once `pipeline setup native` has built it, and the
 * manifest that says what it was built from. Read by the backend loader (src/nn/backend.ts) in
 * every stage process, written by the setup (./setup.ts) as the last step of a build, so that a
 * folder with a manifest is a complete build.
 *
 *   <engine root>/.native/            in a clone of the engine (not in git); an installed engine
 *                                     builds into a per-user folder shared by every project:
 *                                     <user cache>/native/tfjs<version>-ops<digest>/ (see nativeDir);
 *                                     $LTH_NATIVE_DIR moves either
 *     native.json                     this manifest
 *     tensorflow/lib/                 libtensorflow_cc.so.2, libtensorflow_framework.so.2 (the wheel's)
 *     tensorflow/include/             the C API headers the binding compiles against, and Eigen (our ops)
 *     node/node_modules/@tensorflow/tfjs-node-gpu/
 *                                     the npm package, its binding built against the libraries
 *                                     above; its own copies of @tensorflow/tfjs* are links to the
 *                                     engine's, so one tfjs-core holds every backend
 *     lth_ops.node                    our own TensorFlow ops (./ops/lth_ops.cc), compiled
 */
import { existsSync, readFileSync } from 'node:fs';
import { hashSync } from 'hasha';
import { createRequire } from 'node:module';
import { dirname, join, resolve, sep } from 'node:path';
import { ENGINE_ROOT, userCacheDir } from '../../install.js';

/** The npm package whose binding is built: the owner's named dependency (its -gpu name only changes its download script, which never runs). */
export const NATIVE_PACKAGE = '@tensorflow/tfjs-node-gpu';
export const MANIFEST_SCHEMA = 1;

export interface NativeManifest {
  schema: typeof MANIFEST_SCHEMA;
  /** 'cpu' (tensorflow-cpu wheel) or 'gpu' (tensorflow wheel + its nvidia-* CUDA wheels). */
  variant: 'cpu' | 'gpu';
  /** TensorFlow's version, as the loaded binding reports it. */
  tensorflow: string;
  /** The wheel the libraries came from: what pip was asked for, the file it got, and its sha256. */
  wheel: { spec: string; name: string; sha256: string };
  /** The npm package and version whose binding was built. */
  package: string;
  /** The binding, relative to the native folder. */
  binding: string;
  /** Our ops library, relative to the native folder, and the sha256 of the source it was compiled from. */
  ops?: { path: string; digest: string };
}

/** The engine's install root: the folder of its package.json. */
export { ENGINE_ROOT };

/**
 * Where the native build is: `$LTH_NATIVE_DIR`; else `<engine root>/.native` in a clone of the
 * engine; else, for an engine installed under a project's node_modules, a per-user folder that
 * every project on the machine shares (ten projects, one 35 s build and ~500 MB of TensorFlow),
 * keyed by what a build must agree with in the engine that loads it: the tfjs version (the
 * binding's package, whose own imports of tfjs resolve to the running engine's: ../backend.ts)
 * and the digest of our ops' source. The TensorFlow release is the setup's choice
 * (`--tf-version`), recorded in the build's manifest.
 */
export function nativeDir(): string {
  if (process.env.LTH_NATIVE_DIR) return resolve(process.env.LTH_NATIVE_DIR);
  if (!ENGINE_ROOT.split(sep).includes('node_modules')) return join(ENGINE_ROOT, '.native');
  return join(userCacheDir(), 'native', `tfjs${tfjsVersion()}-ops${opsSourceDigest().slice(0, 12)}`);
}

/** The engine's @tensorflow/tfjs version. */
function tfjsVersion(): string {
  return (createRequire(join(ENGINE_ROOT, 'package.json'))('@tensorflow/tfjs/package.json') as { version: string }).version;
}

/** The source of our TensorFlow ops (a C++ file of the engine, compiled by the setup). */
export const OPS_SOURCE = join(ENGINE_ROOT, 'src', 'nn', 'native', 'ops', 'lth_ops.cc');
export const OPS_LIBRARY = 'lth_ops.node';

/** The sha256 of the ops' source as it is now: a build compiled from another source is not loaded. */
export function opsSourceDigest(): string {
  return hashSync(readFileSync(OPS_SOURCE), { algorithm: 'sha256' });
}

export const manifestPath = (dir: string): string => join(dir, 'native.json');
export const packageDir = (dir: string): string => join(dir, 'node', 'node_modules', ...NATIVE_PACKAGE.split('/'));

/** The manifest of a complete build in `dir`, or undefined (none, or unreadable: treated as no build). */
export function readManifest(dir: string = nativeDir()): NativeManifest | undefined {
  const path = manifestPath(dir);
  if (!existsSync(path)) return undefined;
  try {
    const m = JSON.parse(readFileSync(path, 'utf8')) as NativeManifest;
    return m.schema === MANIFEST_SCHEMA && typeof m.binding === 'string' ? m : undefined;
  } catch {
    return undefined;
  }
}
