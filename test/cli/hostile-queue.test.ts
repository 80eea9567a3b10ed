// A queue that cannot be turned against its users (issue #11): jobs planted by hand on a real Redis
// (BullMQ, as anyone who can reach the Redis could) are refused by the worker, logged, failed in
// BullMQ with the reason, and never imported; the worker keeps serving. With PIPELINE_QUEUE_SECRET,
// only signed jobs run. Redis stopped mid-run: the coordinator counts down, exits 1 after
// --queue-timeout, and a rerun after Redis is back completes.
// Skipped only where no redis-server is installed (.ci/run installs Debian's).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Queue } from 'bullmq';
import { connectionOf, QUEUE_NAME } from '../../src/engine/host/queue.js';
import { signJob, type QueueJob } from '../../src/engine/protocol.js';
import { TestProject, waitFor } from '../helpers/project.js';
import { TOY_HELPERS, toyPipeline } from '../helpers/toy-pipeline.js';
import { freePort, REDIS, startRedis } from '../helpers/redis.js';

const SECRET = 'test-secret-0123456789abcdef';

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGKILL');
  await once(child, 'exit');
}

/** A well-formed job for the toy pipeline's stage `a`, under a key of its own (which does not follow from it). */
function job(name: string, over: Partial<QueueJob> = {}): QueueJob {
  const key = createHash('sha256').update(name).digest('hex');
  return { id: 'a', key, stage: 'a', module: 'pipeline.ts', params: { seed: 1 }, bindings: {}, outputs: ['x'], codeFingerprint: '0'.repeat(64), ...over };
}
const isKey = (k: unknown): k is string => typeof k === 'string' && /^[0-9a-f]{64}$/.test(k);

