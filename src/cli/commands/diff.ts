/**
 * `pipeline diff [A] [B]`: params and metrics that differ between two versions of the lock file.
 * A and B are each a file, `REV:path` (as `git show`) or a bare git revision (the lock file at that
 * revision). Default: A = HEAD, B = the working copy's lock file; one argument: that vs the working copy.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { PipelineError } from '../../errors.js';
import { diffLocks, diffToMarkdown, diffToText } from '../../report/diff.js';
import { parseLock, readLock, type LockDoc } from '../../store/index.js';
import { openWorkspace } from '../workspace.js';

export interface DiffOptions {
  lock?: string;
  pipeline: string[];
  all: boolean;
  md: boolean;
  json: boolean;
}

function gitShow(spec: string): string {
  try {
    return execFileSync('git', ['show', spec], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 * 1024 * 1024 });
  } catch (e) {
    const msg = String((e as { stderr?: string }).stderr ?? (e as Error).message).trim().split('\n')[0];
    throw new PipelineError('USAGE', `cannot read ${spec} from git: ${msg}`, { hint: 'give a lock file, REV:path, or a revision at which the lock file is committed' });
  }
}

/** Reads one side: a file, REV:path, or a bare revision of the default lock file. */
export function readLockSource(arg: string, lockPath: string): { label: string; doc: LockDoc } {
  if (existsSync(arg)) return { label: arg, doc: parseLock(readFileSync(arg, 'utf8'), arg) };
  const spec = arg.includes(':') ? arg : `${arg}:./${relative(process.cwd(), lockPath)}`;
  return { label: spec, doc: parseLock(gitShow(spec), spec) };
}

export async function diffCommand(a: string | undefined, b: string | undefined, opts: DiffOptions): Promise<number> {
  const lockPath = openWorkspace({ ...(opts.lock ? { lock: opts.lock } : {}) }).lockPath;
  const working = relative(process.cwd(), lockPath) || lockPath;
  const left = readLockSource(a ?? 'HEAD', lockPath);
  const right = b !== undefined ? readLockSource(b, lockPath) : { label: working, doc: await readLock(lockPath) };
  const diffs = diffLocks(left.doc, right.doc, { pipelines: opts.pipeline });
  if (opts.json) process.stdout.write(`${JSON.stringify({ a: left.label, b: right.label, pipelines: opts.all ? diffs : diffs.filter((d) => d.status !== 'same').map((d) => ({ ...d, stages: d.stages.filter((s) => s.status !== 'same') })) }, null, 2)}\n`);
  else if (opts.md) process.stdout.write(diffToMarkdown(diffs));
  else process.stdout.write(diffToText(diffs, { all: opts.all, labels: [left.label, right.label] }));
  return 0;
}
