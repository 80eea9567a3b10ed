/**
 * Submitting stage instances as Slurm jobs, for attached runs and `--detach` alike: a manifest in
 * the cache says what each job (or each task of an array) computes, and the job's command runs
 * `pipeline slurm-job` on the compute node (./node-job.ts) with the engine that submitted it.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { COMPILED_TREE, ENGINE_ROOT } from '../../../install.js';
import type { SlurmCommands, JobId } from './commands.js';
import { sbatchArgs, type JobShape } from './options.js';
import type { JobManifest, SlurmFiles } from './records.js';

export interface SubmitContext {
  commands: SlurmCommands;
  files: SlurmFiles;
  /** The pipeline's name (jobs are named `lth-<name>` in squeue) and how the coordinator loaded it. */
  pipelineName: string;
  pipelineFile: string;
  set: readonly string[];
  cacheRoot: string;
  projectRoot: string;
}

export interface Submitted {
  /** One job id per task, in order (`123_0`, `123_1`, ... for an array). */
  ids: JobId[];
  manifest: string;
}

/** A single-quoted shell word. */
function sh(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * Submits `tasks` of one shape: one job, or one array of them. `after`: jobs that must end well
 * first (`afterok`); a job whose dependency fails is cancelled by Slurm (`--kill-on-invalid-dep`),
 * so a failed stage does not leave what waits on it pending forever.
 */
export async function submitTasks(ctx: SubmitContext, tasks: JobManifest['tasks'], shape: JobShape, after: readonly JobId[] = []): Promise<Submitted> {
  const name = `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  const manifest = await ctx.files.writeManifest(name, { version: 1, pipeline: ctx.pipelineFile, set: [...ctx.set], cache: ctx.cacheRoot, tasks: [...tasks] });
  const array = tasks.length > 1;
  const engineTree = COMPILED_TREE ? `LTH_ENGINE_TREE=${sh(COMPILED_TREE)} ` : '';
  const command = `${engineTree}exec ${sh(process.execPath)} ${sh(join(ENGINE_ROOT, 'bin', 'pipeline.js'))} slurm-job ${sh(manifest)} "\${SLURM_ARRAY_TASK_ID:-0}"`;
  await ctx.files.ensureLogsDir();
  const base = await ctx.commands.submit(
    [
      `--job-name=lth-${ctx.pipelineName}`,
      `--output=${ctx.files.logPattern(array)}`,
      `--chdir=${ctx.projectRoot}`,
      ...(array ? [`--array=0-${tasks.length - 1}`] : []),
      ...(after.length > 0 ? [`--dependency=afterok:${after.join(':')}`, '--kill-on-invalid-dep=yes'] : []),
      ...sbatchArgs(shape),
    ],
    command,
  );
  return { ids: array ? tasks.map((_, i) => `${base}_${i}`) : [base], manifest };
}
