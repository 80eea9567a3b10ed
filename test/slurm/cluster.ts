/**
 * The tests' Slurm cluster: the one `test/slurm/cluster.sh start` brings up (.ci/run does, as
 * root). Tests that need it are skipped, saying why in one line, where it does not answer.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const CONF = process.env.SLURM_CONF ?? '/tmp/lth-slurm/slurm.conf';
export const SLURM_ENV: Record<string, string> = { SLURM_CONF: CONF };

/** Why the Slurm tests cannot run here, or false when the cluster answers. */
export const NO_SLURM: string | false = (() => {
  if (!existsSync(CONF)) return `no Slurm test cluster (${CONF}; start one with test/slurm/cluster.sh start, as root)`;
  const r = spawnSync('sinfo', ['-h', '-o', '%T'], { env: { ...process.env, ...SLURM_ENV }, encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0 || !/idle|mix|alloc/.test(r.stdout)) return `the Slurm test cluster does not answer (sinfo: ${(r.stderr || r.stdout || String(r.error)).trim().split('\n')[0]})`;
  return false;
})();

export function slurm(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { env: { ...process.env, ...SLURM_ENV }, encoding: 'utf8', timeout: 30_000 });
  return r.stdout;
}

/** The jobs squeue lists as pending or running (any of their names). */
export function liveJobs(name: string): string[] {
  return slurm('squeue', ['-h', '-r', '-n', name, '-o', '%i|%T'])
    .split('\n')
    .filter((l) => /\|(PENDING|RUNNING|COMPLETING|CONFIGURING)/.test(l))
    .map((l) => l.split('|')[0]!);
}

/** `scontrol -o show job`'s fields of a job. */
export function jobFields(id: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [, k, v] of slurm('scontrol', ['-o', 'show', 'job', id]).matchAll(/(\w+)=(\S*)/g)) out[k!] = v!;
  return out;
}
