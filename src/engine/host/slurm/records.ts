/**
 * What the engine keeps of its Slurm jobs, in the cache (on a cluster: the shared file system, so
 * that a later `run`, `status` or `cancel` on any login node finds them):
 *
 *     slurm/jobs/<pipeline>/<id digest>.json   the job of each stage instance last submitted
 *     slurm/manifests/<job name>.json          what a job (or an array's tasks) computes
 *     slurm/logs/<job id>.out                  Slurm's output file of each job (removed on success)
 *
 * A record names its job, so that a run does not submit a stage that a live job is computing
 * (`--detach`, then `run` again) and `cancel` knows what to cancel. Records are read as untrusted
 * (another user of a shared cache may have written them): a malformed one is ignored.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../../../store/atomic.js';
import { hexDigestSchema } from '../../../store/index.js';
import type { JobId } from './commands.js';

export const JOB_ID = /^\d+(?:_\d+)?$/;

const recordSchema = z.object({
  id: z.string().min(1).max(1_000),
  jobId: z.string().regex(JOB_ID),
  /** The stage key, where it was known at submission (a stage submitted behind its inputs' jobs has none yet). */
  key: hexDigestSchema.nullable(),
  log: z.string().max(4_096),
  /** The manifest the job computes from (removed once no record names it). */
  manifest: z.string().max(4_096),
  submittedAt: z.string().max(40),
});
export type JobRecord = z.infer<typeof recordSchema>;

/** What one job (or each task of an array, by SLURM_ARRAY_TASK_ID) computes. */
export const manifestSchema = z.strictObject({
  version: z.literal(1),
  /** The pipeline file and its --set values, as the coordinator loaded them. */
  pipeline: z.string().min(1).max(4_096),
  set: z.array(z.string().max(10_000)).max(1_000),
  cache: z.string().min(1).max(4_096),
  tasks: z
    .array(
      z.strictObject({
        id: z.string().min(1).max(1_000),
        /** The key as the coordinator computed it; null behind inputs not computed yet (the job finds it). */
        key: hexDigestSchema.nullable(),
        /** Compute even if the cache has the key (`run --force`). */
        force: z.boolean().optional(),
      }),
    )
    .min(1)
    .max(100_000),
});
export type JobManifest = z.infer<typeof manifestSchema>;

const PIPELINE_FOLDER = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

export class SlurmFiles {
  readonly dir: string;
  constructor(cacheRoot: string) {
    this.dir = join(cacheRoot, 'slurm');
  }

  get logsDir(): string {
    return join(this.dir, 'logs');
  }

  private jobsDir(pipeline: string): string {
    // Pipeline names are plain names (definePipeline checks them); one that is not stays out of paths.
    const folder = PIPELINE_FOLDER.test(pipeline) ? pipeline : createHash('sha256').update(pipeline).digest('hex').slice(0, 32);
    return join(this.dir, 'jobs', folder);
  }

  private recordPath(pipeline: string, id: string): string {
    return join(this.jobsDir(pipeline), `${createHash('sha256').update(id).digest('hex').slice(0, 32)}.json`);
  }

  async writeManifest(name: string, manifest: JobManifest): Promise<string> {
    const path = join(this.dir, 'manifests', `${name}.json`);
    mkdirSync(join(this.dir, 'manifests'), { recursive: true });
    await writeFileAtomic(path, JSON.stringify(manifest));
    return path;
  }

  async writeRecords(pipeline: string, records: readonly JobRecord[]): Promise<void> {
    if (records.length === 0) return;
    mkdirSync(this.jobsDir(pipeline), { recursive: true });
    await Promise.all(records.map((r) => writeFileAtomic(this.recordPath(pipeline, r.id), JSON.stringify(r))));
  }

  record(pipeline: string, id: string): JobRecord | undefined {
    try {
      const r = recordSchema.safeParse(JSON.parse(readFileSync(this.recordPath(pipeline, id), 'utf8')));
      return r.success && r.data.id === id ? r.data : undefined;
    } catch {
      return undefined;
    }
  }

  /** Every record of a pipeline (for `cancel` and `status`). */
  records(pipeline: string): JobRecord[] {
    let names: string[];
    try {
      names = readdirSync(this.jobsDir(pipeline));
    } catch {
      return [];
    }
    const out: JobRecord[] = [];
    for (const name of names) {
      try {
        const r = recordSchema.safeParse(JSON.parse(readFileSync(join(this.jobsDir(pipeline), name), 'utf8')));
        if (r.success) out.push(r.data);
      } catch {
        /* a half-written or foreign file: not ours */
      }
    }
    return out;
  }

  removeRecord(pipeline: string, id: string): void {
    rmSync(this.recordPath(pipeline, id), { force: true });
  }

  /**
   * After a run: the records of the stages that are done go, with their jobs' output files (unless
   * kept) and the manifests no record names any more. What `--detach` left for the stages a later
   * run found finished is collected here too.
   */
  collect(pipeline: string, done: (id: string) => boolean, keepLogs: boolean): void {
    const records = this.records(pipeline);
    const left = new Set<string>();
    for (const r of records) {
      if (!done(r.id)) {
        left.add(r.manifest);
        continue;
      }
      this.removeRecord(pipeline, r.id);
      if (!keepLogs) this.removeLog(r.jobId);
    }
    if (keepLogs) return;
    for (const r of records) if (!left.has(r.manifest) && done(r.id)) rmSync(r.manifest, { force: true });
  }

  async ensureLogsDir(): Promise<void> {
    mkdirSync(this.logsDir, { recursive: true });
  }

  /** The output file of a job (`%A_%a` of an array task, `%j` of a single job), as sbatch's `--output` takes it. */
  logPattern(array: boolean): string {
    return join(this.logsDir, array ? '%A_%a.out' : '%j.out');
  }

  logOf(jobId: JobId): string {
    return join(this.logsDir, `${jobId}.out`);
  }

  /** The last lines of a job's output file (its stage's own last words), or none. */
  tail(jobId: JobId, lines = 20): string[] {
    try {
      const text = readFileSync(this.logOf(jobId), 'utf8');
      return text.split('\n').filter((l) => l.trim() !== '').slice(-lines);
    } catch {
      return [];
    }
  }

  removeLog(jobId: JobId): void {
    rmSync(this.logOf(jobId), { force: true });
  }
}