describe('a hostile queue', { skip: !REDIS && 'redis-server is not installed' }, () => {
  const project = new TestProject({ 'pipeline.ts': toyPipeline({ isolation: 'process' }), 'helpers.ts': TOY_HELPERS });
  // Outside the project: a module that leaves a marker if it is ever imported (and mentions
  // defineStage, so that only where it is keeps it out).
  const outside = mkdtempSync(join(tmpdir(), 'lth-outside-'));
  const marker = join(outside, 'IMPORTED');
  const leavesMarker = (note: string) => `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(marker)}, ${JSON.stringify(note)});\n`;
  writeFileSync(join(outside, 'evil.ts'), `${leavesMarker('evil.ts')}// looks like a stage module: defineStage\n`);
  // Inside the project: a script that acts when imported, and a link to the module outside.
  project.write('script.ts', leavesMarker('script.ts'));
  symlinkSync(join(outside, 'evil.ts'), project.path('linked.ts'));

  const children: ChildProcess[] = [];
  let port = 0;
  let redis: ChildProcess;
  let open: Queue;
  let signed: Queue;
  const logs = { open: '', signed: '' };
  const url = (db: number) => `redis://127.0.0.1:${port}/${db}`;

  before(async () => {
    port = await freePort();
    redis = await startRedis(port);
    // Two workers on two Redis databases: one without a secret, one that runs signed jobs only.
    for (const [name, db, env] of [['open', 0, {}], ['signed', 1, { PIPELINE_QUEUE_SECRET: SECRET }]] as const) {
      const w = project.spawn(['worker', '--queue', url(db), '--remote', 'remote', '--cache', `${name}-cache`, '--queue-timeout', '60s'], env);
      w.stderr?.on('data', (d: Buffer) => (logs[name] += d.toString()));
      children.push(w);
    }
    await waitFor(() => logs.open.includes('worker: redis://') && logs.signed.includes('worker: redis://'), 30_000);
    assert.match(logs.signed, /runs only jobs signed with PIPELINE_QUEUE_SECRET/);
    open = new Queue(QUEUE_NAME, { connection: connectionOf(url(0)) });
    signed = new Queue(QUEUE_NAME, { connection: connectionOf(url(1)) });
  });

  after(async () => {
    await open?.close();
    await signed?.close();
    for (const c of children.reverse()) await stop(c);
    if (redis) await stop(redis);
    project.remove();
    rmSync(outside, { recursive: true, force: true });
  });

  /** Plants a job as an attacker would, and waits for the worker's verdict. */
  async function plant(queue: Queue, data: unknown, jobId: string): Promise<string> {
    await queue.add('stage', data, { jobId });
    let reason: string | undefined;
    const deadline = Date.now() + 30_000;
    while (reason === undefined && Date.now() < deadline) {
      const j = await queue.getJob(jobId);
      if (j && (await j.getState()) === 'failed') reason = j.failedReason;
      else await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(reason !== undefined, `job ${jobId} was not failed by the worker`);
    return reason;
  }

  const cases: Array<{ name: string; data: (name: string) => unknown; reason: RegExp }> = [
    { name: 'a module outside the project', data: (n) => job(n, { module: relative(project.dir, join(outside, 'evil.ts')) }), reason: /module ".*evil\.ts" is outside this worker's project/ },
    { name: 'a symlink out of the project', data: (n) => job(n, { module: 'linked.ts' }), reason: /module "linked\.ts" is outside this worker's project \(it is .*evil\.ts/ },
    { name: 'an absolute module path', data: (n) => job(n, { module: join(outside, 'evil.ts') }), reason: /malformed job: module: is not a path relative to the project root/ },
    { name: 'a project script that defines no stage', data: (n) => job(n, { module: 'script.ts', stage: 'script' }), reason: /module "script\.ts" defines no stage \(it never calls defineStage\)/ },
    { name: 'a key that is not a sha256', data: (n) => job(n, { key: '../../etc/passwd' }), reason: /malformed job: key: not a sha256/ },
    { name: 'a params field of the wrong type', data: (n) => ({ ...job(n), params: 'rm -rf /' }), reason: /malformed job: params:/ },
    { name: 'a field it does not know', data: (n) => ({ ...job(n), exec: 'node evil.js' }), reason: /malformed job: .*exec/ },
    { name: 'an output name that is a path', data: (n) => job(n, { outputs: ['../../x'] }), reason: /malformed job: outputs: output name "\.\.\/\.\.\/x" contains a path separator/ },
    { name: 'a job id that is not its key', data: (n) => job(n), reason: /its job id "planted" is not its key/ },
    { name: 'a key that does not follow from the job', data: (n) => job(n), reason: /its key is not the key of its stage, code, params and inputs/ },
  ];
  for (const c of cases) {
    test(`refused, never imported, worker keeps serving: ${c.name}`, async () => {
      const data = c.data(c.name) as { key?: unknown };
      const jobId = isKey(data.key) && !c.name.startsWith('a job id') ? data.key : 'planted';
      const reason = await plant(open, data, jobId);
      assert.match(reason, /^refused by the worker: /);
      assert.match(reason, c.reason);
      await waitFor(() => logs.open.includes(reason), 10_000);
      assert.match(logs.open, /\[refused\] job /);
      assert.equal(existsSync(marker), false, 'no module was imported');
      assert.deepEqual(project.executions(), [], 'nothing was computed');
      await open.remove(jobId);
    });
  }

  test('with a secret: an unsigned job and a job signed with another secret are refused before anything else', async () => {
    const unsigned = job('unsigned', { module: 'script.ts' });
    assert.match(await plant(signed, unsigned, unsigned.key), /refused by the worker: the job is not signed/);
    const forged = job('forged', { module: 'script.ts' });
    assert.match(await plant(signed, { ...forged, signature: signJob(forged, 'another secret') }, forged.key), /refused by the worker: the job's signature does not match/);
    assert.equal(existsSync(marker), false);
    assert.doesNotMatch(logs.signed, /\[start\]/);
  });

  test('a coordinator without the secret: its stages fail with the refusal (exit 1)', () => {
    const r = project.cli(['run', 'pipeline.ts', '--queue', url(1), '--remote', 'remote', '--cache', 'coordinator-unsigned']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /stage 'a' failed: .*refused by the worker: the job is not signed/);
    assert.deepEqual(project.executions(), []);
  });

  test('a coordinator with the secret: signed jobs run', async () => {
    const r = project.cli(['run', 'pipeline.ts', '--queue', url(1), '--remote', 'remote', '--cache', 'coordinator-signed'], { PIPELINE_QUEUE_SECRET: SECRET });
    assert.equal(r.code, 0, r.stderr + logs.signed);
    assert.deepEqual(project.executions().sort(), ['a', 'b', 'c', 'd', 'e']);
    // (The worker's log is read while the test waits, not while the coordinator ran.)
    await waitFor(() => (logs.signed.match(/\[done\]/g) ?? []).length === 5, 10_000);
  });

  test('Redis stopped mid-run: a countdown, exit 1 after --queue-timeout, and a rerun completes', async () => {
    project.clearExecutions();
    project.write('pipeline.ts', toyPipeline({ isolation: 'process', sleepMs: 1_500 }).replace("name: 'toy'", "name: 'toy2'"));
    const coordinator = project.spawn(['run', 'pipeline.ts', '--queue', url(0), '--remote', 'remote', '--cache', 'coordinator-lost', '--queue-timeout', '5s']);
    let err = '';
    coordinator.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    const exited = once(coordinator, 'exit');
    await waitFor(() => /\[start\]\s+a /.test(logs.open), 60_000);
    await stop(redis);
    const [code] = (await Promise.race([exited, new Promise((r) => setTimeout(() => r([null]), 90_000))])) as [number | null];
    if (code === null) coordinator.kill('SIGKILL');
    assert.equal(code, 1, err);
    assert.match(err, /queue: lost Redis at redis:\/\/127\.0\.0\.1:\d+\/0\b.*; retrying, giving up in \d s/);
    assert.match(err, /error: lost the queue's Redis at redis:\/\/127\.0\.0\.1:\d+\/0 for \d+ s.*: giving up/);
    assert.match(err, /start Redis again/);

    redis = await startRedis(port); // empty: the jobs it held are gone
    // The worker waited (its own timeout is 60 s) and reconnects; a rerun queues what is missing.
    const rerun = project.cli(['run', 'pipeline.ts', '--queue', url(0), '--remote', 'remote', '--cache', 'coordinator-lost', '--queue-timeout', '30s']);
    assert.equal(rerun.code, 0, rerun.stderr + logs.open);
    const status = project.cli(['status', 'pipeline.ts', '--cache', 'coordinator-lost']);
    assert.match(status.stdout, /all 5 stages up to date/, status.stdout);
  });

  test('a worker that cannot reach Redis says so and exits 1 after its --queue-timeout', async () => {
    const nobody = await freePort();
    const r = project.cli(['worker', '--queue', `redis://127.0.0.1:${nobody}`, '--remote', 'remote', '--cache', 'w-cache', '--queue-timeout', '3s']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /worker: cannot reach Redis at .*giving up in \d s/);
    assert.match(r.stderr, /error: could not reach the queue's Redis at .* for \d+ s/);
  });
});
