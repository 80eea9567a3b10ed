/**
 * `pipeline setup native`: the native TensorFlow backend, built from TensorFlow's own wheel.
 *
 * tfjs-node's install script downloads libtensorflow 2.9.1 (CUDA 11.2) from a bucket; instead,
 * pip fetches one fixed TensorFlow wheel (its libraries do not depend on Python), and the
 * binding that tfjs-node ships as source is compiled against the wheel's `libtensorflow_cc.so.2`,
 * which exports every C and eager C API function the binding calls (see
 * ../shared/notes/native-tensorflow.md). Layout: ./layout.ts.
 *
 * Every tool is checked before anything is written (a missing one is a user error, exit 2, with
 * what to install); the build happens in a `.partial` folder beside the target and is renamed into
 * place only once its binding has loaded in a child process, so an interrupted or failed setup
 * leaves the previous build (or none) as it was. A second call with the same wheel does nothing.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { delimiter, dirname, join, relative } from 'node:path';
import { hashFile } from 'hasha';
import { PipelineError } from '../../errors.js';
import { ENGINE_ROOT, MANIFEST_SCHEMA, NATIVE_PACKAGE, OPS_LIBRARY, OPS_SOURCE, manifestPath, nativeDir, opsSourceDigest, packageDir, readManifest, type NativeManifest } from './layout.js';

/** The TensorFlow release asked for by default: the one the index this project reaches serves. */
export const DEFAULT_TF_VERSION = '2.21.0';
/**
 * The one wheel pip is asked for, whatever Python runs pip: the libraries inside do not use
 * Python, so any CPython tag that the index has will do.
 */
const WHEEL_TARGET = ['--python-version', '3.11', '--implementation', 'cp', '--platform', 'manylinux_2_27_x86_64', '--only-binary=:all:'];
/** node-gyp is a build tool of this folder only: installed with the package, not with the engine. */
const NODE_GYP = 'node-gyp@11';

/** Eigen, the headers TensorFlow's own CPU kernels are built from: our dense training step's matrix products (./ops/lth_ops.cc). */
const EIGEN = 'Eigen/';
/** What the binding and our ops need from the wheel (the C API headers and what they include, and Eigen). */
const HEADER_PREFIXES = ['tensorflow/c/', 'tensorflow/core/platform/', 'tsl/', 'xla/tsl/', 'tensorflow/core/common_runtime/next_pluggable_device/c/', EIGEN];
const LIBRARIES = ['libtensorflow_cc.so.2', 'libtensorflow_framework.so.2'];

export interface SetupOptions {
  gpu?: boolean;
  tfVersion?: string;
  /** Told of each step as it starts. */
  onStep?: (step: number, steps: number, what: string) => void;
}

export interface SetupResult {
  /** False when an identical build was already there (nothing was done). */
  built: boolean;
  dir: string;
  manifest: NativeManifest;
}

const where = 'pipeline setup native';

function wheelSpec(o: SetupOptions): { variant: 'cpu' | 'gpu'; spec: string } {
  const version = o.tfVersion ?? DEFAULT_TF_VERSION;
  if (!/^\d+\.\d+(\.\d+)?([a-z]+\d*)?$/.test(version)) {
    throw new PipelineError('USAGE', `--tf-version '${version}' is not a TensorFlow version`, { where, hint: `for example ${DEFAULT_TF_VERSION}` });
  }
  return o.gpu ? { variant: 'gpu', spec: `tensorflow==${version}` } : { variant: 'cpu', spec: `tensorflow-cpu==${version}` };
}

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((d) => d !== '' && existsSync(join(d, cmd)));
}

/** The tools a build needs, each checked before anything changes; a missing one says what to install. */
function checkTools(): { python: string; cxx: string } {
  const missing = (what: string, install: string): never => {
    throw new PipelineError('TOOL_MISSING', `${what} is missing: the native backend is built from TensorFlow's wheel with it`, {
      where,
      hint: `install it (Debian: apt-get install ${install}) and run the setup again; without it, the WASM backend is used`,
    });
  };
  const python = ['python3', 'python'].find(onPath);
  if (!python) missing('Python 3 (python3)', 'python3');
  const pip = spawnSync(python!, ['-m', 'pip', '--version'], { encoding: 'utf8' });
  if (pip.status !== 0) missing(`pip (${python} -m pip)`, 'python3-pip');
  const cxx = process.env.CXX ?? 'g++';
  if (!onPath(cxx)) missing(`a C++ compiler (${cxx})`, 'g++');
  if (!onPath('make')) missing('make', 'make');
  if (!onPath('npm')) missing('npm', 'npm');
  return { python: python!, cxx };
}

