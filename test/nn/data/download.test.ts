// Downloads from a local HTTP server (127.0.0.1, port 0): verified, atomic, resumed with Range.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { isPipelineError } from '../../../src/errors.js';
import { DownloadFailed, downloadFile } from '../../../src/nn/data/download.js';
import { tempDir } from './helpers.js';

const content = Buffer.from(Array.from({ length: 256 * 1024 }, (_, i) => (i * 131 + (i >> 9)) & 0xff));
const sha256 = createHash('sha256').update(content).digest('hex');
const md5 = createHash('md5').update(content).digest('hex');

type Handler = (req: IncomingMessage, res: ServerResponse, nth: number) => void;
const requests: { range: string | undefined }[] = [];
let handler: Handler = () => undefined;
const server = createServer((req, res) => {
  requests.push({ range: req.headers.range });
  handler(req, res, requests.length - 1);
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/file.bin`;
after(() => server.close());

/** Serves `content`, honouring `Range: bytes=N-` with 206. */
function serve(req: IncomingMessage, res: ServerResponse): number {
  const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  const start = m ? Number(m[1]) : 0;
  const body = content.subarray(start);
  res.writeHead(m ? 206 : 200, {
    'content-length': String(body.length),
    ...(m ? { 'content-range': `bytes ${start}-${content.length - 1}/${content.length}` } : {}),
  });
  res.end(body);
  return body.length;
}

const quiet = { log: () => undefined, progress: false, retryDelayMs: 10 };

function reset(h: Handler) {
  requests.length = 0;
  handler = h;
}

test('a download with the right checksum appears under its final name, nothing else left', async () => {
  reset((req, res) => serve(req, res));
  const dir = tempDir();
  const dest = join(dir, 'file.bin');
  await downloadFile(url, dest, { checksum: { algorithm: 'sha256', digest: sha256 }, size: content.length, ...quiet });
  assert.deepEqual(readFileSync(dest), content);
  assert.deepEqual(readdirSync(dir).sort(), ['.lth-verified.json', 'file.bin']);
  // a second call finds the verified file and fetches nothing
  await downloadFile(url, dest, { checksum: { algorithm: 'sha256', digest: sha256 }, ...quiet });
  assert.equal(requests.length, 1);
  // md5 works as well
  const dest2 = join(dir, 'file2.bin');
  await downloadFile(url, dest2, { checksum: { algorithm: 'md5', digest: md5 }, ...quiet });
  assert.deepEqual(readFileSync(dest2), content);
});

test('a wrong checksum is rejected with DATASET_CORRUPT and leaves no final or partial file', async () => {
  reset((req, res) => serve(req, res));
  const dir = tempDir();
  const dest = join(dir, 'file.bin');
  const wrong = 'ab'.repeat(32);
  await assert.rejects(
    downloadFile(url, dest, { checksum: { algorithm: 'sha256', digest: wrong }, ...quiet }),
    (e: unknown) => isPipelineError(e, 'DATASET_CORRUPT') && e.message.includes(wrong) && e.where === dest,
  );
  assert.equal(existsSync(dest), false);
  assert.equal(existsSync(`${dest}.part`), false);
  assert.equal(existsSync(`${dest}.lock`), false);
});

test('a download cut off mid-way is resumed with a Range request', async () => {
  const half = 100_000;
  reset((req, res, nth) => {
    if (nth > 0) return void serve(req, res);
    res.writeHead(200, { 'content-length': String(content.length) });
    res.write(content.subarray(0, half), () => setTimeout(() => res.socket?.destroy(), 50));
  });
  const dest = join(tempDir(), 'file.bin');
  await downloadFile(url, dest, { checksum: { algorithm: 'sha256', digest: sha256 }, size: content.length, ...quiet });
  assert.deepEqual(readFileSync(dest), content);
  assert.equal(requests.length, 2);
  assert.equal(requests[0]!.range, undefined);
  const m = /^bytes=(\d+)-$/.exec(requests[1]!.range ?? '');
  assert.ok(m, `second request should resume with Range, got ${requests[1]!.range}`);
  assert.ok(Number(m[1]) > 0 && Number(m[1]) <= half);
  assert.equal(existsSync(`${dest}.part`), false);
});

test('a .part left by an earlier process is resumed from its size', async () => {
  let served = 0;
  reset((req, res) => {
    served += serve(req, res);
  });
  const dest = join(tempDir(), 'file.bin');
  writeFileSync(`${dest}.part`, content.subarray(0, 1000));
  await downloadFile(url, dest, { checksum: { algorithm: 'sha256', digest: sha256 }, size: content.length, ...quiet });
  assert.deepEqual(readFileSync(dest), content);
  assert.deepEqual(requests, [{ range: 'bytes=1000-' }]);
  assert.equal(served, content.length - 1000);
});

test('a stale .part that spoils the checksum is thrown away and the file fetched again', async () => {
  reset((req, res) => serve(req, res));
  const dest = join(tempDir(), 'file.bin');
  writeFileSync(`${dest}.part`, Buffer.alloc(1000, 7)); // not the start of the file
  await downloadFile(url, dest, { checksum: { algorithm: 'sha256', digest: sha256 }, ...quiet });
  assert.deepEqual(readFileSync(dest), content);
  assert.deepEqual(requests, [{ range: 'bytes=1000-' }, { range: undefined }]);
});

test('a server that fails leaves DATASET_MISSING naming the URL', async () => {
  reset((_req, res) => {
    res.writeHead(404);
    res.end();
  });
  const dest = join(tempDir(), 'file.bin');
  await assert.rejects(
    downloadFile(url, dest, { checksum: { algorithm: 'sha256', digest: sha256 }, ...quiet }),
    (e: unknown) => isPipelineError(e, 'DATASET_MISSING') && e.message.includes(url) && e.message.includes('404'),
  );
  assert.equal(existsSync(dest), false);
});

test('verification is cached by path, size and mtime', async () => {
  const { verifyFile } = await import('../../../src/nn/data/verify.js');
  const { utimesSync } = await import('node:fs');
  const dir = tempDir();
  const file = join(dir, 'f.bin');
  writeFileSync(file, content);
  const t = new Date(1_700_000_000_000); // whole milliseconds, so that utimes restores it exactly
  utimesSync(file, t, t);
  const sum = { algorithm: 'sha256' as const, digest: sha256 };
  await verifyFile(file, sum);
  assert.ok(JSON.parse(readFileSync(join(dir, '.lth-verified.json'), 'utf8')).files['f.bin']);
  // same size and mtime, other bytes: the cache answers (no hashing)
  const changed = Buffer.from(content);
  changed[0] = changed[0]! ^ 0xff;
  writeFileSync(file, changed);
  utimesSync(file, t, t);
  await verifyFile(file, sum);
  // a new mtime invalidates the entry and the mismatch is found
  utimesSync(file, t, new Date(t.getTime() + 5000));
  await assert.rejects(verifyFile(file, sum), (e: unknown) => isPipelineError(e, 'DATASET_CORRUPT') && e.where === file);
});

// Offline (nothing listens, or no name resolves): one attempt per URL, no retries, no "resuming"
// of a download that never started; the error says every URL failed to connect.
test('a connection that cannot be made stops at once, without retrying or "resuming"', async () => {
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const lines: string[] = [];
  const dest = join(tempDir(), 'file.bin');
  const urls = [`http://127.0.0.1:${port}/a.bin`, `http://127.0.0.1:${port}/b.bin`];
  await assert.rejects(downloadFile(urls, dest, { checksum: { algorithm: 'sha256', digest: sha256 }, ...quiet, retryDelayMs: 60_000, log: (l) => lines.push(l) }), (e: unknown) => {
    assert.ok(isPipelineError(e) && e.code === 'DATASET_MISSING');
    assert.match(e.message, /a\.bin: could not connect to 127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
    assert.ok(e.cause instanceof DownloadFailed && e.cause.offline, 'marked as offline');
    return true;
  });
  assert.deepEqual(lines, urls.map((u) => `downloading file.bin: ${u}`), 'one attempt per URL, nothing resumed');
});
