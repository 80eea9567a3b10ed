/**
 * What a Slurm job runs on its compute node (`pipeline slurm-job <manifest> <task index>`): one
 * stage instance, through the runner that child processes and queue workers use (its checks, its
 * run record, the key's lease, so a key is never computed twice whoever asks).
 *
 * The job finds its stage's key itself, by planning the pipeline against the cache: a job submitted
 * behind its inputs' jobs (`--detach`, `--dependency=afterok`) cannot know the key when it is
 * submitted, since the key is made of its inputs' digests. Its inputs' results are in the cache by
 * then (afterok), and planning an unchanged project loads no TypeScript beyond the pipeline's own
 * modules (fingerprints are cached), so this costs a fraction of a second per job.
 */
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { PipelineError } from '../../../errors.js';
import { Store } from '../../../store/index.js';
import { Fingerprinter } from '../fingerprint.js';
import { loadPipeline } from '../load.js';
import { planPipeline } from '../plan.js';
import { taskOf } from '../task.js';
import { manifestSchema, type JobManifest } from './records.js';

/** Exit code of a job whose compute node cannot see the cache (the coordinator names it). */
export const CACHE_NOT_VISIBLE = 3;

async function readManifest(path: string): Promise<JobManifest> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new PipelineError('USAGE', `node ${hostname()} cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): the compute nodes do not see this cache folder`, {
      hint: 'put the cache on a file system every node mounts at the same path (--cache or PIPELINE_CACHE), or give the run a --remote',
    });
  }
  const parsed = manifestSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new PipelineError('USAGE', `${path} is not a job manifest of this engine: ${parsed.error.issues[0]?.message ?? ''}`);
  return parsed.data;
}

/** Progress lines in a job's output file: at most one this often (a training reports every few steps). */
const PROGRESS_EVERY_MS = 10_000;

export async function runSlurmJob(manifestPath: string, index: number, say: (line: string) => void, signal: AbortSignal): Promise<void> {
  const manifest = await readManifest(manifestPath);
  const entry = manifest.tasks[index];
  if (!entry) throw new PipelineError('USAGE', `${manifestPath} has ${manifest.tasks.length} task(s), not one at index ${index}`);
  const jobId = process.env.SLURM_ARRAY_JOB_ID && process.env.SLURM_ARRAY_TASK_ID ? `${process.env.SLURM_ARRAY_JOB_ID}_${process.env.SLURM_ARRAY_TASK_ID}` : (process.env.SLURM_JOB_ID ?? '');
  const node = process.env.SLURMD_NODENAME ?? hostname();
  say(`stage ${entry.id}: Slurm job ${jobId || '?'} on ${node}`);

  const pipeline = await loadPipeline(manifest.pipeline, manifest.set);
  const stage = pipeline.nodes.get(entry.id);
  if (!stage) throw new PipelineError('PIPELINE_INVALID', `the pipeline has no stage '${entry.id}' any more (it changed since the job was submitted)`, { hint: 'run the pipeline again: it submits what its stages are now' });
  const store = new Store(manifest.cache);
  const fingerprinter = new Fingerprinter(store.layout.metaPath('fingerprints.json'), store.fileDigests);
  const plan = await planPipeline(pipeline, store, fingerprinter, undefined);
  const p = plan.stages.get(entry.id)!;
  if (!p.key || !p.inputs) {
    const missing = [...new Set(Object.values(stage.inputs).flatMap((b) => (Array.isArray(b) ? b : [b])).flatMap((r) => (r.kind === 'output' && !plan.stages.get(r.stageId)?.record ? [r.stageId] : [])))];
    throw new PipelineError('INPUT_MISSING', `stage '${entry.id}': the results of ${missing.map((m) => `'${m}'`).join(', ')} are not in the cache ${manifest.cache}`, {
      hint: 'its input stages did not finish (see their jobs), or wrote to another cache: run the pipeline again',
    });
  }
  if (entry.key && entry.key !== p.key) {
    throw new PipelineError('STAGE_FAILED', `stage '${entry.id}' is no longer what was submitted (its code, params or inputs changed: key ${p.key.slice(0, 12)}, submitted ${entry.key.slice(0, 12)})`, {
      hint: 'run the pipeline again: it submits what its stages are now',
    });
  }
  if (p.record && !entry.force) {
    say(`stage ${entry.id}: already in the cache (${p.key.slice(0, 12)}), nothing to compute`);
    return;
  }
  const lease = await store.acquireKey(p.key, { onWait: (owner) => say(`stage ${entry.id}: waiting for ${owner}, who is computing the same key`) });
  try {
    if (!entry.force && store.runs.getComplete(p.key)) {
      say(`stage ${entry.id}: computed meanwhile by another job, nothing to compute`);
      return;
    }
    const { computeStage } = await import('../../runner/compute.js');
    let lastSaid = 0;
    const record = await computeStage(
      store,
      // This job is the stage's own process already: the stage runs in it (no second fork).
      { ...taskOf(stage, p.key, p.inputs, p.fingerprint), def: stage.def, inline: true, provenance: { slurm: { jobId, node } } },
      {
        progress: (pr) => {
          if (Date.now() - lastSaid < PROGRESS_EVERY_MS) return;
          lastSaid = Date.now();
          say(`progress: ${pr.fraction !== undefined ? `${Math.round(pr.fraction * 100)}% ` : ''}${pr.message ?? ''}`.trim());
        },
        log: say,
        signal,
      },
    );
    say(`stage ${entry.id}: done in ${(record.durationMs / 1000).toFixed(1)} s (${p.key.slice(0, 12)})`);
  } finally {
    await lease.release();
  }
}
