// The engine runs compiled (bin/compiled.js) and imports the user's TypeScript through esbuild or
// tsx (src/engine/typescript.ts). Results must not depend on which: the same keys, the same
// file:line in errors, one engine and one copy of each user module per process.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, utimesSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, describe, test } from 'node:test';
// @ts-expect-error: plain JavaScript (it runs before anything is compiled), no declarations
import { compiledTree } from '../../bin/compiled.js';
import { API, REPO, TestProject } from '../helpers/project.js';

describe('the compiled tree', () => {
  const project = new TestProject({
    'src/a.ts': 'export const a: number = 1;\n',
    'src/sub/b.ts': "import { a } from '../a.js';\nexport const b = (): number => a + 1;\n",
    'src/sub/c.ts': "import { z } from 'zod';\nexport const positive = z.number().positive();\n",
  });
  after(() => project.remove());

  test('is built once per state of the sources, with source maps, and rebuilt on an edit', async () => {
    const first: string = await compiledTree(project.dir);
    assert.ok(existsSync(join(first, 'src', 'sub', 'b.js')) && existsSync(join(first, 'src', 'sub', 'b.js.map')));
    const mod = (await import(join(first, 'src', 'sub', 'b.js'))) as { b: () => number };
    assert.equal(mod.b(), 2);
    // zod is one bundled module of the tree (its 95 files were 45-55 ms of every start).
    assert.match(readFileSync(join(first, 'src', 'sub', 'c.js'), 'utf8'), /from "\.\.\/\.\.\/vendor\/zod\.js"/);
    const c = (await import(join(first, 'src', 'sub', 'c.js'))) as { positive: { safeParse(v: unknown): { success: boolean } } };
    assert.deepEqual([c.positive.safeParse(1).success, c.positive.safeParse(-1).success], [true, false]);
    // English messages only (the other locales were half of zod's bundle); commander and p-queue bundled alike.
    const zod = (await import(join(first, 'vendor', 'zod.js'))) as typeof import('zod');
    assert.deepEqual(Object.keys(zod.z.locales), ['en']);
    assert.equal(zod.z.number().safeParse('x').error?.issues[0]?.message, 'Invalid input: expected number, received string');
    assert.ok(existsSync(join(first, 'vendor', 'commander.js')) && existsSync(join(first, 'vendor', 'p-queue.js')));
    assert.equal(await compiledTree(project.dir), first, 'no change, same tree');
    project.write('src/a.ts', 'export const a: number = 41;\n');
    const second: string = await compiledTree(project.dir);
    assert.notEqual(second, first);
    assert.equal(((await import(join(second, 'src', 'sub', 'b.js'))) as { b: () => number }).b(), 42);
    // Trees unused for an hour are dropped, beyond the three most recently used.
    for (let i = 0; i < 3; i++) {
      const t = new Date(Date.now() + (i + 1) * 60_000);
      utimesSync(project.path('src/a.ts'), t, t);
      await compiledTree(project.dir);
    }
    const hoursAgo = new Date(Date.now() - 2 * 3600_000);
    for (const tree of [first, second]) utimesSync(tree, hoursAgo, hoursAgo);
    utimesSync(project.path('src/a.ts'), new Date(Date.now() + 600_000), new Date(Date.now() + 600_000));
    await compiledTree(project.dir);
    const trees = readdirSync(project.path('.build')).filter((d) => /^[0-9a-f]{16}$/.test(d));
    assert.equal(trees.length, 4, 'the newest, and three used within the hour');
    assert.ok(!trees.includes(basename(first)) && !trees.includes(basename(second)));
  });
});

