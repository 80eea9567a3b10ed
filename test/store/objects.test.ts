import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { isPipelineError } from '../../src/errors.js';
import { Store, emptyLock } from '../../src/store/index.js';
import { collectGarbage, verifyObjects } from '../../src/store/maintenance.js';

const SHA256_OF_HELLO = '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824';

describe('ObjectStore', () => {
  const dir = mkdtempSync(join(tmpdir(), 'objects-'));
  const store = new Store(join(dir, 'cache'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('ingest names an object by the sha256 of its bytes and makes it read-only', async () => {
    const f = join(dir, 'hello.txt');
    writeFileSync(f, 'hello');
    const info = await store.objects.ingest(f);
    assert.deepEqual(info, { digest: SHA256_OF_HELLO, size: 5 });
    assert.equal(statSync(store.objects.path(SHA256_OF_HELLO)).mode & 0o777, 0o444);
    // Ingesting the same bytes again keeps one copy.
    writeFileSync(f, 'hello');
    await store.objects.ingest(f);
    assert.deepEqual(await store.objects.list(), [SHA256_OF_HELLO]);
  });

  test('a corrupt object is detected by a process that did not write it, and verify quarantines it', async () => {
    const other = new Store(store.root); // a fresh process's view: nothing trusted yet
    const p = other.objects.path(SHA256_OF_HELLO);
    chmodSync(p, 0o644);
    writeFileSync(p, 'jello');
    await assert.rejects(other.objects.verified(SHA256_OF_HELLO), (e) => isPipelineError(e, 'STORE_CORRUPT'));
    const report = await verifyObjects(new Store(store.root));
    assert.equal(report.checked, 1);
    assert.equal(report.corrupt.length, 1);
    assert.deepEqual(await store.objects.list(), []);
    assert.equal(readdirSync(store.layout.quarantineDir).length, 1);
  });

  test('check: intact, missing, or corrupt and quarantined; ingesting good bytes again replaces a corrupt copy', async () => {
    const f = join(dir, 'hello2.txt');
    writeFileSync(f, 'hello');
    await store.objects.ingest(f);
    const other = new Store(store.root); // a fresh process's view: nothing trusted yet
    assert.deepEqual(await other.objects.check(SHA256_OF_HELLO), { state: 'intact', path: other.objects.path(SHA256_OF_HELLO) });
    const fresh = new Store(store.root);
    chmodSync(fresh.objects.path(SHA256_OF_HELLO), 0o644);
    writeFileSync(fresh.objects.path(SHA256_OF_HELLO), 'jello');
    // A recomputation's good bytes take the corrupt copy's place (which goes to quarantine).
    writeFileSync(f, 'hello');
    await fresh.objects.ingest(f);
    assert.equal(readdirSync(store.layout.quarantineDir).length, 2);
    assert.equal((await new Store(store.root).objects.check(SHA256_OF_HELLO)).state, 'intact');
    const third = new Store(store.root);
    chmodSync(third.objects.path(SHA256_OF_HELLO), 0o644);
    writeFileSync(third.objects.path(SHA256_OF_HELLO), 'jello');
    await assert.rejects(third.objects.verifiedResult(SHA256_OF_HELLO, "output 'x' of stage 's'", 'pipeline run p.ts'), (e) => {
      assert.ok(isPipelineError(e, 'STORE_CORRUPT'));
      assert.match(e.message, /^object 2cf24dba5fb0 \(output 'x' of stage 's'\) was corrupt \(its bytes hash to [0-9a-f]{12}\) and is now in quarantine$/);
      assert.equal(e.hint, 'rerun the stage that made it: pipeline run p.ts');
      return true;
    });
    assert.deepEqual(await third.objects.check(SHA256_OF_HELLO), { state: 'missing' });
    assert.equal(await third.objects.quarantine(SHA256_OF_HELLO), undefined, 'already gone: nothing to move');
  });

  test('check never quarantines a good copy that another run put in place after the hash', async () => {
    const good = new Store(store.root);
    const f = join(dir, 'hello3.txt');
    writeFileSync(f, 'hello');
    await good.objects.ingest(f);
    const p = good.objects.path(SHA256_OF_HELLO);
    chmodSync(p, 0o644);
    writeFileSync(p, 'jello');
    // This process hashes the corrupt bytes; another one heals the object before the move.
    const racing = new Store(store.root);
    const quarantine = racing.objects.quarantine.bind(racing.objects);
    racing.objects.quarantine = async (digest: string) => {
      writeFileSync(p, 'hello');
      return quarantine(digest);
    };
    const before_ = readdirSync(store.layout.quarantineDir).length;
    assert.deepEqual(await racing.objects.check(SHA256_OF_HELLO), { state: 'intact', path: p });
    assert.equal(readdirSync(store.layout.quarantineDir).length, before_, 'the good copy went back');
    assert.equal((await new Store(store.root).objects.check(SHA256_OF_HELLO)).state, 'intact');
    await good.objects.remove(SHA256_OF_HELLO); // (the next test counts the objects)
  });

  test('gc keeps what the lock file and the newest runs reference, and removes the rest', async () => {
    const mk = async (text: string) => {
      const f = join(dir, `${text}.txt`);
      writeFileSync(f, text);
      return store.objects.ingest(f);
    };
    const put = async (key: string, id: string, obj: { digest: string; size: number }) =>
      store.runs.put({ key, stage: 's', id, codeFingerprint: 'c', params: {}, inputs: {}, outputs: { out: obj }, metrics: {}, startedAt: '', durationMs: 0, host: 'h', provenance: {} });
    const old = await mk('old');
    const newer = await mk('newer');
    const locked = await mk('locked');
    const orphan = await mk('orphan');
    await put('e'.repeat(64), 'x', old);
    await new Promise((r) => setTimeout(r, 20));
    await put('d'.repeat(64), 'x', newer);
    await put('c'.repeat(64), 'y', locked);
    const lock = emptyLock();
    lock.pipelines.p = { file: 'p.ts', params: {}, stages: { y: { stage: 's', key: 'c'.repeat(64), code: 'c', params: {}, inputs: {}, outputs: { out: locked } } } };
    const dry = await collectGarbage(store, [lock], { keepLast: 1, dryRun: true });
    assert.deepEqual(dry.removedObjects.map((o) => o.digest).sort(), [old.digest, orphan.digest].sort());
    assert.equal((await store.objects.list()).length, 4, 'dry run removes nothing');
    await collectGarbage(store, [lock], { keepLast: 1, dryRun: false });
    assert.deepEqual((await store.objects.list()).sort(), [newer.digest, locked.digest].sort());
    assert.equal(await store.runs.get('e'.repeat(64)), undefined);
  });
});
