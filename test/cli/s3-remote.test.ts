// The S3 remote end to end (issue #11) against a real S3-compatible server on 127.0.0.1 (s3rver,
// test/helpers/s3-server.ts), through the AWS SDK: a run (a toy pipeline with tables, and the
// LeNet smoke where the MNIST files are) writes through to the bucket; a teammate with an empty
// cache pulls and gets every table, status and run without computing anything;
// push sends only what the bucket lacks; a large checkpoint goes up as a multipart upload; a
// corrupt object in the bucket is recomputed; and the credentials are nowhere on disk.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { isPipelineError } from '../../src/errors.js';
import { Store, parseLock } from '../../src/store/index.js';
import { S3Remote } from '../../src/store/remote/index.js';
import { CLI, REPO, TestProject, type CliResult } from '../helpers/project.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { fixturePipeline } from '../report/fixture.js';

const MNIST = join(REPO, '..', 'shared', 'data');
const BUCKET = 'lth-team';
const REMOTE = `s3://${BUCKET}/lenet-sweeps`;
// Fake credentials that s3rver is told to accept; they must never reach a file of the project.
const ACCESS_KEY_ID = `AKIALTH${randomBytes(6).toString('hex').toUpperCase()}`;
const SECRET_ACCESS_KEY = `lthSecret${randomBytes(16).toString('hex')}`;

