// The documentation stays true: every relative link in README.md and docs/ names a file that
// exists (and, with a #fragment into a Markdown file, one of its headings), and the code blocks
// marked in their info string still work:
//   ```ts check   type-checks against the engine's source (imports of `lth-pipeline`,
//                 `lth-pipeline/lth` and `lth-pipeline/report` mapped to src/), with the
//                 repository's compiler settings;
//   ```ts run     the same, and `pipeline run` of it in a fresh project exits 0 (and a second
//                 run executes nothing): for self-contained pipelines that need no data.
// README.md's two commands are pinned verbatim (a fresh clone's first steps).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { REPO, TestProject } from '../helpers/project.js';

const PAGES = ['README.md', ...readdirSync(join(REPO, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** The package's entry points as the engine's source files (what `exports` names, compiled). */
const ENTRY: Record<string, string> = {
  'lth-pipeline': 'src/index.ts',
  'lth-pipeline/lth': 'src/lth/index.ts',
  'lth-pipeline/report': 'src/report/author.ts',
};

interface Block {
  page: string;
  line: number;
  mode: 'check' | 'run';
  code: string;
}

/** A page's text outside fenced code blocks, and its marked blocks. */
function parse(page: string): { prose: Array<{ line: number; text: string }>; blocks: Block[]; headings: string[] } {
  const lines = readFileSync(join(REPO, page), 'utf8').split('\n');
  const prose: Array<{ line: number; text: string }> = [];
  const blocks: Block[] = [];
  const headings: string[] = [];
  let fence: { line: number; mode: Block['mode'] | undefined; code: string[] } | undefined;
  lines.forEach((text, i) => {
    const open = /^```(\S*)(?:\s+(\S+))?/.exec(text);
    if (fence) {
      if (text.startsWith('```')) {
        if (fence.mode) blocks.push({ page, line: fence.line, mode: fence.mode, code: fence.code.join('\n') });
        fence = undefined;
      } else fence.code.push(text);
    } else if (open) {
      const mode = open[1] === 'ts' && (open[2] === 'check' || open[2] === 'run') ? open[2] : undefined;
      fence = { line: i + 1, mode, code: [] };
    } else {
      prose.push({ line: i + 1, text });
      const h = /^#+\s+(.*)$/.exec(text);
      if (h) headings.push(slug(h[1]!));
    }
  });
  return { prose, blocks, headings };
}

/** GitHub's anchor of a heading. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\- _]/gu, '')
    .replace(/ /g, '-');
}

describe('the documentation', () => {
  const parsed = new Map(PAGES.map((p) => [p, parse(p)]));

  test('every relative link in README.md and docs/ resolves: the file exists, a #fragment names a heading there', () => {
    const broken: string[] = [];
    let links = 0;
    for (const [page, { prose, headings }] of parsed) {
      for (const { line, text } of prose) {
        // Inline code is not a link: `[x](y)` in backticks is left out.
        for (const m of text.replace(/`[^`]*`/g, '').matchAll(/\]\(([^)\s]+)\)/g)) {
          const target = m[1]!;
          if (/^[a-z]+:/i.test(target)) continue; // https:, mailto:
          links++;
          const [path, fragment] = target.split('#') as [string, string | undefined];
          const file = path === '' ? join(REPO, page) : resolve(dirname(join(REPO, page)), path);
          const where = `${page}:${line}: ${target}`;
          if (!existsSync(file)) broken.push(`${where} (no such file)`);
          else if (fragment !== undefined && file.endsWith('.md')) {
            const anchors = path === '' ? headings : parsed.get(relative(REPO, file))?.headings ?? parse(relative(REPO, file)).headings;
            if (!anchors.includes(fragment)) broken.push(`${where} (no heading #${fragment})`);
          }
        }
      }
    }
    assert.deepEqual(broken, []);
    assert.ok(links > 20, `the pages link to each other (${links} links)`);
  });

  test("README.md keeps a fresh clone's two commands verbatim, and the pipeline they name exists", () => {
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
    assert.ok(readme.includes('npm ci && npx pipeline run pipelines/lenet-mnist-imp.ts'));
    assert.ok(readme.includes('npm ci && npm test'));
    assert.ok(existsSync(join(REPO, 'pipelines', 'lenet-mnist-imp.ts')));
  });

  const blocks = [...parsed.values()].flatMap((p) => p.blocks);

  test('the code blocks marked `ts check` and `ts run` type-check against the package', () => {
    assert.ok(blocks.length >= 3, `marked blocks: ${blocks.map((b) => `${b.page}:${b.line}`).join(', ')}`);
    // Inside the repository (its package.json says ESM; .tmp/ is git-ignored).
    const dir = join(REPO, '.tmp', `doc-blocks-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    try {
      const files = blocks.map((b, i) => {
        const file = join(dir, `${b.page.replace(/[/.]/g, '-')}-${b.line}-${i}.ts`);
        writeFileSync(file, b.code);
        return { file, block: b };
      });
      const options: ts.CompilerOptions = {
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.NodeNext,
        moduleResolution: ts.ModuleResolutionKind.NodeNext,
        lib: ['lib.es2023.d.ts'],
        types: ['node'],
        strict: true,
        noUncheckedIndexedAccess: true,
        skipLibCheck: true,
        noEmit: true,
        baseUrl: REPO,
        paths: Object.fromEntries(Object.entries(ENTRY).map(([k, v]) => [k, [v]])),
      };
      const program = ts.createProgram(files.map((f) => f.file), options);
      const errors = files.flatMap(({ file, block }) =>
        ts.getPreEmitDiagnostics(program, program.getSourceFile(file)).map((d) => {
          const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line + 1 : 0;
          return `${block.page}:${block.line + line}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
        }),
      );
      assert.deepEqual(errors, []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  for (const block of blocks.filter((b) => b.mode === 'run')) {
    test(`${block.page}:${block.line} (ts run) runs: every stage, then nothing`, () => {
      const code = block.code.replace(/from '(lth-pipeline(?:\/\w+)?)'/g, (_, spec: string) => `from ${JSON.stringify(join(REPO, ENTRY[spec]!))}`);
      const project = new TestProject({ 'pipelines/first.ts': code });
      const first = project.cli(['run', 'pipelines/first.ts', '--no-typecheck']);
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stderr, / [1-9]\d* ran, 0 from cache/);
      const second = project.cli(['run', 'pipelines/first.ts', '--no-typecheck']);
      assert.equal(second.code, 0, second.stderr);
      assert.match(second.stderr, / 0 ran, /);
    });
  }
});
