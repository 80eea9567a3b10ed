/** `pipeline status`: what is stale, and why, in words - without running anything. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { PipelinePlan } from '../../engine/index.js';
import type { StageJob } from '../slurm.js';
import { planInWorkspace, type WorkspaceOptions } from '../workspace.js';

export interface StatusOptions extends WorkspaceOptions {
  set: string[];
  json: boolean;
}

export async function statusCommand(file: string, opts: StatusOptions): Promise<number> {
  const { plan, ws } = await planInWorkspace(file, opts);
  // Stages that Slurm jobs are computing (`run --executor slurm --detach`): their jobs' states, from one squeue call.
  const jobs = existsSync(join(ws.store.root, 'slurm', 'jobs')) ? await (await import('../slurm.js')).jobStates(plan, ws.store.root) : undefined;
  if (opts.json) process.stdout.write(`${JSON.stringify(planJson(plan, jobs), null, 2)}\n`);
  else printPlan(plan, { dryRun: false, jobs });
  return 0;
}

/** Everything `status` says, as data. */
export function planJson(plan: PipelinePlan, jobs?: ReadonlyMap<string, StageJob>): Record<string, unknown> {
  const stages = [...plan.stages.values()];
  return {
    pipeline: plan.pipeline.definition.name,
    counts: Object.fromEntries((['stale', 'cached', 'up-to-date'] as const).map((st) => [st, stages.filter((s) => s.state === st).length])),
    notes: plan.pipeline.notes,
    paramChanges: plan.paramChanges,
    removed: plan.removed,
    stages: stages.map((s) => ({ id: s.node.id, stage: s.node.def.name, state: s.state, key: s.key ?? null, reasons: s.reasons, ...(jobs?.has(s.node.id) ? { slurm: jobs.get(s.node.id) } : {}) })),
  };
}

/** What holds for the whole pipeline: its notes, changed params, instances gone since the lock file. */
function pipelineLines(plan: PipelinePlan): string[] {
  const out = plan.pipeline.notes.map((n) => `note: ${n}`);
  out.push(...plan.paramChanges.map((c) => `${c} (since the lock file)`));
  if (plan.removed.length > 0) {
    const shown = plan.removed.slice(0, 6).join(', ');
    out.push(`${plan.removed.length} instance(s) of the lock file are no longer in the pipeline: ${shown}${plan.removed.length > 6 ? ', ...' : ''} (their results stay in the run cache; a run drops them from the lock file)`);
  }
  return out;
}

export function printPlan(plan: PipelinePlan, opts: { dryRun: boolean; jobs?: ReadonlyMap<string, StageJob> | undefined }): void {
  const stages = [...plan.stages.values()];
  const stale = stages.filter((s) => s.state === 'stale');
  const cached = stages.filter((s) => s.state === 'cached');
  const out: string[] = pipelineLines(plan);
  const label = opts.dryRun ? { stale: 'would run', cached: 'would restore' } : { stale: 'stale', cached: 'in cache' };
  for (const s of stages) {
    if (s.state === 'up-to-date') continue;
    const job = opts.jobs?.get(s.node.id);
    out.push(`${(job && s.state === 'stale' ? job.word : s.state === 'stale' ? label.stale : label.cached).padEnd(13)} ${s.node.id}`);
    if (job) out.push(`${' '.repeat(14)}${job.text}`);
    for (const r of s.reasons) out.push(`${' '.repeat(14)}${r}`);
  }
  const upToDate = stages.length - stale.length - cached.length;
  out.push(
    stale.length === 0 && cached.length === 0
      ? `${plan.pipeline.definition.name}: all ${stages.length} stages up to date`
      : `${plan.pipeline.definition.name}: ${stale.length} ${opts.dryRun ? 'would run' : 'stale'}, ${cached.length} ${opts.dryRun ? 'would be restored from the run cache' : 'in the run cache'}, ${upToDate} up to date`,
  );
  process.stdout.write(`${out.join('\n')}\n`);
}
