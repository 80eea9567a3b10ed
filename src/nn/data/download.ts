/**
 * Downloading a data file: into `<dest>.part`, resumed with an HTTP Range request after an
 * interruption (also across processes), checked against a checksum, and only then renamed to
 * `<dest>`. So `<dest>` exists only if it is complete and verified. A `<dest>.lock` file keeps two
 * processes from downloading the same file at once (the second waits, then uses the result).
 */
import { hostname } from 'node:os';
import { mkdir, open, readFile, rename, stat, unlink, utimes } from 'node:fs/promises';
import { dirname } from 'node:path';
import type cliProgress from 'cli-progress';
import { createRequire } from 'node:module';
import { PipelineError } from '../../errors.js';
import { type Checksum, hashFile, rememberVerified, verifyFile } from './verify.js';

export interface DownloadOptions {
  /** The file must have this checksum, else it is deleted and DATASET_CORRUPT is thrown. */
  checksum: Checksum;
  /** Expected size in bytes (for the progress bar; a longer `.part` is discarded). */
  size?: number;
  /** Attempts per URL after an interruption, each resuming where the last one stopped (default 3). */
  retries?: number;
  /** Show a progress bar on stderr (default: only when stderr is a TTY). */
  progress?: boolean;
  /** Short name for messages and the progress bar (default: the file name). */
  label?: string;
  /** Where messages go (default: stderr). */
  log?: (line: string) => void;
  /** Pause between retries in ms (default 500). */
  retryDelayMs?: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function sizeOf(file: string): Promise<number | undefined> {
  return (await stat(file).catch(() => undefined))?.size;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes `<dest>.lock`; waits while another live process holds it. Returns the release function. */
async function acquireLock(lock: string, log: (s: string) => void): Promise<() => Promise<void>> {
  const me = `${process.pid}@${hostname()}`;
  let told = false;
  for (;;) {
    try {
      const fh = await open(lock, 'wx');
      await fh.writeFile(me);
      await fh.close();
      return async () => {
        await unlink(lock).catch(() => undefined);
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const owner = await readFile(lock, 'utf8').catch(() => '');
    const [pidText, host] = owner.split('@');
    const pid = Number(pidText);
    const age = Date.now() - ((await stat(lock).catch(() => undefined))?.mtimeMs ?? 0);
    const stale = host === hostname() ? !(pid > 0 && isAlive(pid)) : age > 10 * 60_000;
    if (stale) {
      await unlink(lock).catch(() => undefined);
      continue;
    }
    if (!told) {
      log(`waiting for ${owner || 'another process'} to finish downloading (${lock})`);
      told = true;
    }
    await sleep(500);
  }
}

class Progress {
  private bar: cliProgress.SingleBar | undefined;
  constructor(enabled: boolean, label: string, total: number | undefined, start: number) {
    if (!enabled || !total) return;
    // Loaded when a download shows progress: planning imports this module and never downloads.
    const bars = createRequire(import.meta.url)('cli-progress') as typeof cliProgress;
    this.bar = new bars.SingleBar(
      {
        stream: process.stderr,
        format: `${label} [{bar}] {percentage}% {done}/{all} MB`,
        hideCursor: true,
        clearOnComplete: false,
      },
      bars.Presets.shades_classic,
    );
    this.bar.start(total, start, { done: (start / 1e6).toFixed(1), all: (total / 1e6).toFixed(1) });
  }
  update(value: number): void {
    this.bar?.update(value, { done: (value / 1e6).toFixed(1) });
  }
  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}

/**
 * The request never reached a server (no network, a name that does not resolve, a refused
 * connection): retrying or resuming cannot help, and offline machines would wait a minute for
 * nothing, so the download stops at once.
 */
/** Whether every URL failed to connect (the machine is offline, as far as it can tell). */
export class DownloadFailed extends Error {
  constructor(readonly offline: boolean) {
    super(offline ? 'no server could be reached' : 'the download failed');
  }
}

export class ConnectError extends Error {
  constructor(
    readonly url: string,
    cause: unknown,
  ) {
    const c = (cause as { cause?: { code?: string; message?: string } })?.cause;
    super(`could not connect to ${new URL(url).host} (${c?.code ?? c?.message ?? (cause as Error)?.message ?? String(cause)})`);
  }
}

class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    url: string,
  ) {
    super(`HTTP ${status} from ${url}`);
  }
}

/**
 * One request: appends to `part` from its current size (Range) or rewrites it (200). Resolves when
 * the body ended; rejects on an HTTP error or a broken connection, leaving what arrived in `part`.
 */
async function fetchInto(url: string, part: string, opts: DownloadOptions, label: string): Promise<void> {
  let offset = (await sizeOf(part)) ?? 0;
  if (opts.size !== undefined && offset > opts.size) {
    await unlink(part);
    offset = 0;
  }
  if (opts.size !== undefined && offset === opts.size) return; // complete already: verify it
  const res = await fetch(url, { headers: offset > 0 ? { Range: `bytes=${offset}-` } : {} }).catch((e: unknown) => {
    throw new ConnectError(url, e);
  });
  if (res.status === 416 && offset > 0) {
    await res.body?.cancel();
    return; // nothing more to get: the checksum decides
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new HttpStatusError(res.status, url);
  }
  const partial = res.status === 206 && (res.headers.get('content-range') ?? '').startsWith(`bytes ${offset}-`);
  if (!partial) offset = 0; // the server sent the whole file
  const length = Number(res.headers.get('content-length') ?? NaN);
  const total = opts.size ?? (Number.isFinite(length) ? offset + length : undefined);
  const fh = await open(part, partial ? 'a' : 'w');
  const progress = new Progress(opts.progress ?? process.stderr.isTTY === true, label, total, offset);
  let done = offset;
  let touched = Date.now();
  try {
    if (res.body) {
      // Node's fetch body is async-iterable at run time; the DOM typings do not say so.
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        await fh.write(chunk);
        done += chunk.length;
        progress.update(done);
        if (Date.now() - touched > 10_000) {
          touched = Date.now();
          await utimes(`${partPathToDest(part)}.lock`, new Date(), new Date()).catch(() => undefined);
        }
      }
    }
  } finally {
    progress.stop();
    await fh.close();
  }
}

function partPathToDest(part: string): string {
  return part.slice(0, -'.part'.length);
}

/**
 * Downloads `urls` (tried in order) to `dest`, verified by `opts.checksum`. If `dest` exists and
 * verifies, nothing is fetched. `<dest>.part` is resumed with a Range request, within this call
 * (up to `retries` times per URL) and by a later call.
 * @throws PipelineError DATASET_CORRUPT (checksum mismatch; the partial file is deleted) or
 *   DATASET_MISSING (no URL could be fetched).
 */
export async function downloadFile(urls: string | readonly string[], dest: string, opts: DownloadOptions): Promise<void> {
  const list = typeof urls === 'string' ? [urls] : urls;
  const label = opts.label ?? dest.split(/[\\/]/).pop() ?? dest;
  const log = opts.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const part = `${dest}.part`;
  const retries = opts.retries ?? 3;
  await mkdir(dirname(dest), { recursive: true });
  const release = await acquireLock(`${dest}.lock`, log);
  try {
    if ((await sizeOf(dest)) !== undefined) {
      await verifyFile(dest, opts.checksum);
      return;
    }
    const failures: string[] = [];
    for (const url of list) {
      let freshRetryUsed = false;
      for (let attempt = 0; attempt <= retries; attempt++) {
        const resumedFrom = (await sizeOf(part)) ?? 0;
        if (attempt === 0) log(resumedFrom > 0 ? `resuming ${label} at byte ${resumedFrom}: ${url}` : `downloading ${label}: ${url}`);
        try {
          await fetchInto(url, part, opts, label);
        } catch (e) {
          failures.push(`${url}: ${(e as Error).message}`);
          if (e instanceof ConnectError) break; // no server answered: the next URL, without waiting
          if (e instanceof HttpStatusError && e.status >= 400 && e.status < 500) break; // try the next URL
          if (attempt < retries) {
            log(`download of ${label} interrupted (${(e as Error).message}); resuming`);
            await sleep(opts.retryDelayMs ?? 500);
          }
          continue;
        }
        const actual = await hashFile(part, opts.checksum.algorithm);
        if (actual === opts.checksum.digest.toLowerCase()) {
          await rename(part, dest);
          await rememberVerified(dest, opts.checksum);
          return;
        }
        await unlink(part).catch(() => undefined);
        if (resumedFrom > 0 && !freshRetryUsed) {
          // A stale .part (e.g. of an older version of the file) spoiled the result: start over once.
          freshRetryUsed = true;
          log(`${label}: checksum mismatch after resuming; downloading again from the start`);
          attempt--;
          continue;
        }
        throw new PipelineError(
          'DATASET_CORRUPT',
          `${label} downloaded from ${url} has ${opts.checksum.algorithm} ${actual}, expected ${opts.checksum.digest}; it was not kept`,
          { where: dest, hint: 'the server sent a different file: try again later, or download it by hand and check its checksum' },
        );
      }
    }
    throw new PipelineError('DATASET_MISSING', `could not download ${label}:\n  ${failures.join('\n  ')}`, {
      where: dest,
      cause: new DownloadFailed(failures.length > 0 && failures.every((f) => f.includes(': could not connect to '))),
      hint: `check the network, or download ${list[0]} by hand into ${dirname(dest)} (or into the folder PIPELINE_DATA_DIR names)`,
    });
  } finally {
    await release();
  }
}
