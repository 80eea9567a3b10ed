// What dead processes leave in a cache, swept by owner: on this host by pid, on other hosts (a
// cache shared over NFS) only once untouched for the staleness limit. gc also removes stale
// leases and stray temp files; what a live process owns stays.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { emptyLock, Lease, Store, writeFileAtomic } from '../../src/store/index.js';
import { collectGarbage } from '../../src/store/maintenance.js';
import { hostTag, ownerOfName } from '../../src/store/owner.js';

/** A pid that was alive a moment ago and is not now. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' }).stdout.trim());
}

function age(path: string, ms: number): void {
  const t = new Date(Date.now() - ms);
  utimesSync(path, t, t);
}

describe('sweeping what dead processes left', () => {
  const root = mkdtempSync(join(tmpdir(), 'sweep-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const here = hostTag();
  const dead = deadPid();

  test('a working folder carries its host and pid, and stays while its owner lives', async () => {
    const store = new Store(join(root, 'own'));
    const work = await store.makeWorkDir('train-dense/k:0');
    assert.deepEqual(ownerOfName(work.path), { host: here, pid: process.pid });
    assert.deepEqual(await store.sweepDeadWorkDirs(), []);
    assert.ok(existsSync(work.path));
    await work.remove();
    assert.equal(existsSync(work.path), false);
  });

  test('working folders: this host by pid at once; another host only once untouched for the staleness limit', async () => {
    const store = new Store(join(root, 'shared'));
    const tmp = store.layout.tmpDir;
    const dir = (name: string, oldMs = 0): string => {
      mkdirSync(join(tmp, name), { recursive: true });
      writeFileSync(join(tmp, name, 'partial'), 'x');
      if (oldMs) age(join(tmp, name), oldMs);
      return name;
    };
    const deadHere = dir(`a@${here}@${dead}-AbC123`);
    const liveHere = dir(`b@${here}@${process.pid}-AbC123`, 3_600_000); // old, but its owner lives
    // Another host's pid means nothing here: its running folder (same pid as a dead one of ours) stays.
    const otherRunning = dir(`c@other-host.lab@${dead}-AbC123`);
    const otherAbandoned = dir(`d@other-host.lab@${process.pid}-AbC123`, 120_000);
    const legacyOld = dir(`e-${dead}-AbC123`, 120_000);
    const legacyFresh = dir(`f-${dead}-AbC123`);
    const removed = await store.sweepDeadWorkDirs({ staleMs: 60_000 });
    assert.deepEqual(removed.sort(), [deadHere, otherAbandoned, legacyOld].map((n) => join('tmp', n)).sort());
    assert.deepEqual(readdirSync(tmp).sort(), [liveHere, otherRunning, legacyFresh].sort());
  });

  test('gc removes stale leases and stray temp files, keeps live ones, and --dry-run removes nothing', async () => {
    const store = new Store(join(root, 'gc'));
    const meta = join(store.root, 'meta');
    mkdirSync(meta, { recursive: true });
    await writeFileAtomic(join(meta, 'fingerprints.json'), '{}');
    const strayHere = `.fingerprints.json@${here}@${dead}.0badc0de.tmp`;
    const liveHere = `.file-digests.json@${here}@${process.pid}.0badc0de.tmp`;
    const strayOther = `.lock-parsed.json@other-host@7.0badc0de.tmp`;
    const freshOther = `.typecheck.json@other-host@7.0badc0de.tmp`;
    for (const n of [strayHere, liveHere, strayOther, freshOther]) writeFileSync(join(meta, n), 'partial');
    age(join(meta, strayOther), 120_000);
    const runTmp = join(store.layout.runsDir, 'ab', `.${'ab'.padEnd(64, '0')}.json@${here}@${dead}.12345678.tmp`);
    mkdirSync(join(store.layout.runsDir, 'ab'), { recursive: true });
    writeFileSync(runTmp, '{');

    const leases = store.layout.leasesDir;
    mkdirSync(leases, { recursive: true });
    const owner = (host: string, pid: number) => JSON.stringify({ host, pid, since: new Date().toISOString(), token: 'feedface' });
    writeFileSync(join(leases, 'dead-here.lease'), owner(hostname(), dead));
    writeFileSync(join(leases, 'silent-other.lease'), owner('other-host', 7));
    age(join(leases, 'silent-other.lease'), 120_000);
    writeFileSync(join(leases, 'live-other.lease'), owner('other-host', 7));
    writeFileSync(join(leases, 'k.lease.stale.0123abcd'), owner(hostname(), dead));
    const live = (await Lease.tryAcquire(join(leases, 'live-here.lease')))!;

    const dry = await collectGarbage(store, [emptyLock()], { keepLast: 5, dryRun: true });
    assert.equal(dry.removedLeases.length, 3);
    assert.equal(dry.removedTmp.length, 3);
    assert.ok(existsSync(join(leases, 'dead-here.lease')) && existsSync(join(meta, strayHere)), 'a dry run removes nothing');

    const report = await collectGarbage(store, [emptyLock()], { keepLast: 5, dryRun: false });
    assert.deepEqual(report.removedLeases.sort(), ['dead-here.lease', 'k.lease.stale.0123abcd', 'silent-other.lease'].map((n) => join('leases', n)).sort());
    assert.deepEqual(readdirSync(leases).sort(), ['live-here.lease', 'live-other.lease']);
    assert.deepEqual(report.removedTmp.sort(), [join('meta', strayHere), join('meta', strayOther), join('runs', 'ab', runTmp.split('/').pop()!)].sort());
    assert.deepEqual(readdirSync(meta).sort(), [freshOther, liveHere, 'fingerprints.json'].sort());
    await live.release();
  });
});
