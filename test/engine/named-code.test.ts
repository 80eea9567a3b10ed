// Issue #12: code registered under a name (defineModel) enters the code fingerprint of the stage
// instances whose params name it - the registering statement and what it references, also when a
// project helper makes the call - and nothing else's; the runner is told which modules register it.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, test } from 'node:test';
import { z } from 'zod';
import { defineStage, Fingerprinter } from '../../src/engine/index.js';
import { forgetNamedCode, namedCodeModules, namedCodeOf } from '../../src/engine/definition/named-code.js';
import { validateParams } from '../../src/engine/definition/params.js';
import { modelNameSchema } from '../../src/lth/index.js';
import { unregisterModel } from '../../src/nn/models/index.js';
import { FileDigestCache } from '../../src/store/index.js';

const LTH = join(import.meta.dirname, '..', '..', 'src', 'lth', 'index.ts');
const tmp = mkdtempSync(join(tmpdir(), 'lth-named-code-'));
writeFileSync(join(tmp, 'package.json'), '{ "type": "module" }\n');
after(() => rmSync(tmp, { recursive: true, force: true }));

const stage = defineStage({
  name: 'named-code-probe',
  params: z.object({ model: modelNameSchema, seed: z.number().default(0) }),
  isolation: 'inline',
  run(ctx) {
    return { model: ctx.params.model };
  },
});

const MODELS = `import { defineModel } from ${JSON.stringify(LTH)};
// A project helper that defines an MLP of a given width.
export function mlp(name: string, width: number) {
  return defineModel({ name, inputShape: [4], numClasses: 2, build: (l) => [l.dense(width), l.relu(), l.dense(2)] });
}
`;
const DEFS = `import { mlp } from './models.ts';
mlp('nc-a', 8);
mlp('nc-b', 8);
export const unrelated = 1;
`;

let version = 0;
/** Imports the two modules (with edits) from a folder of their own; the fingerprints of 'nc-a', 'nc-b' and of no model. */
async function fingerprints(edit: (files: { models: string; defs: string }) => { models: string; defs: string } = (f) => f): Promise<{ a: string; b: string; none: string; modules: string[] }> {
  for (const name of ['nc-a', 'nc-b']) {
    unregisterModel(name);
    forgetNamedCode('model', name);
  }
  const dir = join(tmp, `v${++version}`);
  mkdirSync(dir);
  const files = edit({ models: MODELS, defs: DEFS });
  writeFileSync(join(dir, 'models.ts'), files.models);
  writeFileSync(join(dir, 'defs.ts'), files.defs);
  await import(pathToFileURL(join(dir, 'defs.ts')).href);
  const fp = new Fingerprinter(join(dir, 'fingerprints.json'), new FileDigestCache(join(dir, 'digests.json')));
  const node = (model: string) => ({ def: stage, params: validateParams(stage.schema, { model }, 'probe', undefined) });
  const modules = namedCodeModules(namedCodeOf(stage.schema, node('nc-a').params.effective)).map((f) => f.slice(dir.length + 1));
  return { a: await fp.ofNode(node('nc-a')), b: await fp.ofNode(node('nc-b')), none: await fp.ofNode(node('resnet20')), modules };
}

test('a registered model enters the fingerprint of the instances that name it, helper and call site both', async () => {
  const base = await fingerprints();
  const plain = await new Fingerprinter(join(tmp, 'plain.json'), new FileDigestCache(join(tmp, 'plain-digests.json'))).fingerprint(stage);
  assert.equal(base.none, plain, 'an instance that names no registered code has its definition\'s fingerprint');
  assert.notEqual(base.a, base.none);
  assert.notEqual(base.a, base.b, 'each model its own code');
  assert.deepEqual(base.modules.sort(), ['defs.ts', 'models.ts'], 'the runner imports the registering modules');

  const same = await fingerprints((f) => ({ ...f, defs: f.defs.replace('export const unrelated = 1;', 'export const unrelated = 2; // another statement') }));
  assert.deepEqual([same.a, same.b], [base.a, base.b], 'another statement of the file changes nothing');

  const wider = await fingerprints((f) => ({ ...f, defs: f.defs.replace("mlp('nc-a', 8)", "mlp('nc-a', 9)") }));
  assert.notEqual(wider.a, base.a, 'the call that made nc-a changed');
  assert.equal(wider.b, base.b, 'nc-b is made by a call of its own');

  const helper = await fingerprints((f) => ({ ...f, models: f.models.replace('l.relu(), ', '') }));
  assert.notEqual(helper.a, base.a);
  assert.notEqual(helper.b, base.b);
  assert.equal(helper.none, base.none);

  const comment = await fingerprints((f) => ({ ...f, models: f.models.replace('// A project helper', '/* reworded */ // A helper') }));
  assert.deepEqual([comment.a, comment.b], [base.a, base.b], 'comments do not count');
});
