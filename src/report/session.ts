/**
 * From a pipeline file to resolved numbers, for the `table`, `plot` and `report` commands: load the
 * pipeline (once per replicate when `--replicates key=v1,v2,...` is given), plan it against the
 * cache and the lock file, build the report spec from the graph and resolve it. Reads only.
 */
import { relative } from 'node:path';
import { PipelineError } from '../errors.js';
import { loadPipeline, planPipeline, type LoadedPipeline, type PipelinePlan } from '../engine/index.js';
import { readLock, type Store } from '../store/index.js';
import type { Fingerprinter } from '../engine/index.js';
import { buildReportSpec, selectSpec, type ReportSelection } from './load.js';
import { resolveReport, type ResolvedReport } from './resolve.js';
import type { ReportSpec } from './spec.js';

export interface ReportWorkspace {
  store: Store;
  lockPath: string;
  fingerprinter: Fingerprinter;
}

export interface ReportSource {
  file: string;
  set: string[];
  /** `key=v1,v2,...`: load the pipeline once per value; the loads are replicates of each other. */
  replicates?: string | undefined;
  cache?: string | undefined;
  lock?: string | undefined;
}

/** The `--set` lists of the replicates (one list, `sets`, without `--replicates`). */
export function replicateSets(sets: readonly string[], replicates: string | undefined): string[][] {
  if (!replicates) return [[...sets]];
  const eq = replicates.indexOf('=');
  const values = eq > 0 ? replicates.slice(eq + 1).split(',').map((v) => v.trim()).filter(Boolean) : [];
  if (eq <= 0 || values.length === 0) throw new PipelineError('USAGE', `--replicates ${replicates}: expected key=v1,v2,...`, { hint: 'e.g. --replicates seed=0,1,2' });
  const key = replicates.slice(0, eq);
  return values.map((v) => [...sets.filter((s) => !s.startsWith(`${key}=`)), `${key}=${v}`]);
}

function shellWord(s: string): string {
  return /^[A-Za-z0-9_./:=,@+-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`;
}

/** `npx pipeline run FILE --set ...`: what computes a replicate's results. */
export function runCommandFor(src: ReportSource, sets: readonly string[]): string {
  const words = ['npx', 'pipeline', 'run', relative(process.cwd(), src.file) || src.file];
  for (const s of sets) words.push('--set', s);
  if (src.cache) words.push('--cache', src.cache);
  if (src.lock) words.push('--lock', src.lock);
  return words.map(shellWord).join(' ');
}

export interface LoadedReport {
  pipeline: LoadedPipeline;
  plans: PipelinePlan[];
  spec: ReportSpec;
  resolved: ResolvedReport;
}

export async function loadReport(ws: ReportWorkspace, src: ReportSource, select: ReportSelection = {}): Promise<LoadedReport> {
  const lock = await readLock(ws.lockPath, ws.store.layout);
  const replicates: Array<{ plan: PipelinePlan; runCommand: string }> = [];
  let first: LoadedPipeline | undefined;
  for (const sets of replicateSets(src.set, src.replicates)) {
    const pipeline = await loadPipeline(src.file, sets);
    first ??= pipeline;
    const plan = await planPipeline(pipeline, ws.store, ws.fingerprinter, lock.pipelines[pipeline.definition.name]);
    replicates.push({ plan, runCommand: runCommandFor(src, sets) });
  }
  const spec = selectSpec(await buildReportSpec(first!), select);
  const resolved = await resolveReport(replicates, ws.store, spec);
  return { pipeline: first!, plans: replicates.map((r) => r.plan), spec, resolved };
}
