// A hostile (or damaged) remote store (issue #11): records and objects planted by hand in a shared
// directory remote. Each is refused with one warning, the stage it concerns is computed locally,
// the run succeeds (exit 0) with the same results as an honest remote gives, nothing is read or
// written outside the cache, nothing local is deleted, and the run's push replaces the bad copy.
import assert from 'node:assert/strict';
import { chmodSync, cpSync, existsSync, lstatSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseLock, type LockStage } from '../../src/store/index.js';
import { TestProject } from '../helpers/project.js';
import { TOY_HELPERS, toyPipeline } from '../helpers/toy-pipeline.js';

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

describe('a hostile remote store: bad entries are refused, computed locally, and replaced', () => {
  const project = new TestProject({ 'pipeline.ts': toyPipeline(), 'helpers.ts': TOY_HELPERS });
  let stages: Record<string, LockStage> = {};
  let honestLock = '';
  let n = 0;

  before(() => {
    const r = project.cli(['run', 'pipeline.ts', '--remote', 'remote']);
    assert.equal(r.code, 0, r.stderr);
    honestLock = project.read('dvc-like.lock');
    stages = parseLock(honestLock, 'dvc-like.lock').pipelines.toy!.stages;
  });
  after(() => project.remove());

  /** A copy of the honest remote to plant things in, and a teammate's empty cache and lock file. */
  const teammate = () => {
    const i = ++n;
    const remote = project.path(`remote-${i}`);
    cpSync(project.path('remote'), remote, { recursive: true });
    const runPath = (key: string) => join(remote, 'runs', key.slice(0, 2), `${key}.json`);
    const objectPath = (digest: string) => join(remote, 'objects', digest.slice(0, 2), digest.slice(2));
    return {
      remote,
      cache: project.path(`cache-${i}`),
      lock: `teammate-${i}.lock`,
      runPath,
      objectPath,
      record: (id: string) => JSON.parse(readFileSync(runPath(stages[id]!.key), 'utf8')) as Record<string, unknown> & { outputs: Record<string, { digest: string; size: number }>; metrics: Record<string, unknown> },
      plantRecord: (id: string, record: unknown) => writeFileSync(runPath(stages[id]!.key), JSON.stringify(record)),
      run(): { code: number; stderr: string; executed: string[] } {
        project.clearExecutions();
        const r = project.cli(['run', 'pipeline.ts', '--no-typecheck', '--remote', remote, '--cache', this.cache, '--lock', this.lock]);
        return { code: r.code, stderr: r.stderr, executed: project.executions().sort() };
      },
    };
  };

  /** The run's lock file is the honest one: the bad entry did not get into it. */
  const assertHonestResults = (t: ReturnType<typeof teammate>): void => {
    assert.equal(project.read(t.lock), honestLock);
  };

  const warnings = (stderr: string): string[] => stderr.split('\n').filter((l) => /warn/i.test(l));

  /** No folder named `name` appears beside any folder from the cache up to the filesystem root. */
  const assertNotOutside = (cache: string, name: string): void => {
    for (let dir = cache; ; dir = dirname(dir)) {
      assert.equal(existsSync(join(dir, name)), false, `${join(dir, name)} was written`);
      if (dirname(dir) === dir) break;
    }
  };

  test('a record whose key is ../../x: refused, not stored outside the cache; the stage is computed here', () => {
    const t = teammate();
    const escape = `escaped-${process.pid}`;
    t.plantRecord('e', { ...t.record('e'), key: `../../../../${escape}/x` });
    const r = t.run();
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.executed, ['e']);
    assert.equal(warnings(r.stderr).length, 1, r.stderr);
    assert.match(warnings(r.stderr)[0]!, /run record of .* ignored .*key: not a sha256/);
    assertNotOutside(t.cache, escape);
    assertHonestResults(t);
    // The run's push replaced the planted record with the real one.
    assert.equal(t.record('e').key, stages.e!.key);
  });

  test('an output digest of ../..: refused; the file it points to is neither read nor touched', () => {
    const t = teammate();
    // A file outside the cache with bytes that would change every result downstream if read.
    const victim = project.path('victim');
    writeFileSync(victim, '666');
    const rec = t.record('a');
    t.plantRecord('a', { ...rec, outputs: { ...rec.outputs, x: { digest: '../../../victim', size: 3 } } });
    const r = t.run();
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.executed, ['a'], 'only the stage of the bad record is computed: its output has the honest bytes');
    assert.equal(warnings(r.stderr).length, 1, r.stderr);
    assert.match(warnings(r.stderr)[0]!, /outputs\.x\.digest: not a sha256/);
    assert.equal(readFileSync(victim, 'utf8'), '666');
    assertHonestResults(t);
  });

  test('a symbolically linked object is not followed (even to the right bytes); a push replaces the link', () => {
    const t = teammate();
    const z = stages.c!.outputs.z!.digest;
    const outside = project.path('outside-z');
    cpSync(t.objectPath(z), outside);
    chmodSync(outside, 0o644);
    rmSync(t.objectPath(z));
    symlinkSync(outside, t.objectPath(z));
    const r = t.run();
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.executed, ['c']);
    assert.equal(warnings(r.stderr).length, 1, r.stderr);
    assert.match(warnings(r.stderr)[0]!, /object .* ignored .*symbolic link/);
    assertHonestResults(t);
    assert.ok(lstatSync(t.objectPath(z)).isFile(), 'the link was replaced by the object');
    assert.equal(sha256(readFileSync(t.objectPath(z))), z);
    assert.ok(lstatSync(outside).isFile(), 'the link target is untouched');
  });

  test('forged records: another stage\'s record under this key, and a record pointing at another valid object', () => {
    const t = teammate();
    // c's key, holding b's record (the key field rewritten to pass as c's).
    t.plantRecord('c', { ...t.record('b'), key: stages.c!.key });
    // e's record pointing its output at d's object, with matching size, and metrics to go with it.
    const w = stages.d!.outputs.w!;
    const e = t.record('e');
    t.plantRecord('e', { ...e, outputs: { ...e.outputs, total: w }, metrics: { total: 999 } });
    const r = t.run();
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.executed, ['c', 'e']);
    const lines = warnings(r.stderr);
    assert.equal(lines.length, 2, r.stderr);
    assert.ok(lines.some((l) => /result of stage 'b', not of 'c'/.test(l)), r.stderr);
    assert.ok(lines.some((l) => /metrics are not the content of its 'metrics' object/.test(l)), r.stderr);
    assertHonestResults(t);
    const rows = JSON.parse(project.cli(['show', 'pipeline.ts', '--json', '--cache', t.cache, '--lock', t.lock]).stdout) as Array<{ id: string; metrics: { total?: number } }>;
    assert.equal(rows.find((x) => x.id === 'e')?.metrics.total, 58);
    // The run's pushes replaced both forged records with the real ones.
    assert.equal(t.record('c').stage, 'c');
    assert.deepEqual(t.record('e').metrics, { total: 58 });
  });

  test('a corrupt object whose bytes are another valid local object: refused, and that local object is kept', () => {
    const t = teammate();
    // e's output object in the remote now holds a's output bytes ("10"), which the teammate pulls first.
    const total = stages.e!.outputs.total!.digest;
    const x = stages.a!.outputs.x!;
    chmodSync(t.objectPath(total), 0o644);
    writeFileSync(t.objectPath(total), readFileSync(t.objectPath(x.digest)));
    const r = t.run();
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.executed, ['e']);
    assert.equal(warnings(r.stderr).length, 1, r.stderr);
    assert.match(warnings(r.stderr)[0]!, new RegExp(`object ${total.slice(0, 12)} ignored .*bytes hash to ${x.digest.slice(0, 12)}`));
    assert.ok(existsSync(join(t.cache, 'objects', x.digest.slice(0, 2), x.digest.slice(2))), 'the good local object is still there');
    const verify = project.cli(['verify', '--cache', t.cache]);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    assertHonestResults(t);
    assert.equal(sha256(readFileSync(t.objectPath(total))), total, 'the push replaced the corrupt remote copy');
  });

  test('pull reports the same bad entries as warnings, pulls the rest, and deletes nothing', () => {
    const t = teammate();
    const total = stages.e!.outputs.total!.digest;
    chmodSync(t.objectPath(total), 0o644);
    writeFileSync(t.objectPath(total), 'not the bytes');
    writeFileSync(project.path(t.lock), honestLock);
    const r = project.cli(['pull', '--remote', t.remote, '--cache', t.cache, '--lock', t.lock]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(warnings(r.stderr).length, 1, r.stderr);
    assert.match(r.stdout, /pulled 4 stage result\(s\)/);
    assert.match(r.stdout, /1 not available from the remote/);
    const status = project.cli(['status', 'pipeline.ts', '--json', '--cache', t.cache, '--lock', t.lock]);
    assert.equal(status.code, 0, status.stderr);
  });
});
