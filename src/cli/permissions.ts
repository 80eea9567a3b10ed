/**
 * A file system refusal (EACCES, EPERM) said plainly: which path, who owns it, and what to do.
 * On a cluster, a team shares one cache folder through a Unix group (DVC #2287, #4545, #7544):
 * a member whose files are not group-writable, or who is not in the group, meets this first.
 */
import { statSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { userInfo } from 'node:os';
import { PipelineError } from '../errors.js';

function groupName(gid: number): string {
  try {
    const line = readFileSync('/etc/group', 'utf8').split('\n').find((l) => l.split(':')[2] === String(gid));
    return line ? line.split(':')[0]! : String(gid);
  } catch {
    return String(gid);
  }
}

/** The PipelineError for a refused path, or undefined for any other error. */
export function permissionError(e: unknown): PipelineError | undefined {
  const err = e as NodeJS.ErrnoException;
  if (!err || (err.code !== 'EACCES' && err.code !== 'EPERM') || typeof err.path !== 'string') return undefined;
  let where = err.path;
  let owner = '';
  for (const p of [err.path, dirname(err.path)]) {
    try {
      const s = statSync(p);
      where = p;
      owner = ` (owner uid ${s.uid}, group ${groupName(s.gid)}, mode ${(s.mode & 0o7777).toString(8)})`;
      break;
    } catch {
      /* try the folder */
    }
  }
  const me = userInfo();
  return new PipelineError('PERMISSION_DENIED', `${err.syscall ?? 'access'} ${err.path}: permission denied for ${me.username}${where !== err.path ? `; its folder ${where}${owner}` : owner}`, {
    hint: 'a cache shared by a group needs the group to own it with the setgid bit and group write (chgrp <group> -R cache && chmod -R g+rwX cache && find cache -type d -exec chmod g+s {} +), and you in the group; or use a cache of your own (--cache)',
  });
}
