// The untrusted-input checks every remote shares (src/store/remote/), on a real directory remote:
// keys and digests never become paths unchecked, links and special files are refused, records
// must be what was asked for, bad entries are warned about once, and nothing local is deleted.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync, existsSync, lstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { isPipelineError } from '../../src/errors.js';
import { Store, parseLock, type RunRecord } from '../../src/store/index.js';
import { DirectoryRemote, openRemote, pullRun, pushRun } from '../../src/store/remote/index.js';
import { CacheLayout } from '../../src/store/layout.js';
import { parseS3Location } from '../../src/store/remote/index.js';

const HELLO = '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824'; // sha256('hello')
const KEY = 'a'.repeat(64);

function record(key: string, outputs: RunRecord['outputs'], metrics: RunRecord['metrics'] = {}): RunRecord {
  return { key, stage: 's', id: 's', codeFingerprint: 'c', params: {}, inputs: {}, outputs, metrics, startedAt: '', durationMs: 0, host: 'h', provenance: {} };
}

describe('remote stores: untrusted input', () => {
  const dir = mkdtempSync(join(tmpdir(), 'remote-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  /** A local store holding 'hello', and an empty directory remote that collects its warnings. */
  const setup = async () => {
    const i = ++n;
    const local = new Store(join(dir, `local-${i}`));
    writeFileSync(join(dir, `hello-${i}`), 'hello');
    await local.objects.ingest(join(dir, `hello-${i}`));
    const warnings: string[] = [];
    const root = join(dir, `remote-${i}`);
    mkdirSync(root);
    const remote = new DirectoryRemote(root, { warn: (m) => warnings.push(m) });
    return { local, remote, root, warnings, fresh: () => new Store(join(dir, `local-${i}-${Math.random().toString(36).slice(2)}`)) };
  };

  test('no path is made from a key or digest that is not 64 lowercase hex digits', () => {
    const layout = new CacheLayout('/cache');
    for (const bad of ['../../x', '../' + 'a'.repeat(61), 'A'.repeat(64), 'a'.repeat(63), `${'a'.repeat(63)}/`]) {
      assert.throws(() => layout.objectPath(bad), (e) => isPipelineError(e, 'STORE_CORRUPT'), bad);
      assert.throws(() => layout.runPath(bad), (e) => isPipelineError(e, 'STORE_CORRUPT'), bad);
    }
    assert.equal(layout.objectPath(HELLO), join('/cache', 'objects', '2c', HELLO.slice(2)));
  });

  test('a local run record that is not the record of its key is a miss, not a crash', async () => {
    const { local } = await setup();
    mkdirSync(join(local.root, 'runs', 'aa'), { recursive: true });
    writeFileSync(local.layout.runPath(KEY), JSON.stringify(record('b'.repeat(64), {})));
    assert.equal(await local.runs.get(KEY), undefined);
    writeFileSync(local.layout.runPath(KEY), JSON.stringify(record(KEY, { out: { digest: '../../etc/passwd', size: 1 } })));
    assert.equal(await local.runs.getComplete(KEY), undefined);
  });

  test('a lock file whose key or digest is not hex is malformed (exit 2 before anything runs)', () => {
    const text = `schema: 1\npipelines:\n  p:\n    file: p.ts\n    params: {}\n    stages:\n      s:\n        stage: s\n        key: ${KEY}\n        code: c\n        params: {}\n        inputs: {}\n        outputs:\n          out: { digest: "../../x", size: 1 }\n`;
    assert.throws(() => parseLock(text, 'dvc-like.lock'), (e) => isPipelineError(e, 'LOCK_MALFORMED') && /outputs\.out\.digest/.test(e.message));
  });

  test('push then pull: objects re-hashed, the record stored under the key asked for', async () => {
    const { local, remote, warnings, fresh } = await setup();
    const rec = record(KEY, { out: { digest: HELLO, size: 5 } });
    await local.runs.put(rec);
    assert.deepEqual(await pushRun(remote, rec, local.objects), { record: 'sent', objectsSent: 1, objectsPresent: 0, bytesSent: 5 });
    assert.deepEqual(await pushRun(remote, rec, local.objects), { record: 'present', objectsSent: 0, objectsPresent: 1, bytesSent: 0 });
    const other = fresh();
    assert.deepEqual(await pullRun(remote, KEY, other), rec);
    assert.equal(readFileSync(other.objects.path(HELLO), 'utf8'), 'hello');
    assert.deepEqual(warnings, []);
  });

  test('a record under another key\'s name, or for another stage, is refused with one warning however often it is asked for', async () => {
    const { local, remote, root, warnings } = await setup();
    mkdirSync(join(root, 'runs', 'aa'), { recursive: true });
    writeFileSync(join(root, 'runs', 'aa', `${KEY}.json`), JSON.stringify(record('c'.repeat(64), { out: { digest: HELLO, size: 5 } })));
    assert.equal(await pullRun(remote, KEY, local), undefined);
    assert.equal(await pullRun(remote, KEY, local), undefined);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /not of aaaaaaaaaaaa/);
    writeFileSync(join(root, 'runs', 'aa', `${KEY}.json`), JSON.stringify(record(KEY, { out: { digest: HELLO, size: 5 } })));
    assert.equal(await pullRun(remote, KEY, local, { stage: 'train' }), undefined);
    assert.equal(await local.runs.get(KEY), undefined, 'nothing stored locally');
  });

  test('links are never followed: a linked record folder, a linked object, a FIFO', async () => {
    const { local, remote, root, warnings, fresh } = await setup();
    // runs/aa is a link to a folder outside the remote holding a perfectly good record.
    const outside = join(root, '..', `outside-${n}`);
    mkdirSync(outside);
    writeFileSync(join(outside, `${KEY}.json`), JSON.stringify(record(KEY, { out: { digest: HELLO, size: 5 } })));
    mkdirSync(join(root, 'runs'));
    symlinkSync(outside, join(root, 'runs', 'aa'));
    assert.equal(await remote.getRun(KEY), undefined);
    assert.match(warnings.at(-1)!, /runs\/aa is a symbolic link/);
    // The object is a link to a file with the right bytes.
    writeFileSync(join(outside, 'hello'), 'hello');
    mkdirSync(join(root, 'objects', '2c'), { recursive: true });
    symlinkSync(join(outside, 'hello'), join(root, 'objects', '2c', HELLO.slice(2)));
    const other = fresh();
    assert.equal(await remote.fetchObject(HELLO, other.objects), 'refused');
    assert.match(warnings.at(-1)!, /is a symbolic link/);
    assert.equal(await other.objects.has(HELLO), false);
    // A push replaces the link with the object; the link's target is untouched.
    assert.equal(await remote.push(HELLO, local.objects), 'sent');
    assert.ok(lstatSync(join(root, 'objects', '2c', HELLO.slice(2))).isFile());
    assert.equal(readFileSync(join(outside, 'hello'), 'utf8'), 'hello');
    // A FIFO planted as an object is refused at once (opening it must not block).
    const fifoDigest = 'f'.repeat(64);
    mkdirSync(join(root, 'objects', 'ff'), { recursive: true });
    execFileSync('mkfifo', [join(root, 'objects', 'ff', fifoDigest.slice(2))]);
    assert.equal(await remote.fetchObject(fifoDigest, other.objects), 'refused');
    assert.match(warnings.at(-1)!, /not a regular file/);
  });

  test('a push does not write through a linked folder of the remote', async () => {
    const { local, remote, root } = await setup();
    const outside = join(root, '..', `outside-w-${n}`);
    mkdirSync(outside);
    mkdirSync(join(root, 'objects'));
    symlinkSync(outside, join(root, 'objects', '2c'));
    await assert.rejects(remote.push(HELLO, local.objects), (e) => isPipelineError(e, 'STORE_CORRUPT') && /symbolic link/.test(e.message));
    assert.deepEqual(readdirSync(outside), []);
  });

  test('an object larger than its record says is cut off and refused; the local store keeps what it had', async () => {
    const { local, remote, root, warnings } = await setup();
    mkdirSync(join(root, 'objects', '2c'), { recursive: true });
    writeFileSync(join(root, 'objects', '2c', HELLO.slice(2)), 'hello, and a lot more');
    mkdirSync(join(root, 'runs', 'aa'), { recursive: true });
    writeFileSync(join(root, 'runs', 'aa', `${KEY}.json`), JSON.stringify(record(KEY, { out: { digest: HELLO, size: 5 } })));
    const other = new Store(join(dir, `other-${n}`));
    assert.equal(await pullRun(remote, KEY, other), undefined);
    assert.match(warnings.join('\n'), /more than the 5 bytes/);
    // The same bad copy against a store that has the object: nothing happens to the local one.
    assert.equal(await remote.fetchObject(HELLO, local.objects), 'present');
    assert.ok(existsSync(local.objects.path(HELLO)));
    // A corrupt copy of the right size is hashed before it is taken, and only the temp file goes.
    writeFileSync(join(root, 'objects', '2c', HELLO.slice(2)), 'jello');
    chmodSync(join(root, 'objects', '2c', HELLO.slice(2)), 0o444);
    assert.equal(await remote.fetchObject(HELLO, other.objects, 5), 'refused');
    assert.deepEqual(readdirSync(other.layout.tmpDir), []);
    await assert.rejects(remote.pull(HELLO, other.objects), (e) => isPipelineError(e, 'STORE_CORRUPT'));
    // A push from a store with a good copy replaces the bad one it found.
    assert.equal(await remote.push(HELLO, local.objects), 'sent');
    assert.equal(readFileSync(join(root, 'objects', '2c', HELLO.slice(2)), 'utf8'), 'hello');
  });

  test('remote locations: s3:// parsed, credentials in a location refused and never echoed, other schemes refused', () => {
    assert.deepEqual(parseS3Location('s3://lth-team'), { bucket: 'lth-team', prefix: '' });
    assert.deepEqual(parseS3Location('s3://lth-team/a/b/'), { bucket: 'lth-team', prefix: 'a/b' });
    assert.throws(() => parseS3Location('s3://AKIA:topsecret@lth-team/x'), (e) => isPipelineError(e, 'USAGE') && !/topsecret/.test(e.message));
    assert.throws(() => parseS3Location('s3://lth-team/../x'), (e) => isPipelineError(e, 'USAGE'));
    assert.throws(() => openRemote('gs://bucket/x'), (e) => isPipelineError(e, 'USAGE'));
    assert.equal(openRemote('s3://lth-team/p').url, 's3://lth-team/p');
    assert.ok(openRemote(join(dir, 'x')) instanceof DirectoryRemote);
  });
});
