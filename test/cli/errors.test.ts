// Issue #2, "what it must show" 6: every user error gives one clear message with the pipeline
// file and line (or the stage), exit code 2, and changes nothing. A failing stage exits 1.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { API, REPO, TestProject } from '../helpers/project.js';
import { TOY_HELPERS, toyPipeline } from '../helpers/toy-pipeline.js';

const LTH = join(REPO, 'src', 'lth', 'index.ts');
const header = `import { defineStage, definePipeline, z } from ${JSON.stringify(API)};
const s = defineStage({
  name: 's',
  params: z.object({ rate: z.number().min(0).max(1).default(0.2) }),
  inputs: ['src'],
  outputs: ['out'],
  isolation: 'inline',
  async run(ctx) { await ctx.writeText('out', 'x'); },
});
const root = defineStage({ name: 'root', outputs: ['out'], isolation: 'inline', async run(ctx) { await ctx.writeText('out', 'r'); } });
`;

describe('user errors: message with file and line, exit code 2, nothing changed', () => {
  const project = new TestProject({ 'pipeline.ts': toyPipeline(), 'helpers.ts': TOY_HELPERS });
  let before_: string;
  before(() => {
    assert.equal(project.cli(['run', 'pipeline.ts']).code, 0);
    before_ = project.snapshot();
  });
  after(() => project.remove());

  const cases: Array<{ name: string; file: string; source: string; args?: string[]; message: RegExp; where?: RegExp }> = [
    {
      name: 'a cycle',
      file: 'cycle.ts',
      source: `${header}export default definePipeline({ name: 'cyc' }, (p) => {
  p.stage(s, { src: p.ref('two', 'out') }, { id: 'one' });
  p.stage(s, { src: p.ref('one', 'out') }, { id: 'two' });
});\n`,
      message: /the stages form a cycle: (one -> two -> one|two -> one -> two)/,
      where: /cycle\.ts:1[23]:/,
    },
    {
      name: 'duplicate stage ids',
      file: 'dup.ts',
      source: `${header}export default definePipeline({ name: 'dup' }, (p) => {
  const r = p.stage(root, {});
  p.stage(s, { src: r.out('out') });
  p.stage(s, { src: r.out('out') });
});\n`,
      message: /two stage instances have the id 's'/,
      where: /dup\.ts:14:/,
    },
    {
      name: 'an unknown param',
      file: 'unknown.ts',
      source: `${header}export default definePipeline({ name: 'unk' }, (p) => {
  const r = p.stage(root, {});
  p.stage(s, { src: r.out('out'), rat: 0.5 } as never);
});\n`,
      message: /stage 's' \(s\): unknown param 'rat'/,
      where: /unknown\.ts:13:/,
    },
    {
      name: 'an ill-typed param',
      file: 'typed.ts',
      source: `${header}export default definePipeline({ name: 'typed' }, (p) => {
  const r = p.stage(root, {});
  p.stage(s, { src: r.out('out'), rate: 1.5 });
});\n`,
      message: /rate: Too big: expected number to be <=1/,
      where: /typed\.ts:13:/,
    },
    {
      name: 'an ill-typed --set value',
      file: 'pipeline.ts',
      source: '',
      args: ['--set', 'scale=abc'],
      message: /--set scale=abc: 'scale' is a number/,
    },
    {
      name: 'an unknown --set key',
      file: 'pipeline.ts',
      source: '',
      args: ['--set', 'nope=1'],
      message: /--set nope=1: no pipeline param and no stage instance/,
    },
    {
      name: 'a pipeline file that throws',
      file: 'throws.ts',
      source: `${header}export default definePipeline({ name: 'thr' }, () => {
  const levels: number[] = [];
  if (levels.length === 0) throw new Error('no levels configured');
});\n`,
      message: /building the pipeline failed: no levels configured/,
      where: /throws\.ts:13/,
    },
    {
      name: 'a pipeline file that does not compile',
      file: 'syntax.ts',
      source: `${header}export default definePipeline({ name: 'syn' }, (p) => {
  p.stage(root, {}) +;
});\n`,
      // Found by the type check before the file is loaded.
      message: /syntax\.ts:12: Expression expected/,
      where: /syntax\.ts:12/,
    },
    {
      name: 'a type error in the pipeline file',
      file: 'typeerror.ts',
      source: `${header}export default definePipeline({ name: 'te' }, (p) => {
  const n: number = 'oops';
  p.stage(root, {}, { id: String(n) });
});\n`,
      message: /typeerror\.ts:12: 1 type error in the pipeline:\n  typeerror\.ts:12: Type 'string' is not assignable to type 'number'/,
      where: /typeerror\.ts:12:/,
    },
    {
      name: 'a misspelt param of a stage that a library helper adds (the pipeline file\'s line, not the helper\'s)',
      file: 'helper.ts',
      source: `${header}import { trainDenseRun } from ${JSON.stringify(LTH)};
export default definePipeline({ name: 'hlp' }, (p) => {
  trainDenseRun(p, { model: 'lenet300100', dataset: 'synthetic', batchsize: 4 } as never, []);
});\n`,
      message: /unknown param 'batchsize'/,
      where: /helper\.ts:13:/,
    },
    {
      name: 'a file that exports no pipeline',
      file: 'empty.ts',
      source: `${header}export const nothing = 1;\n`,
      message: /exports no pipeline/,
    },
    {
      name: 'a missing input artifact (unknown output)',
      file: 'missing.ts',
      source: `${header}export default definePipeline({ name: 'mis' }, (p) => {
  const r = p.stage(root, {});
  p.stage(s, { src: r.out('weights' as never) });
});\n`,
      message: /stage 'root' \(root\) has no output 'weights'/,
      where: /missing\.ts:13:/,
    },
    {
      name: 'a missing input file',
      file: 'nofile.ts',
      source: `${header}export default definePipeline({ name: 'nof' }, (p) => {
  p.stage(s, { src: p.file('data/absent.bin') });
});\n`,
      message: /input file .*absent\.bin does not exist/,
      where: /nofile\.ts:12:/,
    },
    // Issue #23: every stage id, however made, passes one rule at the line that made it.
    {
      name: 'a stage id that climbs out ({ id })',
      file: 'id-escape.ts',
      source: `${header}export default definePipeline({ name: 'ide' }, (p) => {
  p.stage(root, {}, { id: '../evil' });
});\n`,
      message: /stage id "\.\.\/evil" may use only letters, digits/,
      where: /id-escape\.ts:12:/,
    },
    {
      name: 'a scope name that climbs out (p.scope)',
      file: 'scope-escape.ts',
      source: `${header}export default definePipeline({ name: 'sce' }, (p) => {
  const r = p.stage(root, {});
  p.scope('../..', () => p.stage(s, { src: r.out('out') }));
});\n`,
      message: /scope name "\.\.\/\.\." may use only letters, digits/,
      where: /scope-escape\.ts:13:/,
    },
    {
      name: 'an empty scope name',
      file: 'scope-empty.ts',
      source: `${header}export default definePipeline({ name: 'sem' }, (p) => {
  p.scope('', () => p.stage(root, {}));
});\n`,
      message: /scope name "" may use only letters, digits/,
      where: /scope-empty\.ts:12:/,
    },
    {
      name: 'a sweep value that climbs out (p.sweep)',
      file: 'sweep-escape.ts',
      source: `${header}export default definePipeline({ name: 'swe' }, (p) => {
  const r = p.stage(root, {});
  p.sweep({ k: ['ok', '../../x'] }, () => p.stage(s, { src: r.out('out') }));
});\n`,
      message: /scope name "k:\.\.\/\.\.\/x" may use only letters, digits/,
      where: /sweep-escape\.ts:13:/,
    },
    {
      name: 'a pipeline file that does not exist (nearest names listed first)',
      file: 'pipelin.ts',
      source: '',
      message: /no pipeline file pipelin\.ts\n {2}pipeline files in .*: pipeline\.ts, /,
    },
  ];

  for (const c of cases) {
    test(c.name, () => {
      if (c.source) project.write(c.file, c.source);
      const r = project.cli(['run', c.file, ...(c.args ?? [])]);
      assert.equal(r.code, 2, `exit code: ${r.stderr}`);
      assert.match(r.stderr, c.message);
      if (c.where) assert.match(r.stderr, c.where);
      assert.equal(r.stderr.trim().split('\n').length <= 3, true, `one short message:\n${r.stderr}`);
      assert.equal(project.snapshot(), before_, 'nothing changed');
    });
  }

  test('a malformed lock file', () => {
    const good = project.read('dvc-like.lock');
    try {
      project.write('dvc-like.lock', good.replace(/^(\s+key: )[0-9a-f]+$/m, '$1[unclosed'));
      const broken = project.read('dvc-like.lock');
      const r = project.cli(['run', 'pipeline.ts', '--set', 'seed=9']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /dvc-like\.lock:\d+: the lock file is malformed/);
      assert.match(r.stderr, /git checkout -- dvc-like.lock/);
      assert.equal(project.read('dvc-like.lock'), broken, 'the lock file is left as it was');
      assert.deepEqual(project.executions().filter((e) => e === 'a').length, 1, 'nothing ran');
    } finally {
      project.write('dvc-like.lock', good);
    }
  });

  test('a lock file of another schema version', () => {
    const good = project.read('dvc-like.lock');
    try {
      project.write('dvc-like.lock', good.replace('schema: 1', 'schema: 7'));
      const r = project.cli(['status', 'pipeline.ts']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /schema version is 7; this version of lth-pipeline reads 1/);
    } finally {
      project.write('dvc-like.lock', good);
    }
  });
});

describe('a stage that throws', () => {
  const project = new TestProject();
  after(() => project.remove());

  test('exit code 1, the error names the stage, what finished stays cached', () => {
    project.write(
      'fail.ts',
      `import { appendFileSync } from 'node:fs';
${header}
const boom = defineStage({ name: 'boom', inputs: ['src'], outputs: ['out'], async run() { console.log('about to fail'); throw new Error('loss is NaN'); } });
export default definePipeline({ name: 'fail' }, (p) => {
  const r = p.stage(root, {});
  p.stage(boom, { src: r.out('out') });
  p.stage(s, { src: r.out('out') }, { id: 'sibling' });
});\n`,
    );
    const r = project.cli(['run', 'fail.ts', '--keep-going']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /stage 'boom' failed: stage boom: loss is NaN/);
    assert.match(r.stderr, /about to fail/, 'the stage\'s last output is shown');
    const again = project.cli(['run', 'fail.ts', '--keep-going']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /\[cached\] root/);
    assert.match(again.stderr, /\[cached\] sibling/);
  });
});
