// `pipeline setup native`: a missing tool (Python, pip, a C++ compiler, make) is a user error, exit
// 2, that names what to install, before anything is written; a second call on a built backend does
// nothing. The tools are hidden with a PATH that lacks them; the build folder is a temp folder.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CLI, REPO } from '../helpers/project.js';
import { manifestPath, nativeDir, opsSourceDigest, readManifest } from '../../src/nn/native/layout.js';

const which = (cmd: string): string | undefined => {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
};
// The interpreter itself (not a version manager's shim, which needs its own PATH).
const python = (() => {
  const p = which('python3');
  const r = p ? spawnSync(p, ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }) : undefined;
  return r?.status === 0 ? r.stdout.trim() : undefined;
})();

describe('pipeline setup native: missing tools', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'lth-setup-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));
  let n = 0;

  /** Runs the setup with only `tools` (name -> target, or a script's text) on PATH. */
  function setupWith(tools: Record<string, string>, args: string[] = []) {
    const bin = join(tmp, `bin${++n}`);
    const target = join(tmp, `native${n}`);
    mkdirSync(bin);
    for (const [name, to] of Object.entries(tools)) {
      if (to.startsWith('#!')) {
        writeFileSync(join(bin, name), to, { flag: 'w' });
        chmodSync(join(bin, name), 0o755);
      } else symlinkSync(to, join(bin, name));
    }
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: bin, LTH_NATIVE_DIR: target };
    delete env.CXX;
    const r = spawnSync(process.execPath, [CLI, 'setup', 'native', ...args], { cwd: REPO, env, encoding: 'utf8', timeout: 60_000 });
    return { code: r.status, err: r.stderr, out: r.stdout, wrote: existsSync(target) || existsSync(`${target}.partial`) };
  }

  test('no Python: exit 2, says to install python3, writes nothing', () => {
    const r = setupWith({});
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /Python 3 \(python3\) is missing/);
    assert.match(r.err, /apt-get install python3\b/);
    assert.equal(r.wrote, false);
  });

  test('Python without pip: exit 2, says to install python3-pip', { skip: !python && 'no python3 here' }, () => {
    // -S: no site-packages, so `python3 -m pip` finds no pip, as on a Python without it.
    const r = setupWith({ python3: `#!/bin/sh\nexec ${python} -S "$@"\n` });
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /pip \(python3 -m pip\) is missing/);
    assert.match(r.err, /apt-get install python3-pip/);
    assert.equal(r.wrote, false);
  });

  test('no C++ compiler: exit 2, says to install g++', { skip: !python && 'no python3 here' }, () => {
    const r = setupWith({ python3: python! });
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /a C\+\+ compiler \(g\+\+\) is missing/);
    assert.match(r.err, /apt-get install g\+\+/);
    assert.equal(r.wrote, false);
  });

  test('no make: exit 2, says to install make', { skip: (!python || !which('g++')) && 'no python3 or g++ here' }, () => {
    const r = setupWith({ python3: python!, 'g++': which('g++')! });
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /make is missing/);
    assert.equal(r.wrote, false);
  });

  test('a malformed --tf-version and an unknown target are usage errors (exit 2)', () => {
    const r = setupWith({}, ['--tf-version', 'latest; rm -rf /']);
    assert.equal(r.code, 2);
    assert.match(r.err, /is not a TensorFlow version/);
    const u = spawnSync(process.execPath, [CLI, 'setup', 'gpu'], { cwd: REPO, encoding: 'utf8' });
    assert.equal(u.status, 2);
    assert.match(u.stderr, /Allowed choices are native/);
  });
});

test('a second setup on a built backend does nothing', { skip: !readManifest() && `the native backend is not built in ${nativeDir()}` }, () => {
  const before = statSync(manifestPath(nativeDir())).mtimeMs;
  const entries = readdirSync(nativeDir()).sort();
  const r = spawnSync(process.execPath, [CLI, 'setup', 'native'], { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /already built: TensorFlow \d+\.\d+\.\d+ \(cpu\) from tensorflow_cpu-/);
  assert.equal(statSync(manifestPath(nativeDir())).mtimeMs, before);
  assert.deepEqual(readdirSync(nativeDir()).sort(), entries);
});

test('a build whose ops came from another source has only its ops compiled again, and then loads them', { skip: !readManifest()?.ops && `the native backend (with our ops) is not built in ${nativeDir()}` }, () => {
  const build = readManifest()!;
  const dir = mkdtempSync(join(tmpdir(), 'lth-native-ops-'));
  try {
    // The libraries and the binding are the real build's (links); the manifest says the ops are stale.
    for (const f of ['tensorflow', 'node']) symlinkSync(join(nativeDir(), f), join(dir, f));
    writeFileSync(manifestPath(dir), JSON.stringify({ ...build, ops: { path: build.ops!.path, digest: 'f'.repeat(64) } }));
    const env = { ...process.env, LTH_NATIVE_DIR: dir };
    const r = spawnSync(process.execPath, [CLI, 'setup', 'native'], { cwd: REPO, env, encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /\[1\/1\] compiling our TensorFlow ops again \(g\+\+\): their source has changed/);
    assert.equal(readManifest(dir)!.ops!.digest, opsSourceDigest());
    assert.ok(statSync(join(dir, build.ops!.path)).isFile(), 'the library is compiled into the build folder');
    const script = "import { initBackend } from './src/nn/backend.ts'; console.log((await initBackend('tensorflow', { threads: 1 })).versions['lth-ops']);";
    const load = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO, env, encoding: 'utf8' });
    assert.equal(load.status, 0, load.stderr);
    assert.equal(load.stdout.trim().split('\n').at(-1), opsSourceDigest());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('setup native --remove deletes the build (and a partial one), and says so; a second time there is nothing to remove', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lth-native-rm-'));
  const target = join(dir, 'native');
  mkdirSync(join(target, 'tensorflow', 'lib'), { recursive: true });
  writeFileSync(join(target, 'native.json'), '{}');
  mkdirSync(`${target}.partial`);
  const remove = () => spawnSync(process.execPath, [CLI, 'setup', 'native', '--remove'], { cwd: REPO, encoding: 'utf8', env: { ...process.env, LTH_NATIVE_DIR: target } });
  try {
    const r = remove();
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /removed the native backend .*the WASM backend is used/);
    assert.equal(existsSync(target) || existsSync(`${target}.partial`), false);
    const again = remove();
    assert.equal(again.status, 0);
    assert.match(again.stdout, /nothing to remove/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
