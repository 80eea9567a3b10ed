// A sweep spread over machines: a coordinator queues stages on a real Redis (BullMQ), two workers
// with caches of their own compute them and exchange artifacts through a shared remote store.
// Skipped only where no redis-server is installed (.ci/run installs Debian's).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { TestProject, waitFor } from '../helpers/project.js';
import { TOY_HELPERS, toyPipeline } from '../helpers/toy-pipeline.js';
import { freePort, REDIS, startRedis } from '../helpers/redis.js';

describe('distributed runs: BullMQ queue + remote store', { skip: !REDIS && 'redis-server is not installed' }, () => {
  const project = new TestProject({ 'pipeline.ts': toyPipeline({ isolation: 'process', sleepMs: 200 }), 'helpers.ts': TOY_HELPERS });
  const children: ChildProcess[] = [];
  let queue = '';
  const workerLogs: string[] = ['', ''];

  before(async () => {
    const port = await freePort();
    queue = `redis://127.0.0.1:${port}`;
    children.push(await startRedis(port));
    for (const i of [0, 1]) {
      const w = project.spawn(['worker', '--queue', queue, '--remote', 'remote', '--cache', `worker${i}-cache`]);
      w.stderr?.on('data', (d: Buffer) => (workerLogs[i] += d.toString()));
      children.push(w);
    }
    await waitFor(() => workerLogs.every((l) => l.includes('worker: redis://')), 30_000);
  });

  after(async () => {
    for (const c of children.reverse()) {
      c.kill('SIGKILL');
    }
    project.remove();
  });

  test('each stage is computed once, on a worker; the coordinator gets the results', async () => {
    const r = project.cli(['run', 'pipeline.ts', '--jobs', '4', '--queue', queue, '--remote', 'remote', '--cache', 'coordinator-cache']);
    assert.equal(r.code, 0, r.stderr + workerLogs.join('\n'));
    assert.deepEqual(project.executions().sort(), ['a', 'b', 'c', 'd', 'e']);
    assert.match(r.stderr, /5 ran, 0 from cache/);
    await waitFor(() => (workerLogs.join('\n').match(/\[done\]/g) ?? []).length >= 5, 10_000).catch(() => undefined);
    const workerDone = workerLogs.join('\n').match(/\[done\]\s+\w+/g) ?? [];
    assert.equal(workerDone.length, 5, workerLogs.join('\n'));
    const rows = JSON.parse(project.cli(['show', 'pipeline.ts', '--json', '--cache', 'coordinator-cache']).stdout) as Array<{ id: string; metrics: { total?: number } }>;
    assert.equal(rows.find((x) => x.id === 'e')?.metrics.total, 58);
  });

  test('a teammate with an empty cache restores everything from the remote store, computing nothing', () => {
    project.clearExecutions();
    const r = project.cli(['run', 'pipeline.ts', '--remote', 'remote', '--cache', 'teammate-cache', '--lock', 'teammate.lock']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(project.executions(), []);
    assert.equal((r.stderr.match(/\[pulled\]/g) ?? []).length, 5, r.stderr);
    assert.equal(project.read('teammate.lock'), project.read('dvc-like.lock'));
  });

  test('a changed param sends only the stages it affects to the workers', () => {
    project.clearExecutions();
    const r = project.cli(['run', 'pipeline.ts', '--set', 'scale=4', '--queue', queue, '--remote', 'remote', '--cache', 'coordinator-cache']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(project.executions().sort(), ['c', 'e']);
  });

  test('--queue without --remote is a usage error (exit 2) that changes nothing', () => {
    const r = project.cli(['run', 'pipeline.ts', '--queue', queue, '--cache', 'other-cache']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--queue needs --remote/);
    assert.equal(project.exists('other-cache/runs'), false);
  });

  test('a stage failing on a worker fails the run with its message (exit 1)', () => {
    project.write('pipeline.ts', project.read('pipeline.ts').replace("const total = (await readNum(ctx.input('z')))", "if (ctx.params !== undefined) throw new Error('disk full on the worker');\n    const total = (await readNum(ctx.input('z')))"));
    const r = project.cli(['run', 'pipeline.ts', '--queue', queue, '--remote', 'remote', '--cache', 'coordinator-cache']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /stage 'e' failed: .*disk full on the worker \(on a worker\)/);
  });
});
