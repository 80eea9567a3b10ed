// gc and verify through the CLI: what the lock file and recent runs use stays; a corrupt object is
// quarantined and recomputed by the next run.
import assert from 'node:assert/strict';
import { chmodSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TestProject } from '../helpers/project.js';
import { TOY_HELPERS, toyPipeline } from '../helpers/toy-pipeline.js';

function objectCount(project: TestProject): number {
  const dir = project.path('cache/objects');
  return readdirSync(dir).reduce((n, prefix) => n + readdirSync(join(dir, prefix)).length, 0);
}

describe('gc and verify', () => {
  const project = new TestProject({ 'pipeline.ts': toyPipeline(), 'helpers.ts': TOY_HELPERS });
  before(() => {
    assert.equal(project.cli(['run', 'pipeline.ts', '--set', 'scale=5']).code, 0);
    assert.equal(project.cli(['run', 'pipeline.ts']).code, 0);
  });
  after(() => project.remove());

  test('gc --dry-run lists what would go and removes nothing', () => {
    const before_ = objectCount(project);
    const r = project.cli(['gc', '--dry-run', '--keep-last', '0']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /would remove [1-9]\d* objects .* and 2 run records/);
    assert.equal(objectCount(project), before_);
  });

  test('gc --keep-last 1 keeps, besides what the lock file names, the newest other result of each instance', () => {
    const r = project.cli(['gc', '--keep-last', '1']);
    assert.equal(r.code, 0, r.stderr);
    project.clearExecutions();
    assert.equal(project.cli(['run', 'pipeline.ts', '--set', 'scale=5']).code, 0);
    assert.deepEqual(project.executions(), []);
  });

  test('gc --keep-last 0 keeps only what the lock file names: the other results are recomputed', () => {
    assert.equal(project.cli(['run', 'pipeline.ts']).code, 0); // the lock file names scale=2 again
    assert.equal(project.cli(['gc', '--keep-last', '0']).code, 0);
    project.clearExecutions();
    assert.equal(project.cli(['run', 'pipeline.ts']).code, 0);
    assert.deepEqual(project.executions(), [], 'what the lock file names stayed');
    assert.equal(project.cli(['run', 'pipeline.ts', '--set', 'scale=5']).code, 0);
    assert.deepEqual(project.executions().sort(), ['c', 'e']);
  });

  test('verify quarantines a corrupt object (exit 1); the next run recomputes what used it', () => {
    const show = JSON.parse(project.cli(['show', 'pipeline.ts', '--json']).stdout) as Array<{ id: string; key: string }>;
    const dKey = show.find((r) => r.id === 'd')!.key;
    const record = JSON.parse(project.read(`cache/runs/${dKey.slice(0, 2)}/${dKey}.json`)) as { outputs: { w: { digest: string } } };
    const digest = record.outputs.w.digest;
    const file = project.path(`cache/objects/${digest.slice(0, 2)}/${digest.slice(2)}`);
    chmodSync(file, 0o644);
    writeFileSync(file, 'tampered');
    const r = project.cli(['verify']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`corrupt ${digest}`));
    assert.match(r.stdout, /1 corrupt \(quarantined/);
    assert.equal(readdirSync(project.path('cache/quarantine')).length, 1);
    project.clearExecutions();
    const rerun = project.cli(['run', 'pipeline.ts']);
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.deepEqual(project.executions(), ['d'], 'd recomputed; its output is the same, so e stays cached');
    assert.match(project.cli(['verify']).stdout, /all intact/);
  });
});
