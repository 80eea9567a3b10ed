// Issue #10, "instant planning": code fingerprints come from syntax trees and the import graph,
// never from a type-checked program, and keep their meaning (what an edit invalidates).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire, Module } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Fingerprinter } from '../../src/engine/index.js';
import type { StageDefinition } from '../../src/engine/definition/stage.js';
import * as lth from '../../src/lth/index.js';
import { FileDigestCache } from '../../src/store/index.js';

const require = createRequire(import.meta.url);
const tmp = mkdtempSync(join(tmpdir(), 'lth-fingerprint-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

let fresh = 0;
/** A Fingerprinter with caches of its own, so that every call computes. */
function fingerprinter(): { fp: Fingerprinter; cacheFile: string } {
  const cacheFile = join(tmp, `fingerprints-${++fresh}.json`);
  return { fp: new Fingerprinter(cacheFile, new FileDigestCache(join(tmp, `file-digests-${fresh}.json`))), cacheFile };
}

/**
 * Makes `createProgram` of the TypeScript module at `path` throw and records which files its
 * `createSourceFile` parses. Its exports are non-configurable getters, so the module object cannot
 * be patched (nor proxied: ts-morph copies the getters off it): its require-cache entry is replaced
 * by a copy, which require() and ESM imports of CommonJS both read. Returns the undo.
 */
function trapTypeScript(path: string | undefined, parsed: string[]): () => void {
  if (!path) return () => {};
  const real = require(path) as Record<string, unknown> & typeof import('typescript');
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(real)) Object.defineProperty(copy, key, { enumerable: true, configurable: true, get: () => real[key] });
  const value = (v: unknown) => ({ enumerable: true, value: v });
  Object.defineProperty(copy, 'createProgram', value(() => assert.fail(`${path}: a type-checked program was built`)));
  Object.defineProperty(copy, 'createSourceFile', value((file: string, ...rest: unknown[]) => (parsed.push(file), (real.createSourceFile as (...a: unknown[]) => unknown)(file, ...rest))));
  const entry = require.cache[path];
  const fake = new Module(path);
  fake.filename = path;
  fake.loaded = true;
  fake.exports = copy;
  require.cache[path] = fake;
  return () => {
    require.cache[path] = entry;
  };
}

function resolveOrUndefined(id: () => string): string | undefined {
  try {
    return id();
  } catch {
    return undefined;
  }
}

describe('code fingerprints without type information', () => {
  test('the stages of pipelines/lenet-mnist-imp.ts are fingerprinted without a type-checked program, each file parsed once', async () => {
    const parsed: string[] = [];
    const undo = [
      // The compiler bundled with ts-morph, which the fingerprints use (and which once built a
      // type-checked program for them); and the project's own, which nothing should use.
      trapTypeScript(
        resolveOrUndefined(() => join(dirname(require.resolve('@ts-morph/common')), 'typescript.js')),
        parsed,
      ),
      trapTypeScript(require.resolve('typescript'), []),
    ];
    try {
      const stages = (Object.values(lth) as unknown[]).filter((v): v is StageDefinition => (v as { kind?: unknown } | undefined)?.kind === 'stage');
      assert.ok(stages.length >= 6, `${stages.length} stage definitions in src/lth`);
      const { fp, cacheFile } = fingerprinter();
      const prints = await Promise.all(stages.map((s) => fp.fingerprint(s)));
      for (const p of prints) assert.match(p, /^[0-9a-f]{64}$/);
      assert.equal(new Set(prints).size, stages.length);
      assert.ok(parsed.length > stages.length, 'the stages and their helpers were parsed');
      assert.equal(new Set(parsed).size, parsed.length, 'no file is parsed twice');
      await fp.save();
      const cache = JSON.parse(readFileSync(cacheFile, 'utf8')) as Record<string, { files: Record<string, string> }>;
      assert.ok(Object.keys(cache).every((k) => k.startsWith('2:')));
    } finally {
      for (const u of undo) u();
    }
  });
});

const BASE: Record<string, string> = {
  'stage.ts': `import { defineStage } from 'lth-pipeline';
import { shape, LIMIT as limit, type Options } from './helpers.js';
import * as util from './util.js';
import { fromBarrel } from './barrel.js';
import scale from './scale.js';
import { version } from 'fake-pkg';

const unrelated = 1;

export const s = defineStage({
  name: 's',
  async run(ctx: { x: number }) {
    const opts: Options = { offset: 1 };
    const inner = (unrelated: number) => unrelated + 1; // shadows a top-level name
    {
      const shape = 5; // shadows the import
      void shape;
    }
    return { v: shape(ctx.x) + opts.offset + util.twice(limit) + fromBarrel() + scale(2) + inner(1) + version };
  },
});
`,
  'helpers.ts': `// helpers of stage s
export function shape(x: number): number {
  return x * 3 + 1;
}

export function unused(x: number): number {
  return x - 1;
}

export const LIMIT = 10;

export interface Options {
  offset: number;
}
`,
  'util.ts': `export const twice = (x: number) => 2 * x;
export const thrice = (x: number) => 3 * x;
`,
  'barrel.ts': `export * from './deep.js';
export * from './other.js';
`,
  'deep.ts': `export function fromBarrel(): number {
  return 7;
}
`,
  'other.ts': `export const other = 1;
`,
  'scale.ts': `export default function (x: number): number {
  return x * 4;
}
`,
  'node_modules/fake-pkg/package.json': '{ "name": "fake-pkg", "version": "1.0.0" }\n',
};

describe('what changes a fingerprint (temp project)', () => {
  const dir = join(tmp, 'project');
  const write = (files: Record<string, string>) => {
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, name)), { recursive: true });
      writeFileSync(join(dir, name), text);
    }
  };
  write(BASE);
  const stageFile = join(dir, 'stage.ts');
  const def = {
    name: 's',
    version: 0,
    site: { file: stageFile, line: BASE['stage.ts']!.split('\n').findIndex((l) => l.includes('defineStage(')) + 1, column: 1 },
  } as unknown as StageDefinition;

  async function fingerprintWith(edits: Record<string, string>): Promise<{ print: string; files: string[] }> {
    write(BASE);
    write(edits);
    const { fp, cacheFile } = fingerprinter();
    const print = await fp.fingerprint(def);
    await fp.save();
    const cache = JSON.parse(readFileSync(cacheFile, 'utf8')) as Record<string, { files: Record<string, string> }>;
    return { print, files: Object.keys(Object.values(cache)[0]!.files) };
  }
  let base: { print: string; files: string[] };
  const edit = (file: string, from: string, to: string) => {
    assert.ok(BASE[file]!.includes(from), `${file} contains ${from}`);
    return { [file]: BASE[file]!.replace(from, to) };
  };
  const changes = async (edits: Record<string, string>) => (await fingerprintWith(edits)).print !== base.print;

  test('the files visited count, re-exporting barrels and package manifests included', async () => {
    base = await fingerprintWith({});
    const names = base.files.map((f) => f.slice(dir.length + 1)).sort();
    assert.deepEqual(names, ['barrel.ts', 'deep.ts', 'helpers.ts', 'node_modules/fake-pkg/package.json', 'scale.ts', 'stage.ts', 'util.ts']);
  });

  test('a helper edit changes it; a comment-only or whitespace edit does not', async () => {
    assert.ok(await changes(edit('helpers.ts', 'x * 3 + 1', 'x * 3 + 2')));
    assert.ok(!(await changes(edit('helpers.ts', '// helpers of stage s', '/* another comment */'))));
    assert.ok(!(await changes(edit('helpers.ts', 'return x * 3 + 1;', 'return   x*3 +1; // same code'))));
  });

  test('an edit of an unrelated declaration in the same file does not change it', async () => {
    assert.ok(!(await changes(edit('helpers.ts', 'return x - 1;', 'return x - 2;'))));
    assert.ok(!(await changes(edit('util.ts', '3 * x', '4 * x'))), 'util.thrice is not used');
  });

  test('imports by another name, through a namespace or as default are followed', async () => {
    assert.ok(await changes(edit('helpers.ts', 'LIMIT = 10', 'LIMIT = 11')));
    assert.ok(await changes(edit('util.ts', '2 * x', '5 * x')));
    assert.ok(await changes(edit('scale.ts', 'x * 4', 'x * 5')));
  });

  test('an edit of a declaration reached through `export * from` in a barrel changes it', async () => {
    assert.ok(await changes(edit('deep.ts', 'return 7;', 'return 8;')));
    assert.ok(!(await changes(edit('other.ts', 'other = 1', 'other = 2'))));
  });

  test('a type-only edit does not change it', async () => {
    assert.ok(!(await changes(edit('helpers.ts', 'offset: number;', 'offset: number;\n  label?: string;'))));
  });

  test('a third-party package enters as its version', async () => {
    assert.ok(await changes({ 'node_modules/fake-pkg/package.json': '{ "name": "fake-pkg", "version": "1.0.1" }\n' }));
  });

  test('locals that shadow top-level names do not hide what run really uses', async () => {
    // `shape` is shadowed in a block and `unrelated` by a parameter: the imported shape still counts.
    assert.ok(await changes(edit('helpers.ts', 'x * 3 + 1', 'x * 3 + 3')));
    assert.ok(await changes(edit('stage.ts', 'unrelated + 1;', 'unrelated + 2;')), 'run itself changed');
  });
});
