// The project root is found from the pipeline file: the nearest pipeline.config.yaml above it,
// else the nearest package.json (or .git, or a lock file); `p.projectRoot` is that folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GraphBuilder, projectRoot } from '../../src/engine/index.js';

function tree(files: string[]): string {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'lth-root-')));
  for (const f of files) {
    mkdirSync(join(root, f, '..'), { recursive: true });
    writeFileSync(join(root, f), '');
  }
  return root;
}

test('the nearest pipeline.config.yaml wins over a nearer package.json', () => {
  const root = tree(['study/pipeline.config.yaml', 'study/package.json', 'study/tools/package.json', 'study/tools/pipelines/x.ts']);
  assert.equal(projectRoot(join(root, 'study', 'tools', 'pipelines')), join(root, 'study'));
  assert.equal(new GraphBuilder(join(root, 'study', 'tools', 'pipelines', 'x.ts')).projectRoot, join(root, 'study'));
});

test('without a config file, the nearest package.json; with none at all, the folder itself', () => {
  const root = tree(['a/package.json', 'a/pipelines/x.ts', 'b/pipelines/x.ts']);
  assert.equal(projectRoot(join(root, 'a', 'pipelines')), join(root, 'a'));
  assert.equal(new GraphBuilder(join(root, 'a', 'pipelines', 'x.ts')).projectRoot, join(root, 'a'));
  assert.equal(projectRoot(join(root, 'b', 'pipelines')), join(root, 'b', 'pipelines'));
});
