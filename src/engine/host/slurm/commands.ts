/**
 * Talking to Slurm through its own commands (`sbatch`, `squeue`, `scontrol`, `scancel`), the
 * interface every cluster offers its users; nothing else of the engine runs them. Job states come
 * from `squeue -t all`, which keeps finished jobs for the controller's MinJobAge (300 s by
 * default), with `scontrol show job` for one that left it: accounting (`sacct`) is not needed,
 * and many university clusters run without it (snakemake-executor-plugin-slurm #38).
 */
import { execFile } from 'node:child_process';
import { PipelineError } from '../../../errors.js';

/** A Slurm job id as `sbatch --parsable` prints it and as commands take it: `123`, or `123_4` for an array task. */
export type JobId = string;

export interface JobState {
  id: JobId;
  /** Slurm's word: PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, PREEMPTED, ... */
  state: string;
  /** Why it is pending (Resources, Priority, Dependency, ...), `None` otherwise. */
  reason: string;
  /** The node it runs or ran on ('' while pending). */
  node: string;
}

/** States a job does not leave (COMPLETING and the like are still on their way). */
export const FINAL_STATES: ReadonlySet<string> = new Set([
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'TIMEOUT',
  'OUT_OF_MEMORY',
  'NODE_FAIL',
  'PREEMPTED',
  'BOOT_FAIL',
  'DEADLINE',
  'SPECIAL_EXIT',
  'REVOKED',
]);

/** How long one Slurm command may take before the controller counts as not answering. */
const COMMAND_TIMEOUT_MS = 30_000;

export class SlurmUnreachable extends Error {}

interface Output {
  stdout: string;
  stderr: string;
}

export class SlurmCommands {
  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  private run(cmd: string, args: readonly string[], input?: string): Promise<Output> {
    return new Promise((resolve, reject) => {
      const child = execFile(cmd, args, { env: this.env, timeout: COMMAND_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (!err) return resolve({ stdout, stderr });
        const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: string | number };
        if (e.code === 'ENOENT') {
          reject(new PipelineError('TOOL_MISSING', `'${cmd}' is not on the PATH: the Slurm executor needs Slurm's client commands`, { hint: 'run where sbatch works (a login node), or install slurm-client; or leave out --executor slurm' }));
        } else if (e.killed) {
          reject(new SlurmUnreachable(`${cmd} did not answer within ${COMMAND_TIMEOUT_MS / 1000} s`));
        } else {
          reject(Object.assign(new Error(firstLine(stderr) || e.message), { stderr, exitCode: e.code }));
        }
      });
      if (input !== undefined) child.stdin?.end(input);
    });
  }

  /** Whether the client commands are installed at all (before anything is submitted). */
  async available(): Promise<void> {
    await this.run('sbatch', ['--version']);
  }

  /** Submits; the new job's id (an array's: its base id). `args` are sbatch's options. */
  async submit(args: readonly string[], command: string): Promise<JobId> {
    const { stdout } = await this.run('sbatch', ['--parsable', ...args, '--wrap', command]).catch((e: unknown) => {
      throw refusal(e);
    });
    // `--parsable` prints `id` or `id;cluster`.
    const id = stdout.trim().split(';')[0] ?? '';
    if (!/^\d+$/.test(id)) throw new PipelineError('STAGE_FAILED', `sbatch printed no job id (${JSON.stringify(stdout.trim().slice(0, 100))})`);
    return id;
  }

  /** `sbatch --test-only`: whether Slurm would take these options (partition, account, QoS, GRES), submitting nothing. */
  async check(args: readonly string[]): Promise<void> {
    await this.run('sbatch', ['--test-only', ...args, '--wrap', 'true']).catch((e: unknown) => {
      throw refusal(e);
    });
  }

  /**
   * The states of these jobs in one `squeue` call (never one per job: a controller polled per job
   * by a thousand-job sweep is the complaint of snakemake-executor-plugin-slurm #467). Array tasks
   * are listed one by one (`-r`). Jobs the controller no longer knows are absent from the map.
   */
  async states(ids: readonly JobId[]): Promise<Map<JobId, JobState>> {
    const out = new Map<JobId, JobState>();
    if (ids.length === 0) return out;
    const bases = [...new Set(ids.map((id) => id.split('_')[0]!))];
    let stdout: string;
    try {
      ({ stdout } = await this.run('squeue', ['-h', '-r', '-t', 'all', '-j', bases.join(','), '-o', '%i|%T|%r|%N']));
    } catch (e) {
      if (e instanceof PipelineError || e instanceof SlurmUnreachable) throw e;
      // Every id unknown to the controller (all past MinJobAge) is an error to squeue, not an empty list.
      if (/Invalid job id/i.test((e as { stderr?: string }).stderr ?? (e as Error).message)) return out;
      throw new SlurmUnreachable(`squeue failed: ${(e as Error).message}`);
    }
    for (const line of stdout.split('\n')) {
      const [id, state, reason, node] = line.trim().split('|');
      if (id && state) out.set(id, { id, state: state.split(' ')[0]!, reason: reason ?? '', node: node ?? '' });
    }
    return out;
  }

  /** One job's final word from `scontrol show job` (kept for MinJobAge), where squeue lost it. */
  async detail(id: JobId): Promise<JobState & { exitCode: string } | undefined> {
    try {
      const { stdout } = await this.run('scontrol', ['-o', 'show', 'job', id]);
      const field = (name: string): string => new RegExp(`(?:^|\\s)${name}=(\\S*)`).exec(stdout)?.[1] ?? '';
      return { id, state: field('JobState'), reason: field('Reason'), node: field('BatchHost') || field('NodeList'), exitCode: field('ExitCode') };
    } catch (e) {
      if (e instanceof PipelineError || e instanceof SlurmUnreachable) throw e;
      return undefined; // unknown to the controller
    }
  }

  /** `scontrol -o show job`'s field for a job (e.g. TresPerJob, Partition), for checks and tests. */
  async field(id: JobId, name: string): Promise<string | undefined> {
    const { stdout } = await this.run('scontrol', ['-o', 'show', 'job', id]);
    return new RegExp(`(?:^|\\s)${name}=(\\S*)`).exec(stdout)?.[1];
  }

  async cancel(ids: readonly JobId[]): Promise<void> {
    if (ids.length === 0) return;
    await this.run('scancel', [...ids]).catch((e: unknown) => {
      if (e instanceof PipelineError || e instanceof SlurmUnreachable) throw e;
      // Jobs that ended meanwhile are an error to scancel: nothing to cancel there.
    });
  }
}

function firstLine(text: string): string {
  return text.split('\n').find((l) => l.trim() !== '')?.trim() ?? '';
}

/** An sbatch refusal (a partition, account or QoS Slurm does not know) is the user's to fix: exit 2. */
function refusal(e: unknown): unknown {
  if (e instanceof PipelineError || e instanceof SlurmUnreachable) return e;
  const msg = (e as Error).message.replace(/^sbatch: error: /, '');
  if (/Unable to contact slurm controller|Socket timed out|Connection refused|Zero Bytes/i.test(msg)) return new SlurmUnreachable(`sbatch: ${msg}`);
  return new PipelineError('USAGE', `Slurm refused the job: ${msg}`, { hint: 'check slurm.partition, slurm.account, slurm.qos and slurm.options (pipeline config shows where each comes from), and the stage\'s resources' });
}
