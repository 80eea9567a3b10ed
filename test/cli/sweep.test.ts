// Sweeps: stable scoped ids, and identical prefixes computed once within one run.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { API, TestProject } from '../helpers/project.js';

const pipeline = `import { appendFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defineStage, definePipeline, z } from ${JSON.stringify(API)};
const LOG = join(import.meta.dirname, 'executions.log');

const trunk = defineStage({
  name: 'trunk',
  params: z.object({ seed: z.number() }),
  outputs: ['w'],
  isolation: 'inline',
  async run(ctx) {
    appendFileSync(LOG, ctx.id + '\\n');
    await ctx.writeText('w', String(ctx.params.seed));
  },
});
const branch = defineStage({
  name: 'branch',
  params: z.object({ k: z.number(), rate: z.number() }),
  inputs: ['w'],
  outputs: ['r'],
  isolation: 'inline',
  async run(ctx) {
    appendFileSync(LOG, ctx.id + '\\n');
    const w = Number(await readFile(ctx.input('w'), 'utf8'));
    await ctx.writeText('r', String(w * ctx.params.k + ctx.params.rate));
    return { r: w * ctx.params.k + ctx.params.rate };
  },
});

export default definePipeline({ name: 'sweep', params: { ks: [0, 100, 500] } }, (p, cfg) => {
  p.sweep({ k: cfg.ks, rate: [0.2, 0.5] }, ({ k, rate }) => {
    // Every point asks for the same trunk: one key, computed once.
    const t = p.stage(trunk, { seed: 7 });
    p.stage(branch, { w: t.out('w'), k, rate });
  });
});
`;

describe('sweeps', () => {
  const project = new TestProject({ 'sweep.ts': pipeline });
  after(() => project.remove());

  test('ids carry the grid point; the shared trunk is computed once', () => {
    const r = project.cli(['run', 'sweep.ts']);
    assert.equal(r.code, 0, r.stderr);
    const runs = project.executions();
    assert.equal(runs.filter((x) => x.endsWith('/trunk')).length, 1, runs.join(','));
    assert.deepEqual(runs.filter((x) => x.endsWith('/branch')).sort(), [
      'k:0,rate:0.2/branch', 'k:0,rate:0.5/branch', 'k:100,rate:0.2/branch', 'k:100,rate:0.5/branch', 'k:500,rate:0.2/branch', 'k:500,rate:0.5/branch',
    ]);
    const rows = JSON.parse(project.cli(['show', 'sweep.ts', '--json']).stdout) as Array<{ id: string; metrics: { r?: number } }>;
    assert.equal(rows.find((x) => x.id === 'k:500,rate:0.5/branch')?.metrics.r, 3500.5);
  });

  test('extending the grid computes only the new points', () => {
    project.clearExecutions();
    const r = project.cli(['run', 'sweep.ts', '--set', 'ks=[0, 100, 500, 2000]']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(project.executions().sort(), ['k:2000,rate:0.2/branch', 'k:2000,rate:0.5/branch']);
  });
});
