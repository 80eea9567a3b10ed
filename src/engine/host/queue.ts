/**
 * Distributed execution on a real queue (BullMQ on Redis), the coordinator's side (the worker's:
 * ../runner/queue-worker.ts). The coordinator (`pipeline run --queue`) enqueues each stage whose inputs are ready, with the stage key as job id, so a key is
 * computed once however many coordinators ask for it; workers (`pipeline worker`) run the same
 * project code, take inputs from the remote store and put results there. The remote store is how
 * artifacts travel; Redis only carries small job descriptions and states.
 *
 * Both sides share from here: how to reach Redis, how long to wait when it is gone
 * (`watchConnection`), and the secret that signs jobs.
 */
import { realpathSync } from 'node:fs';
import { relative, sep } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue, RedisConnection, type RedisOptions } from 'bullmq';
import { PipelineError } from '../../errors.js';
import { parseWallClockMs } from '../definition/resources.js';
import type { RemoteStore } from '../../store/remote/index.js';
import type { StageProgress } from '../definition/stage.js';
import { signJob, type QueueJob, type SignedQueueJob, type StageTask } from '../protocol.js';

export const QUEUE_NAME = 'lth-pipeline-stages';

/** How long the coordinator and workers wait for a lost Redis before they fail (exit 1). */
export const DEFAULT_QUEUE_TIMEOUT_MS = 60_000;

/** While Redis is away, how often the countdown line is repeated. */
const COUNTDOWN_EVERY_MS = 5_000;
/** While it is there, how often a command checks that it answers. */
const PROBE_EVERY_MS = 5_000;

export function connectionOf(url: string): RedisOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new PipelineError('USAGE', `--queue ${url}: expected redis://host:port`, { hint: 'e.g. --queue redis://127.0.0.1:6379' });
  }
  if (u.protocol !== 'redis:') throw new PipelineError('USAGE', `--queue ${shownUrl(url)}: expected redis://host:port`);
  return {
    host: u.hostname || '127.0.0.1',
    port: Number(u.port || 6379),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.pathname.length > 1 ? { db: Number(u.pathname.slice(1)) } : {}),
    // BullMQ's blocking commands need this: commands wait while Redis is away (watchConnection
    // decides when to stop waiting), instead of failing after a few reconnection attempts.
    maxRetriesPerRequest: null,
    // Reconnect within 2 s of Redis coming back (BullMQ's default backs off to 20 s).
    retryStrategy: (attempt: number) => Math.min(attempt * 500, 2_000),
  };
}

/** The queue's URL as messages show it: without its password. */
export function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}

/** `--queue-timeout`, else `PIPELINE_QUEUE_TIMEOUT`, else 60 s. */
export function queueTimeoutMs(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): number {
  if (flag !== undefined) return parseWallClockMs(flag, '--queue-timeout');
  if (env.PIPELINE_QUEUE_TIMEOUT) return parseWallClockMs(env.PIPELINE_QUEUE_TIMEOUT, 'PIPELINE_QUEUE_TIMEOUT');
  return DEFAULT_QUEUE_TIMEOUT_MS;
}

/**
 * The secret that signs jobs, from `PIPELINE_QUEUE_SECRET` only: a flag would show in `ps` and
 * shell histories, a file in the project would travel with it. Unset: jobs go unsigned.
 */
export function queueSecret(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const secret = env.PIPELINE_QUEUE_SECRET;
  if (secret === undefined) return undefined;
  if (secret === '') {
    throw new PipelineError('USAGE', 'PIPELINE_QUEUE_SECRET is set but empty', {
      hint: 'set it to the same long random value on the coordinator and every worker (e.g. `openssl rand -hex 32`), or unset it',
    });
  }
  return secret;
}

/**
 * Watches the connection to Redis on a connection of its own. While Redis is unreachable it says
 * so, with a countdown (one line every few seconds: the run's progress display may own the
 * terminal's last line); after `timeoutMs` without Redis, `failed` rejects with
 * REMOTE_UNAVAILABLE (exit 1). Meanwhile BullMQ's own connections keep reconnecting, and what
 * they were waiting for carries on if Redis comes back in time.
 */
export interface ConnectionWatch {
  /** Rejects once Redis has been unreachable for the whole timeout; never resolves. */
  readonly failed: Promise<never>;
  /** Whether Redis is unreachable right now. */
  readonly down: boolean;
  /** The error `failed` rejected with, once it has. */
  readonly error: PipelineError | undefined;
  close(): Promise<void>;
}

