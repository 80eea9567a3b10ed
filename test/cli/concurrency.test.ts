// Issue #2, "what it must show" 4 and 5: two runs on one cache compute each stage once; a run
// killed with SIGKILL mid-stage leaves nothing broken behind.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { once } from 'node:events';
import { after, describe, test } from 'node:test';
import { parse } from 'yaml';
import { TestProject, waitFor } from '../helpers/project.js';
import { TOY_HELPERS, toyPipeline } from '../helpers/toy-pipeline.js';

function collect(child: ReturnType<TestProject['spawn']>): { done: Promise<{ code: number | null; stderr: string }> } {
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout?.on('data', () => undefined);
  return { done: once(child, 'exit').then(([code]) => ({ code: code as number | null, stderr })) };
}

describe('two pipeline runs started together on one cache', () => {
  const project = new TestProject({ 'pipeline.ts': toyPipeline({ isolation: 'process', sleepMs: 400 }), 'helpers.ts': TOY_HELPERS });
  after(() => project.remove());

  test('each stage executes once, both succeed, both write the same lock file', async () => {
    // Each process writes its own lock file, so that the two can be compared byte for byte.
    const first = collect(project.spawn(['run', 'pipeline.ts', '--jobs', '2', '--lock', 'one.lock']));
    const second = collect(project.spawn(['run', 'pipeline.ts', '--jobs', '2', '--lock', 'two.lock']));
    const [r1, r2] = await Promise.all([first.done, second.done]);
    assert.equal(r1.code, 0, r1.stderr);
    assert.equal(r2.code, 0, r2.stderr);
    assert.deepEqual([...project.executions()].sort(), ['a', 'b', 'c', 'd', 'e']);
    assert.match(r1.stderr + r2.stderr, /\[(reused|cached)\]/, 'one process took results from the other');
    assert.equal(project.read('one.lock'), project.read('two.lock'));
    assert.deepEqual(readdirSync(project.path('cache/leases')), [], 'no lease is left behind');
  });

  test('two runs sharing one lock file both succeed and leave it complete', async () => {
    const first = collect(project.spawn(['run', 'pipeline.ts', '--set', 'seed=3']));
    const second = collect(project.spawn(['run', 'pipeline.ts', '--set', 'seed=3']));
    const [r1, r2] = await Promise.all([first.done, second.done]);
    assert.equal(r1.code, 0, r1.stderr);
    assert.equal(r2.code, 0, r2.stderr);
    const lock = parse(project.read('dvc-like.lock')) as { pipelines: Record<string, { stages: Record<string, unknown> }> };
    assert.deepEqual(Object.keys(lock.pipelines.toy!.stages).sort(), ['a', 'b', 'c', 'd', 'e']);
  });
});

describe('a run killed with SIGKILL in the middle of a stage', () => {
  const project = new TestProject({ 'pipeline.ts': toyPipeline({ isolation: 'process', sleepMs: 0 }), 'helpers.ts': TOY_HELPERS });
  after(() => project.remove());

  test('runs again to completion; verify finds nothing corrupt; the lock file parses', async () => {
    // Fill part of the cache first so that the lock file exists when the kill lands.
    assert.equal(project.cli(['run', 'pipeline.ts']).code, 0);
    project.clearExecutions();
    const child = project.spawn(['run', 'pipeline.ts', '--set', 'seed=2'], { TOY_SLEEP_MS: '30000' });
    const exited = once(child, 'exit');
    await waitFor(() => project.executions().length > 0, 60_000);
    child.kill('SIGKILL');
    await exited;
    // The stage's own process notices that its parent is gone and exits.
    const rerun = project.cli(['run', 'pipeline.ts', '--set', 'seed=2'], { TOY_SLEEP_MS: '0' });
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.match(rerun.stderr, /5 ran/);
    const verify = project.cli(['verify']);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    assert.match(verify.stdout, /all intact/);
    const lock = parse(project.read('dvc-like.lock')) as { schema: number; pipelines: Record<string, { stages: Record<string, unknown> }> };
    assert.equal(lock.schema, 1);
    assert.deepEqual(Object.keys(lock.pipelines.toy!.stages).sort(), ['a', 'b', 'c', 'd', 'e']);
    assert.deepEqual(readdirSync(project.path('cache/tmp')), [], 'the killed run\'s working directory was swept');
  });
});

describe('Ctrl-C during a run', () => {
  const project = new TestProject({ 'pipeline.ts': toyPipeline({ isolation: 'process', sleepMs: 0 }), 'helpers.ts': TOY_HELPERS });
  after(() => project.remove());

  test('stops the running stage and names it, exits 130, keeps what finished, leaves nothing half-written', async () => {
    // a, b and d are quick; c sleeps until it is interrupted.
    project.write('pipeline.ts', project.read('pipeline.ts').replace("appendFileSync(LOG, ctx.id + '\\n');\n    await sleep(SLEEP_MS);\n    const v = shape", "appendFileSync(LOG, ctx.id + '\\n');\n    await sleep(60_000);\n    const v = shape"));
    const child = project.spawn(['run', 'pipeline.ts']);
    let stderr = '';
    let stdout = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = once(child, 'exit');
    // d runs beside b and c (--jobs follows the cores): interrupted only once it is done, so that
    // c is the one stage running.
    await waitFor(() => project.executions().includes('c') && /\[done\]\s+d\b/.test(stdout + stderr), 60_000);
    child.kill('SIGINT');
    const [code] = await exited;
    assert.equal(code, 130, stderr);
    // One summary that names the stage it stopped; no line per stage that did not start.
    assert.match(stderr, /interrupted: stopped c while running; 1 stage\(s\) did not start; finished stages are cached/);
    assert.doesNotMatch(stderr, /skip/);
    assert.deepEqual(readdirSync(project.path('cache/tmp')), [], 'no working directory is left');
    assert.deepEqual(readdirSync(project.path('cache/leases')), [], 'no lease is left');
    const status = project.cli(['status', 'pipeline.ts']);
    assert.match(status.stdout, /2 stale, 0 in the run cache, 3 up to date/, status.stdout);
  });
});
