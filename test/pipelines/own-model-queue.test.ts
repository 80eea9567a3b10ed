// Issue #12: a network defined with defineModel in a module of its own is known on a queue worker
// too: the job carries that module (relative to the project), the worker checks it and imports it
// before the stage's module, which does not import it. Skipped where no redis-server is installed.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { API, REPO, TestProject, waitFor } from '../helpers/project.js';
import { freePort, REDIS, startRedis } from '../helpers/redis.js';

const LTH = JSON.stringify(join(REPO, 'src', 'lth', 'index.ts'));
const NN = JSON.stringify(join(REPO, 'src', 'nn', 'index.ts'));

const FILES = {
  'models.ts': `import { defineModel } from ${LTH};
defineModel({ name: 'queued-mlp', inputShape: [6], numClasses: 3, build: (l) => [l.dense(5), l.relu(), l.dense(3)] });
`,
  // The stage knows model names only through its param: it does not import models.ts.
  'stages.ts': `import { defineStage, z } from ${JSON.stringify(API)};
import { modelNameSchema } from ${LTH};
import { countParams, createModel } from ${NN};
export const size = defineStage({
  name: 'model-size',
  params: z.object({ model: modelNameSchema }),
  isolation: 'process',
  run(ctx) {
    const m = createModel(ctx.params.model);
    return { params: countParams(m, m.trainable), prunable: m.prunable.join(' ') };
  },
});
`,
  'pipeline.ts': `import { definePipeline } from ${JSON.stringify(API)};
import './models.ts';
import { size } from './stages.ts';
export default definePipeline({ name: 'queued-model', params: {} }, (p) => {
  p.stage(size, { model: 'queued-mlp' }, { id: 'own' });
  p.stage(size, { model: 'mnist_lenet_20' }, { id: 'builtin' });
});
`,
};

describe('a model of the project on a queue worker', { skip: !REDIS && 'redis-server is not installed' }, () => {
  const project = new TestProject(FILES);
  const children: ChildProcess[] = [];
  let queue = '';
  let workerLog = '';

  before(async () => {
    const port = await freePort();
    queue = `redis://127.0.0.1:${port}`;
    children.push(await startRedis(port));
    const w = project.spawn(['worker', '--queue', queue, '--remote', 'remote', '--cache', 'worker-cache']);
    w.stderr?.on('data', (d: Buffer) => (workerLog += d.toString()));
    children.push(w);
    await waitFor(() => workerLog.includes('worker: redis://'), 30_000);
  });

  after(() => {
    for (const c of children.reverse()) c.kill('SIGKILL');
    project.remove();
  });

  test('the worker imports the module that defines the model, then computes the stage', async () => {
    const r = project.cli(['run', 'pipeline.ts', '--queue', queue, '--remote', 'remote', '--cache', 'coordinator-cache']);
    assert.equal(r.code, 0, `${r.stderr}\n${workerLog}`);
    assert.match(r.stderr, /2 ran, 0 from cache/);
    await waitFor(() => (workerLog.match(/\[done\]/g) ?? []).length >= 2, 10_000).catch(() => undefined);
    assert.match(workerLog, /\[done\]\s+own\b/);
    const rows = JSON.parse(project.cli(['show', 'pipeline.ts', '--json', '--cache', 'coordinator-cache']).stdout) as Array<{ id: string; metrics: { params?: number; prunable?: string } }>;
    assert.deepEqual(rows.find((x) => x.id === 'own')?.metrics, { params: 6 * 5 + 5 + 5 * 3 + 3, prunable: 'fc1.kernel fc2.kernel' });
    assert.equal(rows.find((x) => x.id === 'builtin')?.metrics.params, 784 * 20 + 20 + 20 * 10 + 10);
  });
});