export function watchConnection(url: string, opts: { timeoutMs: number; say(line: string): void; who: 'queue' | 'worker' }): ConnectionWatch {
  // Commands of this connection fail at once while it is down (no offline queue): the probe
  // below then tells a silent network apart from a busy Redis.
  const conn = new RedisConnection({ ...connectionOf(url), enableOfflineQueue: false, retryStrategy: () => 1_000 }, { blocking: false, skipVersionCheck: true });
  const shown = shownUrl(url);
  let downSince: number | undefined = Date.now(); // not reached yet
  let reachedOnce = false;
  let lastSaid = 0;
  let lastError = '';
  let error: PipelineError | undefined;
  let closed = false;
  let fail!: (e: PipelineError) => void;
  const failed = new Promise<never>((_, reject) => (fail = reject));
  failed.catch(() => undefined); // observed through `error` too: never an unhandled rejection

  const up = (): void => {
    if (downSince !== undefined && lastSaid > 0) opts.say(`${opts.who}: Redis at ${shown} is back`);
    downSince = undefined;
    reachedOnce = true;
    lastSaid = 0;
  };
  const lost = (why: string): void => {
    if (why) lastError = why;
    downSince ??= Date.now();
  };
  conn.on('ready', up);
  conn.on('close', () => lost(''));
  conn.on('error', (e: Error) => lost(e.message));

  // Now and then a command proves the connection (a host that vanished without closing it
  // answers nothing, and the socket still says ready); while it is down, a probe that gets an
  // answer is what says it is back in that case.
  let client: Awaited<typeof conn.client> | undefined;
  conn.client.then((c) => (client = c)).catch(() => undefined);
  let lastProbe = Date.now();
  const answers = async (): Promise<boolean> => {
    if (!client || client.status !== 'ready') return false;
    lastProbe = Date.now();
    const silent = sleep(PROBE_EVERY_MS, undefined, { ref: false }).then(() => Promise.reject(new Error(`no answer within ${PROBE_EVERY_MS / 1000} s`)));
    try {
      await Promise.race([client.get('lth-pipeline:probe'), silent]);
      return true;
    } catch (e) {
      if ((e as Error).name === 'ReplyError') return true; // refused (an ACL, say), but answered
      lost((e as Error).message);
      return false;
    }
  };

  const tick = async (): Promise<void> => {
    if (closed || error) return;
    if (Date.now() - lastProbe >= PROBE_EVERY_MS && (await answers()) && downSince !== undefined) up();
    if (downSince === undefined) return;
    const waited = Date.now() - downSince;
    const left = opts.timeoutMs - waited;
    if (left <= 0) {
      error = new PipelineError(
        'REMOTE_UNAVAILABLE',
        `${reachedOnce ? 'lost' : 'could not reach'} the queue's Redis at ${shown} for ${Math.round(waited / 1000)} s${lastError ? ` (${lastError})` : ''}: giving up`,
        {
          hint:
            opts.who === 'worker'
              ? 'start Redis again (or check the network), then the worker: the stages it finished are in the remote store; --queue-timeout or PIPELINE_QUEUE_TIMEOUT sets how long to wait'
              : 'start Redis again (or check the network) and run again: finished stages are in the cache and the remote store, and are not computed twice; --queue-timeout or PIPELINE_QUEUE_TIMEOUT sets how long to wait',
        },
      );
      fail(error);
      return;
    }
    // Brief blips (a second) pass silently; then a line at once, and again every few seconds.
    if (waited >= 1_000 && (lastSaid === 0 || Date.now() - lastSaid >= COUNTDOWN_EVERY_MS)) {
      lastSaid = Date.now();
      opts.say(`${opts.who}: ${reachedOnce ? 'lost' : 'cannot reach'} Redis at ${shown}${lastError ? ` (${lastError})` : ''}; retrying, giving up in ${Math.ceil(left / 1000)} s`);
    }
  };
  let ticking = false;
  const timer = setInterval(() => {
    if (ticking) return;
    ticking = true;
    void tick().finally(() => (ticking = false));
  }, 250);
  timer.unref();

  return {
    failed,
    get down() {
      return downSince !== undefined;
    },
    get error() {
      return error;
    },
    async close() {
      closed = true;
      clearInterval(timer);
      // Forced: a polite close waits for a connection that may never come.
      await conn.close(true).catch(() => undefined);
    },
  };
}

export interface Dispatcher {
  /** Resolves once the remote store holds the key's record and objects. */
  dispatch(task: StageTask, hooks: { progress(p: StageProgress): void; signal: AbortSignal }): Promise<void>;
  /** Set once Redis was lost for longer than the timeout: every dispatch fails with it. */
  readonly lost: PipelineError | undefined;
  close(): Promise<void>;
}

