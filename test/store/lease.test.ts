import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Lease } from '../../src/store/index.js';

describe('Lease', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lease-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('only one holder at a time; released leases can be taken again', async () => {
    const path = join(dir, 'a.lease');
    const first = await Lease.tryAcquire(path);
    assert.ok(first);
    assert.equal(await Lease.tryAcquire(path), undefined);
    await first.release();
    const second = await Lease.tryAcquire(path);
    assert.ok(second);
    await second.release();
  });

  test('a lease whose owner process died on this host is taken over at once', async () => {
    const path = join(dir, 'dead.lease');
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    const pid = Number(dead.stdout.trim());
    writeFileSync(path, JSON.stringify({ host: (await import('node:os')).hostname(), pid, since: new Date().toISOString(), token: 'x' }));
    const lease = await Lease.tryAcquire(path);
    assert.ok(lease, 'the dead owner\'s lease was taken over');
    assert.notEqual(JSON.parse(readFileSync(path, 'utf8')).pid, pid);
    await lease.release();
  });

  test('a lease of another host goes stale only when its heartbeat stops', async () => {
    const path = join(dir, 'remote.lease');
    writeFileSync(path, JSON.stringify({ host: 'some-other-host', pid: 1, since: new Date().toISOString(), token: 'y' }));
    assert.equal(await Lease.tryAcquire(path, { staleMs: 60_000 }), undefined, 'fresh remote lease is respected');
    const old = new Date(Date.now() - 120_000);
    utimesSync(path, old, old);
    const lease = await Lease.tryAcquire(path, { staleMs: 60_000 });
    assert.ok(lease, 'stale remote lease is taken over');
    await lease.release();
  });

  test('acquire waits until the holder releases', async () => {
    const path = join(dir, 'wait.lease');
    const holder = (await Lease.tryAcquire(path))!;
    let waitedFor = '';
    setTimeout(() => void holder.release(), 150);
    const t0 = Date.now();
    const lease = await Lease.acquire(path, { pollMs: 20, onWait: (o) => (waitedFor = o) });
    assert.ok(Date.now() - t0 >= 100);
    assert.match(waitedFor, new RegExp(`pid ${process.pid}`));
    await lease.release();
  });
});
