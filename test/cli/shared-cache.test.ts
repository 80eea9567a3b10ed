// Issue #21: a team's cache on a cluster's file system. In a setgid cache folder what the engine
// creates is group-writable; a cache this user may not write is exit 2 naming the path and its group.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CLI, TestProject } from '../helpers/project.js';
import { TOY_HELPERS, toyPipeline } from '../helpers/toy-pipeline.js';

const ROOT = process.getuid?.() === 0;
const RUNUSER = spawnSync('runuser', ['--help']).status === 0;

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? [join(dir, e.name), ...files(join(dir, e.name))] : [join(dir, e.name)]));
}

describe('a cache shared by a group', () => {
  const p = new TestProject({ 'toy.ts': toyPipeline(), 'helpers.ts': TOY_HELPERS });
  after(() => p.remove());

  test('in a setgid cache folder, everything the run creates is group-writable', () => {
    mkdirSync(p.path('cache'), { recursive: true });
    chmodSync(p.path('cache'), 0o2775);
    // A user's usual umask (022) would make the files group-read-only.
    const r = spawnSync('sh', ['-c', `umask 022 && exec "${process.execPath}" "${CLI}" run toy.ts --no-typecheck`], { cwd: p.dir, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const made = files(p.path('cache')).filter((f) => !f.includes('/objects/') || statSync(f).isDirectory());
    assert.ok(made.length > 5);
    for (const f of made) assert.ok((statSync(f).mode & 0o020) !== 0, `${f} is not group-writable (${(statSync(f).mode & 0o777).toString(8)})`);
  });

  test('a cache this user may not write: exit 2 naming the path, its owner and group, and what to do', { skip: !(ROOT && RUNUSER) && 'needs root and runuser (to run as nobody)' }, () => {
    const q = new TestProject({ 'toy.ts': toyPipeline(), 'helpers.ts': TOY_HELPERS });
    try {
      chmodSync(q.dir, 0o755);
      mkdirSync(q.path('cache'));
      chmodSync(q.path('cache'), 0o755);
      const r = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, CLI, 'run', 'toy.ts', '--no-typecheck', '--lock', '/tmp/lth-nobody.lock'], { cwd: q.dir, encoding: 'utf8' });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`permission denied for nobody; its folder ${q.path('cache')} \\(owner uid 0, group root, mode 755\\)`));
      assert.match(r.stderr, /chmod g\+s/);
    } finally {
      q.remove();
    }
  });
});