describe('S3 remote (s3rver on 127.0.0.1)', () => {
  const serverDir = mkdtempSync(join(tmpdir(), 's3rver-'));
  const alice = new TestProject({ 'pipeline.ts': fixturePipeline() });
  const bob = new TestProject({ 'pipeline.ts': fixturePipeline() });
  const outputs: CliResult[] = [];
  let server: S3TestServer;
  let env: Record<string, string> = {};
  let s3: S3Client;

  before(async () => {
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'; // this test's own S3Client on Node 20
    server = await startS3Server(serverDir, BUCKET, { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY });
    env = {
      AWS_ACCESS_KEY_ID: ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY,
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_S3: server.endpoint,
      PIPELINE_S3_FORCE_PATH_STYLE: '1',
      // Nothing of this machine's own AWS setup takes part.
      AWS_CONFIG_FILE: join(serverDir, 'no-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(serverDir, 'no-credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    };
    s3 = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY } });
  });
  after(() => {
    s3?.destroy();
    server?.stop();
    alice.remove();
    bob.remove();
    rmSync(serverDir, { recursive: true, force: true });
  });

  const cli = (p: TestProject, args: string[], extra: Record<string, string> = {}): CliResult => {
    const r = p.cli(args, { ...env, ...extra });
    outputs.push(r);
    return r;
  };
  const keysIn = async (prefix: string): Promise<string[]> => {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
      for (const o of page.Contents ?? []) out.push(o.Key!);
      token = page.NextContinuationToken;
    } while (token);
    return out.sort();
  };

  test('a run with --remote s3://bucket/prefix writes its results through to the bucket, in the cache layout', async () => {
    const r = cli(alice, ['run', 'pipeline.ts', '--no-typecheck', '--remote', REMOTE]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /9 ran, 0 from cache/);
    const runs = await keysIn('lenet-sweeps/runs/');
    assert.equal(runs.length, 9);
    for (const k of runs) assert.match(k, /^lenet-sweeps\/runs\/([0-9a-f]{2})\/\1[0-9a-f]{62}\.json$/);
    const objects = await keysIn('lenet-sweeps/objects/');
    assert.ok(objects.length >= 10, objects.join('\n'));
    for (const k of objects) assert.match(k, /^lenet-sweeps\/objects\/[0-9a-f]{2}\/[0-9a-f]{62}$/);
  });

  test('a teammate with an empty cache pulls; then table, status and run compute nothing (PIPELINE_REMOTE)', () => {
    bob.write('dvc-like.lock', alice.read('dvc-like.lock'));
    const pull = cli(bob, ['pull'], { PIPELINE_REMOTE: REMOTE });
    assert.equal(pull.code, 0, pull.stderr);
    assert.match(pull.stdout, /pulled 9 stage result\(s\) from s3:\/\/lth-team\/lenet-sweeps/);
    const table = cli(bob, ['table', 'pipeline.ts', '--format', 'csv', '-o', 'accuracy.csv']);
    assert.equal(table.code, 0, table.stderr);
    const aliceTable = cli(alice, ['table', 'pipeline.ts', '--format', 'csv']);
    assert.equal(bob.read('accuracy.csv'), aliceTable.stdout);
    const status = cli(bob, ['status', 'pipeline.ts']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /all 9 stages up to date/);
    const run = cli(bob, ['run', 'pipeline.ts', '--no-typecheck'], { PIPELINE_REMOTE: REMOTE });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /0 ran, 9 from cache/);
    assert.equal(bob.read('dvc-like.lock'), alice.read('dvc-like.lock'));
  });

  test('push sends only what the bucket lacks', async () => {
    const again = cli(alice, ['push', '--remote', REMOTE, '--json']);
    assert.equal(again.code, 0, again.stderr);
    const nothing = JSON.parse(again.stdout) as { sent: string[]; present: string[]; objectsSent: number };
    assert.deepEqual([nothing.sent.length, nothing.present.length, nothing.objectsSent], [0, 9, 0]);
    // Three new results (one more density, three seeds), computed without the remote.
    const set = ['--set', 'densities=[1, 0.5, 0.25, 0.125]'];
    const run = cli(alice, ['run', 'pipeline.ts', '--no-typecheck', ...set]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /3 ran, 9 from cache/);
    const before = (await keysIn('lenet-sweeps/')).length;
    const push = cli(alice, ['push', 'pipeline.ts', ...set, '--remote', REMOTE, '--json']);
    assert.equal(push.code, 0, push.stderr);
    const report = JSON.parse(push.stdout) as { sent: string[]; present: string[]; objectsSent: number; objectsPresent: number };
    assert.equal(report.sent.length, 3);
    assert.equal(report.present.length, 9);
    // The new stages' objects that no earlier stage made (a curve depends on the seed only, so
    // the new stages' curves are in the bucket already): exactly those went up.
    const stages = Object.values(parseLock(alice.read('dvc-like.lock'), 'dvc-like.lock').pipelines.fixture!.stages);
    const digestsOf = (list: typeof stages) => new Set(list.flatMap((s) => Object.values(s.outputs).map((o) => o.digest)));
    const old = digestsOf(stages.filter((s) => report.present.includes(s.key)));
    const fresh = [...digestsOf(stages.filter((s) => report.sent.includes(s.key)))].filter((d) => !old.has(d));
    assert.equal(report.objectsSent, fresh.length);
    assert.equal(report.objectsSent + report.objectsPresent, 12 * 2, 'every output of the 12 stages was looked at');
    assert.equal((await keysIn('lenet-sweeps/')).length, before + 3 + fresh.length, 'exactly the new records and objects were uploaded');
  });

  test('a large checkpoint goes up as a multipart upload and comes back re-hashed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 's3-large-'));
    try {
      Object.assign(process.env, env);
      const local = new Store(join(dir, 'a'));
      const file = join(dir, 'checkpoint.safetensors');
      writeFileSync(file, randomBytes(11 * 1024 * 1024 + 17));
      const { digest, size } = await local.objects.ingest(file);
      const remote = new S3Remote(`s3://${BUCKET}/large`, { partSize: 5 * 1024 * 1024, forcePathStyle: true });
      assert.equal(await remote.push(digest, local.objects), 'sent');
      const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `large/objects/${digest.slice(0, 2)}/${digest.slice(2)}` }));
      assert.equal(head.ContentLength, size);
      const parts = server.requests().filter((r) => r.startsWith(`PUT /${BUCKET}/large/objects/`) && /[?&]partNumber=/.test(r));
      assert.equal(parts.length, 3, `three parts of 5 MiB at most: ${server.requests().join('\n')}`);
      assert.equal(await remote.push(digest, local.objects), 'present');
      const other = new Store(join(dir, 'b'));
      assert.equal(await remote.fetchObject(digest, other.objects, size), 'pulled');
      assert.ok(readFileSync(other.objects.path(digest)).equals(readFileSync(local.objects.path(digest))));
      await remote.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a corrupt object in the bucket: one warning, the stage computed here, the bucket copy replaced', async () => {
    const stages = parseLock(alice.read('dvc-like.lock'), 'dvc-like.lock').pipelines.fixture!.stages;
    const victim = stages['seed:0/d100']!.outputs.metrics!; // its own (a curve is shared by a seed's stages)
    const key = `lenet-sweeps/objects/${victim.digest.slice(0, 2)}/${victim.digest.slice(2)}`;
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'x'.repeat(victim.size) }));
    const carol = new TestProject({ 'pipeline.ts': fixturePipeline() });
    try {
      const r = cli(carol, ['run', 'pipeline.ts', '--no-typecheck', '--remote', REMOTE]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /1 ran, 8 from cache/);
      const warnings = r.stderr.split('\n').filter((l) => l.includes('[warn]'));
      assert.equal(warnings.length, 1, r.stderr);
      assert.match(warnings[0]!, new RegExp(`s3://lth-team/lenet-sweeps: object ${victim.digest.slice(0, 12)} ignored`));
      const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
      assert.equal(head.ContentLength, victim.size);
      const pulled = cli(bob, ['pull', 'pipeline.ts', '--remote', REMOTE, '--cache', 'fresh-cache', '--json']);
      assert.equal(pulled.code, 0, pulled.stderr);
      assert.equal((JSON.parse(pulled.stdout) as { pulled: string[] }).pulled.length, 9, 'the replaced object is good again');
    } finally {
      carol.remove();
    }
  });

  test('a missing bucket, an unknown access key, no remote: exit 2 with a clear message and no credential in it', () => {
    const noBucket = cli(bob, ['pull', '--remote', 's3://no-such-bucket/x']);
    assert.equal(noBucket.code, 2, noBucket.stderr);
    assert.match(noBucket.stderr, /the bucket no-such-bucket does not exist/);
    const badKey = cli(bob, ['push', '--remote', REMOTE], { AWS_ACCESS_KEY_ID: 'AKIAUNKNOWNLTH0000000' });
    assert.equal(badKey.code, 2, badKey.stderr);
    assert.match(badKey.stderr, /access denied/);
    assert.doesNotMatch(badKey.stderr + badKey.stdout, /AKIAUNKNOWNLTH0000000/);
    const none = cli(bob, ['push']);
    assert.equal(none.code, 2, none.stderr);
    assert.match(none.stderr, /pipeline push needs a remote store/);
  });

  /** Every file under the folders (caches, lock files, tables) is free of the credentials. */
  const assertNoCredentialsIn = (...dirs: string[]): void => {
    const files: string[] = [];
    const walk = (d: string): void => {
      for (const name of readdirSync(d)) {
        const p = join(d, name);
        if (statSync(p).isDirectory()) walk(p);
        else files.push(p);
      }
    };
    for (const d of dirs) walk(d);
    assert.ok(files.some((f) => f.includes(`${join('cache', 'runs')}`)), 'run records were written');
    for (const f of files) {
      const text = readFileSync(f).toString('latin1');
      assert.ok(!text.includes(ACCESS_KEY_ID) && !text.includes(SECRET_ACCESS_KEY), `a credential in ${f}`);
    }
    for (const r of outputs) assert.ok(!`${r.stdout}${r.stderr}`.includes(SECRET_ACCESS_KEY) && !`${r.stdout}${r.stderr}`.includes(ACCESS_KEY_ID));
  };

  test('the credentials appear nowhere on disk (caches, lock files, tables) nor in any output', () => {
    assertNoCredentialsIn(alice.dir, bob.dir);
  });

  // The LeNet smoke (~1.5 min of training) with the bucket as its remote, where the MNIST files are.
  test('the LeNet smoke with --remote s3://...: a teammate pulls all 18 results and computes nothing', { skip: !existsSync(join(MNIST, 'mnist')) && 'no ../shared/data/mnist' }, () => {
    const dir = mkdtempSync(join(tmpdir(), 's3-lenet-'));
    const remote = `s3://${BUCKET}/lenet-smoke`;
    const pipeline = (cmd: string, who: string, args: string[] = []): CliResult => {
      const r = spawnSync(process.execPath, [CLI, cmd, join(REPO, 'pipelines', 'lenet-mnist-imp.ts'), '--cache', join(dir, who, 'cache'), '--lock', join(dir, who, 'dvc-like.lock'), ...args], {
        cwd: REPO,
        encoding: 'utf8',
        env: { ...process.env, ...env, LTH_QUIET_BACKEND: '1', PIPELINE_DATA_DIR: MNIST },
        timeout: 600_000,
      });
      const out = { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
      outputs.push(out);
      return out;
    };
    try {
      const run = pipeline('run', 'alice', ['--jobs', '2', '--remote', remote]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stderr, /18 ran, 0 from cache/);
      mkdirSync(join(dir, 'bob'));
      writeFileSync(join(dir, 'bob', 'dvc-like.lock'), readFileSync(join(dir, 'alice', 'dvc-like.lock')));
      const pull = pipeline('pull', 'bob', ['--remote', remote]);
      assert.equal(pull.code, 0, pull.stderr);
      assert.match(pull.stdout, /pulled 18 stage result\(s\)/);
      const status = pipeline('status', 'bob');
      assert.match(status.stdout, /all 18 stages up to date/);
      const again = pipeline('run', 'bob', ['--remote', remote]);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stderr, /0 ran, 18 from cache/);
      const show = (who: string) => (JSON.parse(pipeline('show', who, ['--json']).stdout) as Array<{ id: string; metrics?: unknown }>).map((r) => [r.id, r.metrics]);
      assert.deepEqual(show('bob'), show('alice'));
      assertNoCredentialsIn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('S3 errors become PipelineErrors: an unreachable endpoint is REMOTE_UNAVAILABLE after retries', async () => {
    const remote = new S3Remote('s3://lth-team/x', { endpoint: 'http://127.0.0.1:9', region: 'us-east-1', forcePathStyle: true, maxAttempts: 2 });
    await assert.rejects(remote.getRun('a'.repeat(64)), (e) => isPipelineError(e, 'REMOTE_UNAVAILABLE') && !e.message.includes(SECRET_ACCESS_KEY));
    await remote.close();
  });
});