describe('pipelines that import only the engine run through esbuild, others through tsx: the same results', () => {
  const stage = (body: string, head = '') => `${head}import { defineStage, definePipeline, z } from ${JSON.stringify(API)};
const s = defineStage({
  name: 'echo',
  params: z.object({ word: z.string() }),
  outputs: ['out'],
  isolation: 'inline',
  async run(ctx) { ${body} },
});
export default definePipeline({ name: 'where' }, (p) => {
  p.note(\`url \${new URL(import.meta.url).pathname.split('/').pop()}\`);
  p.stage(s, { word: 'hi' }, { id: 'one' });
});
`;
  const inRepo = new TestProject({ 'pipeline.ts': stage("await ctx.writeText('out', ctx.params.word);") }, join(REPO, '.tmp'));
  // It imports a module of its own: tsx loads it.
  const outside = new TestProject({
    'pipeline.ts': stage("await ctx.writeText('out', ctx.params.word);", "import { side } from './side.js';\nvoid side;\n"),
    'side.ts': 'export const side = 1;\n',
  });
  after(() => {
    inRepo.remove();
    outside.remove();
  });

  test('the same key either way; import.meta.url is the source file', () => {
    const keys = [inRepo, outside].map((p) => {
      const r = p.cli(['status', 'pipeline.ts', '--json']);
      assert.equal(r.code, 0, r.stderr);
      const status = JSON.parse(r.stdout) as { notes: string[]; stages: Array<{ key: string }> };
      assert.deepEqual(status.notes, ['url pipeline.ts']);
      return status.stages[0]!.key;
    });
    assert.equal(keys[0], keys[1]);
    const compiled = readdirSync(join(REPO, '.build'), { recursive: true, encoding: 'utf8' }).filter((f) => f.includes('user') && f.endsWith('.mjs'));
    assert.ok(compiled.some((f) => readFileSync(join(REPO, '.build', f), 'utf8').includes('name: "where"')), 'the in-repo pipeline was compiled by esbuild');
  });

  test("a misspelt param is reported at the pipeline file's line; an edit of the stage's code reruns it, a comment above it does not", () => {
    inRepo.write('bad.ts', stage("await ctx.writeText('out', 'x');").replace("{ word: 'hi' }", "{ wrod: 'hi' }"));
    const bad = inRepo.cli(['run', 'bad.ts', '--no-typecheck']);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /bad\.ts:11\b/);
    assert.equal(inRepo.cli(['run', 'pipeline.ts']).code, 0);
    // A comment line on top moves every line: the stage's call is still found through the source map.
    inRepo.write('pipeline.ts', `// a comment\n${stage("await ctx.writeText('out', ctx.params.word);")}`);
    assert.match(inRepo.cli(['status', 'pipeline.ts']).stdout, /all 1 stages up to date/);
    inRepo.write('pipeline.ts', stage("await ctx.writeText('out', ctx.params.word + '!');"));
    assert.match(inRepo.cli(['status', 'pipeline.ts']).stdout, /the code of 'echo' changed/);
  });

  test('a pipeline that imports a module of its own (tsx) shares one engine with it', () => {
    inRepo.write('stages.ts', `import { defineStage, z } from ${JSON.stringify(API)};
export const twice = defineStage({ name: 'twice', params: z.object({ n: z.number() }), isolation: 'inline', async run(ctx) { return { n2: ctx.params.n * 2 }; } });
export const thrice = defineStage({ name: 'thrice', params: z.object({ n: z.number() }), async run(ctx) { return { n3: ctx.params.n * 3 }; } });
`);
    inRepo.write('uses.ts', `import { definePipeline } from ${JSON.stringify(API)};
import { thrice, twice } from './stages.js';
export default definePipeline({ name: 'uses' }, (p) => { p.stage(twice, { n: 21 }, { id: 'a' }); p.stage(thrice, { n: 5 }, { id: 'b' }); });
`);
    const r = inRepo.cli(['run', 'uses.ts', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const shown = inRepo.cli(['show', 'uses.ts', '--json']);
    assert.match(shown.stdout, /"n2": 42/);
    assert.match(shown.stdout, /"n3": 15/);
  });

  test("a pipeline that imports zod itself gets the engine's copy, through esbuild and through tsx", () => {
    const pipeline = (head: string) => `import { z as own } from 'zod';
import { definePipeline, z } from ${JSON.stringify(API)};
${head}
export default definePipeline({ name: 'zods' }, (p) => { p.note(\`one zod: \${own === z}\`); });
`;
    inRepo.write('zod-direct.ts', pipeline(''));
    inRepo.write('zod-helper.ts', "export { z } from 'zod';\n");
    inRepo.write('zod-via-tsx.ts', pipeline("import { z as helper } from './zod-helper.js';\nif (helper !== own) throw new Error('two copies of zod');"));
    for (const file of ['zod-direct.ts', 'zod-via-tsx.ts']) {
      const r = inRepo.cli(['status', file, '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual((JSON.parse(r.stdout) as { notes: string[] }).notes, ['one zod: true'], file);
    }
  });
});
