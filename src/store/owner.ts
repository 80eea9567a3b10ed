/**
 * Who left something in a cache: a process on a host. Leases hold it as JSON; working folders and
 * temp files carry it in their names (`<label>@<host>@<pid>-XXXXXX`,
 * `.<file>@<host>@<pid>.<hex>.tmp`), so that a sweep can tell what is abandoned without opening
 * anything.
 *
 * A cache directory may be shared by several hosts (NFS), and a pid means something only on its
 * own host: what a process of this host left is abandoned once that pid is dead (at once, no
 * timeout); what another host left is abandoned only once nothing has touched it for `STALE_MS`
 * (leases and working folders are touched every `HEARTBEAT_MS` while their owner lives; a temp
 * file grows while it is written).
 */
import { hostname } from 'node:os';

/** How often a live owner touches its lease or working folder. */
export const HEARTBEAT_MS = 5_000;
/** Untouched for this long, what another host left is taken to be abandoned. */
export const STALE_MS = 60_000;

export interface ProcessOwner {
  host: string;
  pid: number;
}

/** This host's name as it may appear in a file name (host names are [A-Za-z0-9.-] already). */
export function hostTag(host = hostname()): string {
  return host.replace(/[^A-Za-z0-9.-]/g, '_') || 'unknown-host';
}

/** `<host>@<pid>`: this process, for file names. */
export function ownerTag(): string {
  return `${hostTag()}@${process.pid}`;
}

/** The owner a working folder or temp file name carries; undefined for other (or older, pid-only) names. */
export function ownerOfName(name: string): ProcessOwner | undefined {
  const m = /@([A-Za-z0-9._-]+)@(\d+)(?:-[A-Za-z0-9]{6}|\.[0-9a-f]+\.tmp)$/.exec(name);
  if (!m) return undefined;
  const pid = Number(m[2]);
  return Number.isSafeInteger(pid) && pid > 0 ? { host: m[1]!, pid } : undefined;
}

export function isThisHost(host: string): boolean {
  return host === hostname() || host === hostTag();
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether what `owner` left, last touched at `mtimeMs`, is abandoned: a dead pid on this host, or
 * untouched for `staleMs` elsewhere. An unknown owner (a name without one) goes by age alone.
 */
export function abandoned(owner: ProcessOwner | undefined, mtimeMs: number, staleMs = STALE_MS, now = Date.now()): boolean {
  if (owner && isThisHost(owner.host)) return !pidAlive(owner.pid);
  return now - mtimeMs > staleMs;
}