/** Resolves packages as the engine does. */
const engineRequire = createRequire(join(ENGINE_ROOT, 'package.json'));

/** The engine's version of an npm package (the native package must match the engine's tfjs). */
function engineVersion(pkg: string): string | undefined {
  try {
    return (engineRequire(`${pkg}/package.json`) as { version: string }).version;
  } catch {
    return undefined;
  }
}

/** Runs a command with its output appended to the build log; on failure, the log's tail. */
async function runLogged(log: string, cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<void> {
  await writeFile(log, `\n$ ${cmd} ${args.join(' ')}\n`, { flag: 'a' });
  const out = createWriteStream(log, { flags: 'a' });
  const code = await new Promise<number | null>((done, fail) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pipe(out, { end: false });
    child.stderr.pipe(out, { end: false });
    child.on('error', fail);
    child.on('close', done);
  });
  await new Promise((r) => out.end(r));
  if (code !== 0) {
    const tail = (await readFile(log, 'utf8')).trimEnd().split('\n').slice(-15).join('\n');
    throw new PipelineError('SETUP_FAILED', `${cmd} ${args[0] ?? ''} failed (exit ${code}):\n${tail}`, { where, hint: `the whole log: ${log}` });
  }
}

/** Extracts from a wheel (a zip) the members under any of `prefixes`, with Python's zipfile. */
async function extract(log: string, python: string, wheel: string, prefixes: string[], into: string): Promise<void> {
  const script = [
    'import sys, zipfile',
    'z = zipfile.ZipFile(sys.argv[1]); pre = tuple(sys.argv[3:])',
    'names = [n for n in z.namelist() if n.startswith(pre) and not n.endswith("/")]',
    'z.extractall(sys.argv[2], names); print(len(names), "files")',
  ].join('\n');
  await runLogged(log, python, ['-c', script, wheel, into, ...prefixes]);
}

