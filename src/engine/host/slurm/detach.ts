/**
 * `pipeline run --executor slurm --detach`: the whole remaining DAG submitted at once, each job
 * behind its inputs' jobs (`afterok`), and the command exits. Snakemake's Slurm plugin refuses
 * this by design (snakemake-executor-plugin-slurm #133); a login node's shell that dies must not
 * take a week-long sweep with it. Stages ready now go in as job arrays by resource shape; the
 * rest find their keys on their nodes once their inputs are done (./node-job.ts).
 */
import type { PipelinePlan } from '../plan.js';
import { FINAL_STATES, type JobId } from './commands.js';
import { shapeKey, shapeOf, type JobShape, type SlurmOptions } from './options.js';
import type { JobRecord } from './records.js';
import { submitTasks, type SubmitContext } from './submit.js';

export interface DetachedJob {
  id: string;
  jobId: JobId;
  /** The jobs it waits for. */
  after: JobId[];
  /** Submitted by an earlier run and still live: followed, not submitted again. */
  earlier: boolean;
}

export async function submitDetached(ctx: SubmitContext, plan: PipelinePlan, o: SlurmOptions, force: (id: string) => boolean): Promise<DetachedJob[]> {
  const todo = [...plan.stages.values()].filter((s) => !s.record || force(s.node.id));
  const jobOf = new Map<string, JobId>();
  const out: DetachedJob[] = [];
  // A stage a live job of an earlier submission is computing is not submitted twice.
  const earlier = new Map<string, JobId>();
  for (const s of todo) {
    const r = ctx.files.record(ctx.pipelineName, s.node.id);
    if (r && !force(s.node.id) && (r.key === null || r.key === s.key)) earlier.set(s.node.id, r.jobId);
  }
  const states = earlier.size > 0 ? await ctx.commands.states([...earlier.values()]) : new Map();
  for (const [id, jobId] of earlier) {
    const st = states.get(jobId);
    if (st && !FINAL_STATES.has(st.state)) {
      jobOf.set(id, jobId);
      out.push({ id, jobId, after: [], earlier: true });
    }
  }
  const submittedAt = new Date().toISOString();
  const records: JobRecord[] = [];
  const note = (id: string, key: string | null, jobId: JobId, after: JobId[], manifest: string): void => {
    jobOf.set(id, jobId);
    out.push({ id, jobId, after, earlier: false });
    records.push({ id, jobId, key, log: ctx.files.logOf(jobId), manifest, submittedAt });
  };
  // Ready now (every input's result in the cache): arrays by shape.
  const ready = new Map<string, { shape: JobShape; stages: typeof todo }>();
  for (const s of todo) {
    if (jobOf.has(s.node.id) || !s.key) continue;
    const shape = shapeOf(s.node, o);
    const k = shapeKey(shape);
    if (!ready.has(k)) ready.set(k, { shape, stages: [] });
    ready.get(k)!.stages.push(s);
  }
  for (const { shape, stages } of ready.values()) {
    for (let i = 0; i < stages.length; i += o.arraySize) {
      const chunk = stages.slice(i, i + o.arraySize);
      const { ids, manifest } = await submitTasks(ctx, chunk.map((s) => ({ id: s.node.id, key: s.key!, ...(force(s.node.id) ? { force: true } : {}) })), shape);
      chunk.forEach((s, j) => note(s.node.id, s.key!, ids[j]!, [], manifest));
    }
  }
  // Behind their inputs' jobs, in dependency order (an input's job is always submitted first).
  for (const s of todo) {
    if (jobOf.has(s.node.id)) continue;
    const after = [
      ...new Set(
        Object.values(s.node.inputs)
          .flatMap((b) => (Array.isArray(b) ? b : [b]))
          .flatMap((r) => (r.kind === 'output' && jobOf.has(r.stageId) ? [jobOf.get(r.stageId)!] : [])),
      ),
    ];
    const { ids, manifest } = await submitTasks(ctx, [{ id: s.node.id, key: s.key ?? null, ...(force(s.node.id) ? { force: true } : {}) }], shapeOf(s.node, o), after);
    note(s.node.id, s.key ?? null, ids[0]!, after, manifest);
  }
  await ctx.files.writeRecords(ctx.pipelineName, records);
  return out;
}
