// `pipeline diff`: params and metrics between two lock files, and between two git revisions of one.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { diffLocks, diffToMarkdown } from '../../src/report/diff.js';
import { serializeLock, type LockDoc } from '../../src/store/index.js';
import { TestProject } from '../helpers/project.js';

function lock(lr: number, acc: number, extra = false): LockDoc {
  const stage = (params: Record<string, number | string>, metrics: Record<string, number>) => ({ stage: 'retrain', key: createHash('sha256').update(JSON.stringify(params)).digest('hex'), code: 'c1', params, inputs: {}, outputs: {}, metrics });
  return {
    schema: 1,
    pipelines: {
      demo: {
        file: 'pipeline.ts',
        params: { profile: 'smoke' },
        stages: {
          'L1/retrain': stage({ lr, model: 'lenet300100' }, { testAccuracy: acc, density: 0.5 }),
          'L2/retrain': stage({ lr: 0.1, model: 'lenet300100' }, { testAccuracy: 0.9, density: 0.25 }),
          ...(extra ? { 'L3/retrain': stage({ lr: 0.1, model: 'lenet300100' }, { testAccuracy: 0.8, density: 0.125 }) } : {}),
        },
      },
    },
  };
}

describe('pipeline diff', () => {
  const project = new TestProject();
  after(() => project.remove());

  test('params and metrics that changed, stages added; equal stages left out', () => {
    const d = diffLocks(lock(0.1, 0.95), lock(0.2, 0.97, true));
    const stages = d[0]!.stages;
    assert.deepEqual(stages.map((s) => [s.id, s.status]), [['L1/retrain', 'changed'], ['L2/retrain', 'same'], ['L3/retrain', 'added']]);
    assert.deepEqual(stages[0]!.params, [{ path: 'lr', old: 0.1, new: 0.2 }]);
    assert.deepEqual(stages[0]!.metrics, [{ path: 'testAccuracy', old: 0.95, new: 0.97 }]);
    assert.equal(
      diffToMarkdown(d),
      [
        '| pipeline | stage instance | change | name | old | new | delta |',
        '| :--- | :--- | :--- | :--- | ---: | ---: | ---: |',
        '| demo | L1/retrain | param | lr | 0.1 | 0.2 | +0.1 |',
        '| demo | L1/retrain | metric | testAccuracy | 0.95 | 0.97 | +0.02 |',
        '| demo | L3/retrain | added | | | | |',
        '',
      ].join('\n'),
    );
  });

  test('two lock files, and two git revisions of one, through the CLI', () => {
    project.write('a.lock', serializeLock(lock(0.1, 0.95)));
    project.write('b.lock', serializeLock(lock(0.2, 0.97)));
    const files = project.cli(['diff', 'a.lock', 'b.lock']);
    assert.equal(files.code, 0, files.stderr);
    assert.match(files.stdout, /~ L1\/retrain \(retrain\)\n\s+param lr: 0\.1 -> 0\.2\n\s+metric testAccuracy: 0\.95 -> 0\.97 \(\+0\.02\)/);
    assert.doesNotMatch(files.stdout, /L2\/retrain/);

    const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd: project.dir, encoding: 'utf8' });
    git('init', '-q');
    project.write('dvc-like.lock', serializeLock(lock(0.1, 0.95)));
    git('add', 'dvc-like.lock');
    git('commit', '-q', '-m', 'first');
    project.write('dvc-like.lock', serializeLock(lock(0.3, 0.91)));
    git('commit', '-q', '-am', 'second');
    const revs = project.cli(['diff', 'HEAD~1', 'HEAD', '--json']);
    assert.equal(revs.code, 0, revs.stderr);
    const json = JSON.parse(revs.stdout) as { a: string; pipelines: Array<{ stages: Array<{ id: string; params: unknown[] }> }> };
    assert.equal(json.a, 'HEAD~1:./dvc-like.lock');
    assert.deepEqual(json.pipelines[0]!.stages.map((s) => s.id), ['L1/retrain']);
    assert.deepEqual(json.pipelines[0]!.stages[0]!.params, [{ path: 'lr', old: 0.1, new: 0.3 }]);
    const none = project.cli(['diff']);
    assert.match(none.stdout, /no differences/);
    const bad = project.cli(['diff', 'no-such-rev']);
    assert.equal(bad.code, 2);
  });
});