export interface DispatcherOptions {
  timeoutMs?: number;
  /** Signs every job (workers with the same secret refuse unsigned ones). */
  secret?: string | undefined;
  /** Where the countdown lines go. */
  say?(line: string): void;
  pollMs?: number;
}

export function createDispatcher(queueUrl: string, remote: RemoteStore, projectRoot: string, opts: DispatcherOptions = {}): Dispatcher {
  const pollMs = opts.pollMs ?? 200;
  const queue = new Queue<SignedQueueJob>(QUEUE_NAME, { connection: connectionOf(queueUrl) });
  const watch = watchConnection(queueUrl, {
    timeoutMs: opts.timeoutMs ?? DEFAULT_QUEUE_TIMEOUT_MS,
    say: opts.say ?? ((line) => process.stderr.write(`${line}\n`)),
    who: 'queue',
  });
  // Connection errors repeat on every reconnection attempt: the watch reports them, once.
  queue.on('error', () => undefined);
  // Module paths are sent relative to the project root; stage sites are real paths.
  const root = realpathSync(projectRoot);
  const done = async (key: string): Promise<boolean> => {
    const rec = await remote.getRun(key);
    if (!rec) return false;
    for (const o of Object.values(rec.outputs)) if (!(await remote.hasObject(o.digest))) return false;
    return true;
  };
  const enqueue = async (job: SignedQueueJob): Promise<void> => {
    const existing = await queue.getJob(job.key);
    if (existing) {
      const state = await existing.getState();
      if (state === 'waiting' || state === 'active' || state === 'delayed' || state === 'prioritized') return; // someone asked already
      await existing.remove(); // finished earlier (failed, or completed and since collected): ask again
    }
    await queue.add('stage', job, { jobId: job.key, removeOnComplete: true, removeOnFail: { age: 24 * 3600 } });
  };
  const follow = async (job: SignedQueueJob, hooks: { progress(p: StageProgress): void; signal: AbortSignal }): Promise<void> => {
    if (await done(job.key)) return;
    await enqueue(job);
    for (;;) {
      if (hooks.signal.aborted) throw new PipelineError('INTERRUPTED', `stage '${job.id}' was interrupted (its job stays queued)`);
      if (watch.error) throw watch.error;
      if (await done(job.key)) return;
      const j = await queue.getJob(job.key);
      if (j) {
        const state = await j.getState();
        if (state === 'failed') {
          // A worker's failure, or its refusal (a job it would not run: unsigned, malformed, ...).
          // Read again: `j` may predate the failure (a refusal takes milliseconds).
          const reason = (await queue.getJob(job.key))?.failedReason || j.failedReason || 'the job failed';
          throw new PipelineError('STAGE_FAILED', `${reason} (on a worker)`, { where: `stage ${job.id}` });
        }
        if (j.progress && typeof j.progress === 'object') hooks.progress(j.progress as StageProgress);
      } else if (!(await done(job.key))) {
        await enqueue(job); // collected without a result (its worker was lost, or Redis restarted empty): ask again
      }
      await sleep(pollMs);
    }
  };
  return {
    async dispatch({ moduleFile, preload, ...rest }, hooks) {
      if (watch.error) throw watch.error;
      const module = relative(root, moduleFile);
      if (module === '..' || module.startsWith(`..${sep}`)) {
        throw new PipelineError('STAGE_FAILED', `stage '${rest.stage}' is defined outside the project (${moduleFile}): queue workers import only their own project's modules`, {
          where: `stage ${rest.id}`,
          hint: `move the stage into the project (${root}), or run it without --queue`,
        });
      }
      const unsigned: QueueJob = { ...rest, module, ...(preload?.length ? { preload: preload.map((f) => relative(root, f)) } : {}) };
      const job: SignedQueueJob = opts.secret ? { ...unsigned, signature: signJob(unsigned, opts.secret) } : unsigned;
      // A command stuck while Redis is away is abandoned when the watch gives up.
      const following = follow(job, hooks);
      following.catch(() => undefined);
      await Promise.race([following, watch.failed]);
    },
    get lost() {
      return watch.error;
    },
    async close() {
      await watch.close();
      if (!watch.error) return queue.close();
      // With Redis gone, a polite close (QUIT) would wait for it: drop the connection instead.
      const client = await Promise.race([queue.client, sleep(500, undefined, { ref: false })]).catch(() => undefined);
      client?.disconnect();
      await Promise.race([queue.close().catch(() => undefined), sleep(1_000, undefined, { ref: false })]);
    },
  };
}
