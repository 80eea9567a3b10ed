// Planning and running in process, on an inline pipeline (no CLI, no child processes): what the
// plan says before a run, that a run computes each key once and a second plan finds everything up
// to date, and what the plan says after a pipeline param and a stage param change.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { buildPipeline, definePipeline, defineStage, Fingerprinter, planPipeline, runPipeline } from '../../src/engine/index.js';
import { readLock, Store } from '../../src/store/index.js';

const calls: string[] = [];

const source = defineStage({
  name: 'plan-source',
  params: z.object({ n: z.number().int() }),
  outputs: ['out'],
  isolation: 'inline',
  async run(ctx) {
    calls.push(`source ${ctx.params.n}`);
    await ctx.writeJson('out', { n: ctx.params.n });
  },
});

const square = defineStage({
  name: 'plan-square',
  params: z.object({ offset: z.number().default(0) }),
  inputs: ['x'],
  outputs: ['out'],
  isolation: 'inline',
  async run(ctx) {
    const { n } = JSON.parse(await readFile(ctx.input('x'), 'utf8')) as { n: number };
    calls.push(`square ${n}`);
    await ctx.writeJson('out', { v: n * n + ctx.params.offset });
    return { v: n * n + ctx.params.offset };
  },
});

const pipeline = definePipeline({ name: 'plan-run', params: { ns: [2, 3] } }, (p, cfg) => {
  for (const n of cfg.ns) {
    p.scope(`n${n}`, () => {
      const s = p.stage(source, { n });
      p.stage(square, { x: s.out('out') });
    });
  }
});

describe('plan and run in process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lth-plan-run-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const store = new Store(join(dir, 'cache'));
  const fingerprinter = new Fingerprinter(store.layout.metaPath('fingerprints.json'), store.fileDigests);
  const lockPath = join(dir, 'dvc-like.lock');
  const here = new URL(import.meta.url).pathname;
  const plan = async (sets: string[] = []) => {
    const lock = await readLock(lockPath, store.layout);
    return planPipeline(buildPipeline(pipeline, here, sets), store, fingerprinter, lock.pipelines['plan-run']);
  };

  test('before any run: every stage is stale, and why', async () => {
    const p = await plan();
    assert.deepEqual([...p.stages.keys()], ['n2/plan-source', 'n2/plan-square', 'n3/plan-source', 'n3/plan-square']);
    for (const s of p.stages.values()) assert.equal(s.state, 'stale');
    assert.deepEqual(p.stages.get('n2/plan-source')!.reasons, ['never run']);
    assert.equal(p.stages.get('n2/plan-square')!.key, undefined, 'unknown until its input is computed');
    assert.deepEqual(p.paramChanges, []);
  });

  test('a run computes each key once; the next plan is all up to date', async () => {
    const summary = await runPipeline(buildPipeline(pipeline, here), store, fingerprinter, lockPath, { inline: true });
    assert.deepEqual(summary.ran.sort(), ['n2/plan-source', 'n2/plan-square', 'n3/plan-source', 'n3/plan-square']);
    assert.deepEqual(calls.sort(), ['source 2', 'source 3', 'square 2', 'square 3']);
    const p = await plan();
    for (const s of p.stages.values()) assert.equal(s.state, 'up-to-date', s.node.id);
    assert.equal(p.stages.get('n3/plan-square')!.record!.metrics.v, 9);
  });

  test('a pipeline param change: the param named, new instances stale, removed ones listed', async () => {
    const p = await plan(['ns=[3,4]']);
    assert.deepEqual(p.paramChanges, ["pipeline param 'ns' changed: [2,3] -> [3,4]"]);
    assert.deepEqual(p.removed, ['n2/plan-source', 'n2/plan-square']);
    assert.equal(p.stages.get('n3/plan-square')!.state, 'up-to-date');
    assert.equal(p.stages.get('n4/plan-source')!.state, 'stale');
  });

  test('a stage param set for one instance: that instance is stale and says which param', async () => {
    const p = await plan(['n3/plan-square.offset=1']);
    assert.equal(p.stages.get('n2/plan-square')!.state, 'up-to-date');
    const s = p.stages.get('n3/plan-square')!;
    assert.equal(s.state, 'stale');
    assert.deepEqual(s.reasons, ["param 'offset' changed: 0 -> 1"]);
    calls.length = 0;
    const summary = await runPipeline(buildPipeline(pipeline, here, ['n3/plan-square.offset=1']), store, fingerprinter, lockPath, { inline: true });
    assert.deepEqual(summary.ran, ['n3/plan-square']);
    assert.deepEqual(calls, ['square 3']);
    const back = await plan();
    assert.equal(back.stages.get('n3/plan-square')!.state, 'cached', 'the old result is restored from the run cache');
    assert.match(back.stages.get('n3/plan-square')!.reasons[0]!, /^restored from the run cache \(param 'offset' changed: 1 -> 0\): computed \d{4}-/);
  });
});