/** The `Requires-Dist` of the wheel's `and-cuda` extra: the nvidia-* wheels of its CUDA libraries. */
function cudaRequirements(metadata: string): string[] {
  return metadata
    .split('\n')
    .filter((l) => l.startsWith('Requires-Dist:') && /extra\s*==\s*["']and-cuda["']/.test(l))
    .map((l) => l.slice('Requires-Dist:'.length).split(';')[0]!.replace(/\s+/g, ''));
}

/** The N-API version the binding is built for: the highest that both Node and the package support. */
function napiVersion(pkgDir: string): number {
  const listed = (JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { binary: { napi_versions: number[] } }).binary.napi_versions;
  const node = Number(process.versions.napi);
  return Math.max(...listed.filter((v) => v <= node));
}

/** Node's headers for node-gyp: the installed ones when there are (no download), else node-gyp's default. */
function nodeDirArgs(): string[] {
  const prefix = dirname(dirname(process.execPath));
  const dir = process.env.npm_config_nodedir ?? (existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined);
  return dir ? [`--nodedir=${dir}`] : [];
}

/**
 * Loads the binding (path relative to `dir`), and our ops library after it when given, in a child
 * process, as a stage would; returns TensorFlow's version.
 */
function probe(dir: string, binding: string, ops?: string): { ok: true; version: string } | { ok: false; reason: string } {
  const script = `const tf = require(${JSON.stringify(packageDir(dir))}); if (process.argv[2]) require(process.argv[2]); process.stdout.write(tf.getBackend() + ' ' + require(process.argv[1]).TF_Version);`;
  const r = spawnSync(process.execPath, ['-e', script, join(dir, binding), ops ? join(dir, ops) : ''], { encoding: 'utf8', env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' } });
  const [backend, version] = (r.stdout ?? '').trim().split(' ');
  if (r.status === 0 && backend === 'tensorflow' && version) return { ok: true, version };
  return { ok: false, reason: (r.stderr || r.stdout || `exit ${r.status}`).trim().split('\n').slice(-3).join(' ') };
}

async function linkRelative(target: string, path: string): Promise<void> {
  await rm(path, { force: true, recursive: true });
  await symlink(relative(dirname(path), target), path);
}

/** One build in progress: its folder, its log, and the tools it runs. */
interface Build {
  partial: string;
  log: string;
  python: string;
  cxx: string;
}

/** pip downloads the wheel (and nothing else); returns its path, name and sha256. */
async function downloadWheel(b: Build, spec: string): Promise<{ wheel: string; name: string; sha256: string }> {
  const wheels = join(b.partial, 'wheels');
  await runLogged(b.log, b.python, ['-m', 'pip', 'download', '--no-deps', ...WHEEL_TARGET, '-d', wheels, spec]);
  const name = readdirSync(wheels).find((f) => f.endsWith('.whl'));
  if (!name) throw new PipelineError('SETUP_FAILED', `pip downloaded no wheel for ${spec}`, { where, hint: `the whole log: ${b.log}` });
  const wheel = join(wheels, name);
  return { wheel, name, sha256: await hashFile(wheel, { algorithm: 'sha256' }) };
}

/** The two libraries into tensorflow/lib, the headers into tensorflow/include; returns the wheel's METADATA. */
async function unpackWheel(b: Build, wheel: string, name: string, tfDir: string): Promise<string> {
  const unpacked = join(b.partial, 'unpacked');
  const metadata = `${name.split('-').slice(0, 2).join('-')}.dist-info/METADATA`;
  await extract(b.log, b.python, wheel, [...LIBRARIES.map((l) => `tensorflow/${l}`), ...HEADER_PREFIXES.map((p) => `tensorflow/include/${p}`), metadata], unpacked);
  await mkdir(join(tfDir, 'lib'), { recursive: true });
  for (const l of LIBRARIES) await rename(join(unpacked, 'tensorflow', l), join(tfDir, 'lib', l));
  await rename(join(unpacked, 'tensorflow', 'include'), join(tfDir, 'include'));
  const text = await readFile(join(unpacked, metadata), 'utf8');
  await rm(unpacked, { recursive: true, force: true });
  return text;
}

/**
 * The CUDA libraries of the nvidia-* wheels go beside libtensorflow_cc.so.2, whose RUNPATH holds
 * $ORIGIN: TensorFlow finds them there when it dlopens CUDA (LD_LIBRARY_PATH also works).
 */
async function unpackCuda(b: Build, reqs: string[], libDir: string): Promise<void> {
  if (reqs.length === 0) return;
  const cuda = join(b.partial, 'wheels', 'cuda');
  const unpacked = join(b.partial, 'unpacked-cuda');
  await runLogged(b.log, b.python, ['-m', 'pip', 'download', '--no-deps', ...WHEEL_TARGET, '-d', cuda, ...reqs]);
  for (const w of readdirSync(cuda)) await extract(b.log, b.python, join(cuda, w), ['nvidia/'], unpacked);
  const nvidia = join(unpacked, 'nvidia');
  for (const pkg of existsSync(nvidia) ? readdirSync(nvidia) : []) {
    const lib = join(nvidia, pkg, 'lib');
    for (const f of existsSync(lib) ? readdirSync(lib) : []) if (f.includes('.so')) await rename(join(lib, f), join(libDir, f));
  }
  await rm(unpacked, { recursive: true, force: true });
}

/**
 * npm installs the package without its scripts (and node-gyp beside it); its own @tensorflow/tfjs*
 * become links to the engine's (same versions), so one tfjs-core holds every backend and tensors,
 * kernels and gradients are shared.
 */
async function installPackage(b: Build, pkgSpec: string): Promise<void> {
  const nodeDir = join(b.partial, 'node');
  await mkdir(nodeDir, { recursive: true });
  await writeFile(join(nodeDir, 'package.json'), JSON.stringify({ name: 'lth-native', private: true }) + '\n');
  await runLogged(b.log, 'npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--no-package-lock', '--omit=dev', pkgSpec, NODE_GYP], { cwd: nodeDir });
  const scope = join(nodeDir, 'node_modules', '@tensorflow');
  for (const name of readdirSync(scope)) {
    const pkg = `@tensorflow/${name}`;
    if (pkg === NATIVE_PACKAGE) continue;
    const theirs = (JSON.parse(readFileSync(join(scope, name, 'package.json'), 'utf8')) as { version: string }).version;
    if (engineVersion(pkg) === theirs) await linkRelative(dirname(engineRequire.resolve(`${pkg}/package.json`)), join(scope, name));
  }
}

/** node-gyp builds the binding against the wheel's library; returns its path relative to the build folder. */
async function buildBinding(b: Build, tfDir: string): Promise<string> {
  const pkgDir = packageDir(b.partial);
  const deps = join(pkgDir, 'deps');
  const libDir = join(tfDir, 'lib');
  await mkdir(join(deps, 'lib'), { recursive: true });
  // binding.gyp links -ltensorflow -ltensorflow_framework; the wheel's library is called
  // libtensorflow_cc.so.2 (its SONAME, which the built binding then asks for).
  for (const name of ['libtensorflow.so', 'libtensorflow.so.2', 'libtensorflow_cc.so.2']) await linkRelative(join(libDir, 'libtensorflow_cc.so.2'), join(deps, 'lib', name));
  for (const name of ['libtensorflow_framework.so', 'libtensorflow_framework.so.2']) await linkRelative(join(libDir, 'libtensorflow_framework.so.2'), join(deps, 'lib', name));
  await linkRelative(join(tfDir, 'include'), join(deps, 'include'));
  const napi = napiVersion(pkgDir);
  const modulePath = join(pkgDir, 'lib', `napi-v${napi}`);
  const nodeGyp = join(b.partial, 'node', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  await runLogged(b.log, process.execPath, [nodeGyp, 'rebuild', ...nodeDirArgs(), '--module_name=tfjs_binding', `--module_path=${modulePath}`, `--napi_build_version=${napi}`], { cwd: pkgDir });
  await rm(join(pkgDir, 'build'), { recursive: true, force: true });
  return relative(b.partial, join(modulePath, 'tfjs_binding.node'));
}

/**
 * AVX2 and FMA where this machine has them: Eigen chooses its matrix product kernels when it is
 * compiled, and with them LeNet-300-100's products run at 2.6x the speed of the x86-64
 * baseline's (SSE; 0.68 against 1.8 ms a step). The library then checks the CPU when it loads (it
 * refuses to load without them, and the composed ops run). Element-wise loops are unaffected: one
 * IEEE operation per lane, the same bits.
 */
function vectorFlags(): string[] {
  let flags = '';
  try {
    flags = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags')) ?? '';
  } catch {
    return [];
  }
  const has = (f: string) => flags.split(/\s+/).includes(f);
  return has('avx2') && has('fma') ? ['-mavx2', '-mfma'] : [];
}

/**
 * Eigen's headers from the wheel the build came from, for a build made before our ops needed them:
 * pip downloads the same wheel again (its sha256 must be the recorded one), only they are extracted.
 */
async function addEigen(log: string, python: string, dir: string, m: NativeManifest): Promise<void> {
  const partial = join(dir, 'eigen.partial');
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  try {
    const w = await downloadWheel({ partial, log, python, cxx: '' }, m.wheel.spec);
    if (w.sha256 !== m.wheel.sha256) {
      throw new PipelineError('SETUP_FAILED', `pip now gives ${w.name} with sha256 ${w.sha256}, not the wheel this build came from (${m.wheel.sha256})`, {
        where,
        hint: 'build it again whole: npx pipeline setup native --remove, then npx pipeline setup native',
      });
    }
    await extract(log, python, w.wheel, [`tensorflow/include/${EIGEN}`], join(partial, 'unpacked'));
    await rename(join(partial, 'unpacked', 'tensorflow', 'include', EIGEN), join(dir, 'tensorflow', 'include', EIGEN));
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
}

/**
 * g++ compiles our ops (./ops/lth_ops.cc) against the wheel's C API headers and
 * libtensorflow_framework.so.2 (found at run time beside it, through RUNPATH), as a Node-API module
 * (Node's headers). Float arithmetic as written: no contraction into FMAs, no fast-math.
 * Returns the manifest's `ops` entry.
 */
async function buildOps(log: string, cxx: string, dir: string, tfDir: string): Promise<{ path: string; digest: string }> {
  const digest = opsSourceDigest();
  const nodeInclude = join(dirname(dirname(process.execPath)), 'include', 'node');
  const partial = join(dir, `${OPS_LIBRARY}.partial`);
  await runLogged(log, cxx, [
    '-O3', '-std=c++17', '-fPIC', '-shared', '-pthread', '-ffp-contract=off', '-fno-math-errno', '-fvisibility=hidden', ...vectorFlags(),
    `-I${join(tfDir, 'include')}`, `-I${nodeInclude}`, `-DLTH_OPS_DIGEST="${digest}"`,
    '-o', partial, OPS_SOURCE,
    `-L${join(tfDir, 'lib')}`, '-l:libtensorflow_framework.so.2', `-Wl,-rpath,$ORIGIN/${relative(dir, join(tfDir, 'lib'))}`,
  ]);
  await rename(partial, join(dir, OPS_LIBRARY));
  return { path: OPS_LIBRARY, digest };
}

async function writeManifest(dir: string, m: NativeManifest): Promise<void> {
  await writeFile(`${manifestPath(dir)}.partial`, JSON.stringify(m, null, 2) + '\n');
  await rename(`${manifestPath(dir)}.partial`, manifestPath(dir));
}

/**
 * Builds the native backend (or finds it built). Throws TOOL_MISSING (user error) before
 * changing anything when a tool is missing, SETUP_FAILED when a step fails. A build whose ops
 * were compiled from another source (or before there were ops) has them compiled again, alone.
 */
export async function setupNative(o: SetupOptions = {}): Promise<SetupResult> {
  const { variant, spec } = wheelSpec(o);
  const dir = nativeDir();
  const version = engineVersion('@tensorflow/tfjs');
  if (!version) throw new PipelineError('TOOL_MISSING', '@tensorflow/tfjs is not installed in the engine', { where, hint: 'run npm ci first' });
  const pkgSpec = `${NATIVE_PACKAGE}@${version}`;

  const existing = readManifest(dir);
  // A build from before our ops lacks some of their headers: it is built again, whole.
  if (existing?.wheel.spec === spec && existing.package === pkgSpec && existing.ops && probe(dir, existing.binding).ok) {
    if (existing.ops.digest === opsSourceDigest()) return { built: false, dir, manifest: existing };
    const { python, cxx } = checkTools();
    const log = join(dir, 'build.log');
    const eigen = !existsSync(join(dir, 'tensorflow', 'include', EIGEN, 'Core'));
    if (eigen) {
      o.onStep?.(1, 2, `extracting Eigen's headers from ${existing.wheel.name} (pip downloads it again)`);
      await addEigen(log, python, dir, existing);
    }
    o.onStep?.(eigen ? 2 : 1, eigen ? 2 : 1, 'compiling our TensorFlow ops again (g++): their source has changed');
    const ops = await buildOps(log, cxx, dir, join(dir, 'tensorflow'));
    const p = probe(dir, existing.binding, ops.path);
    if (!p.ok) throw new PipelineError('SETUP_FAILED', `our ops do not load: ${p.reason}`, { where, hint: `the build log: ${log}` });
    const manifest = { ...existing, ops };
    await writeManifest(dir, manifest);
    return { built: true, dir, manifest };
  }
  const { python, cxx } = checkTools();

  const steps = variant === 'gpu' ? 8 : 7;
  let step = 0;
  const say = (what: string) => o.onStep?.(++step, steps, what);
  const partial = `${dir}.partial`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  const b: Build = { partial, log: join(partial, 'build.log'), python, cxx };
  const tfDir = join(partial, 'tensorflow');

  say(`downloading ${spec} with pip`);
  const w = await downloadWheel(b, spec);
  say(`extracting libtensorflow and the C API headers from ${w.name}`);
  const metadata = await unpackWheel(b, w.wheel, w.name, tfDir);
  if (variant === 'gpu') {
    const reqs = cudaRequirements(metadata);
    say(`downloading the CUDA libraries (${reqs.length} nvidia-* wheels)`);
    await unpackCuda(b, reqs, join(tfDir, 'lib'));
  }
  await rm(join(partial, 'wheels'), { recursive: true, force: true });
  say(`installing ${pkgSpec} (without its download script)`);
  await installPackage(b, pkgSpec);
  say('building the binding against libtensorflow_cc.so.2 (node-gyp)');
  const binding = await buildBinding(b, tfDir);
  say('compiling our TensorFlow ops (g++)');
  const ops = await buildOps(b.log, b.cxx, partial, tfDir);
  say('checking that the binding and our ops load');
  const p = probe(partial, binding, ops.path);
  if (!p.ok) throw new PipelineError('SETUP_FAILED', `the built binding does not load: ${p.reason}`, { where, hint: `the build log: ${b.log}` });
  await writeManifest(partial, { schema: MANIFEST_SCHEMA, variant, tensorflow: p.version, wheel: { spec, name: w.name, sha256: w.sha256 }, package: pkgSpec, binding, ops });

  say(`installing into ${dir}`);
  await rm(dir, { recursive: true, force: true });
  await rename(partial, dir);
  return { built: true, dir, manifest: readManifest(dir)! };
}

/** Removes the native build (and any partial one). Returns whether there was one. */
export async function removeNative(dir: string = nativeDir()): Promise<boolean> {
  const had = existsSync(dir) || existsSync(`${dir}.partial`);
  await rm(dir, { recursive: true, force: true });
  await rm(`${dir}.partial`, { recursive: true, force: true });
  return had;
}
