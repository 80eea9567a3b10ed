// `pipeline init` in a project's folder: what it adds to package.json (nothing there removed or
// changed but npm init's placeholders), the files it writes, and its refusals (exit 2, nothing
// written). The packed package's own run of it is in test/package/install.test.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import { TestProject } from '../helpers/project.js';

const WRITTEN = ['tsconfig.json', 'pipeline.config.yaml', '.gitignore', 'pipelines/example.ts', 'README.md'];

describe('pipeline init', () => {
  test("adds type, scripts to the user's package.json, keeps their own test script and every other field, writes the starter files", () => {
    const project = new TestProject();
    const pkg = { name: 'study', version: '2.0.0', type: 'module', scripts: { test: 'vitest', lint: 'eslint .' }, dependencies: { 'lth-pipeline': '^0.1.0' } };
    project.write('package.json', `${JSON.stringify(pkg, null, 4)}\n`);
    const r = project.cli(['init']);
    assert.equal(r.code, 0, r.stderr);
    const after = JSON.parse(project.read('package.json')) as typeof pkg & { scripts: Record<string, string> };
    assert.deepEqual(after, { ...pkg, scripts: { ...pkg.scripts, pipeline: 'pipeline run pipelines/example.ts' } });
    assert.match(project.read('package.json'), /^\{\n {4}"name"/, "the file's own indentation");
    for (const f of WRITTEN) assert.ok(project.exists(f), f);
    assert.match(r.stdout, /added script "pipeline"/);
  });

  test("npm init -y's placeholders (type commonjs, the failing test script) are replaced, and said so", () => {
    const project = new TestProject();
    project.write('package.json', JSON.stringify({ name: 'p', type: 'commonjs', scripts: { test: 'echo "Error: no test specified" && exit 1' } }));
    const r = project.cli(['init']);
    assert.equal(r.code, 0, r.stderr);
    const after = JSON.parse(project.read('package.json')) as { type: string; scripts: Record<string, string> };
    assert.equal(after.type, 'module');
    assert.equal(after.scripts.test, 'tsc --noEmit');
    assert.match(r.stdout, /"type": "module" \(was "commonjs"/);
  });

  test('a file it would write exists: exit 2 naming it, nothing written', () => {
    const project = new TestProject({ 'README.md': '# mine\n', '.gitignore': 'x\n' });
    const before = project.read('package.json');
    const r = project.cli(['init']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /pipeline init would overwrite \.gitignore, README\.md: nothing was written/);
    assert.equal(project.read('package.json'), before);
    assert.equal(project.read('README.md'), '# mine\n');
    assert.deepEqual(readdirSync(project.dir).sort(), ['.gitignore', 'README.md', 'package.json']);
  });

  test('no package.json: exit 2, saying to make one and install the package first', () => {
    const project = new TestProject();
    rmSync(project.path('package.json'));
    const r = project.cli(['init']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /no package\.json in .*\n.*npm init -y && npm install lth-pipeline/);
    assert.deepEqual(readdirSync(project.dir), []);
  });
});
