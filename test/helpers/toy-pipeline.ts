/**
 * Source of a 5-stage toy pipeline used by the end-to-end tests:
 *
 *   a -> b -> c -> e
 *   a -> d ------> e
 *
 * Every execution appends "<stage id>" to executions.log in the project folder, so tests can
 * count what ran. `c` calls the helper `shape()` from helpers.ts.
 */
import { API } from './project.js';

export const TOY_HELPERS = `// helpers used by stage c
export function shape(x: number): number {
  return x * 3 + 1;
}

export function unused(x: number): number {
  return x - 1;
}
`;

export function toyPipeline(opts: { isolation?: 'inline' | 'process'; sleepMs?: number } = {}): string {
  const isolation = opts.isolation ?? 'inline';
  return `import { appendFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defineStage, definePipeline, z } from ${JSON.stringify(API)};
import { shape } from './helpers.ts';

const LOG = join(import.meta.dirname, 'executions.log');
const SLEEP_MS = Number(process.env.TOY_SLEEP_MS ?? ${opts.sleepMs ?? 0});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const readNum = async (f: string) => Number(await readFile(f, 'utf8'));

const a = defineStage({
  name: 'a',
  params: z.object({ seed: z.number().int().default(1) }),
  outputs: ['x'],
  isolation: '${isolation}',
  async run(ctx) {
    appendFileSync(LOG, ctx.id + '\\n');
    await sleep(SLEEP_MS);
    await ctx.writeText('x', String(ctx.params.seed * 10));
  },
});

const b = defineStage({
  name: 'b',
  params: z.object({ add: z.number().default(1) }),
  inputs: ['x'],
  outputs: ['y'],
  isolation: '${isolation}',
  async run(ctx) {
    appendFileSync(LOG, ctx.id + '\\n');
    await sleep(SLEEP_MS);
    await ctx.writeText('y', String((await readNum(ctx.input('x'))) + ctx.params.add));
  },
});

const c = defineStage({
  name: 'c',
  params: z.object({ mode: z.enum(['fast', 'slow']).default('fast'), scale: z.number().positive().default(2) }),
  inputs: ['y'],
  outputs: ['z'],
  isolation: '${isolation}',
  async run(ctx) {
    appendFileSync(LOG, ctx.id + '\\n');
    await sleep(SLEEP_MS);
    const v = shape(await readNum(ctx.input('y'))) * ctx.params.scale;
    await ctx.writeText('z', String(v));
    return { z: v, mode: ctx.params.mode };
  },
});

const d = defineStage({
  name: 'd',
  inputs: ['x'],
  outputs: ['w'],
  isolation: '${isolation}',
  async run(ctx) {
    appendFileSync(LOG, ctx.id + '\\n');
    await sleep(SLEEP_MS);
    await ctx.writeText('w', String(-(await readNum(ctx.input('x')))));
  },
});

const e = defineStage({
  name: 'e',
  inputs: ['z', 'w'],
  outputs: ['total'],
  isolation: '${isolation}',
  async run(ctx) {
    appendFileSync(LOG, ctx.id + '\\n');
    await sleep(SLEEP_MS);
    const total = (await readNum(ctx.input('z'))) + (await readNum(ctx.input('w')));
    await ctx.writeText('total', String(total));
    return { total };
  },
});

export default definePipeline({ name: 'toy', params: { seed: 1, scale: 2 } }, (p, cfg) => {
  const sa = p.stage(a, { seed: cfg.seed });
  const sb = p.stage(b, { x: sa.out('x') });
  const sc = p.stage(c, { y: sb.out('y'), scale: cfg.scale });
  const sd = p.stage(d, { x: sa.out('x') });
  p.stage(e, { z: sc.out('z'), w: sd.out('w') });
});
`;
}
