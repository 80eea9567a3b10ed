/**
 * Turns a report spec into numbers: every `metric` and `series` reference is looked up in the run
 * cache through the pipeline's plan (never by running anything). Every result that is missing is
 * collected first, so that one error names them all, by stage id, with the command that computes
 * them.
 */
import { readFile } from 'node:fs/promises';
import { PipelineError } from '../errors.js';
import type { PipelinePlan, StagePlan } from '../engine/index.js';
import { refsOf, type LoadedPipeline } from '../engine/index.js';
import type { Store } from '../store/index.js';
import { joinSentences, type CellFormat, type CellValue, type ColumnSpec, type MetricRef, type PlotSpec, type ReportPipeline, type ReportSpec, type ReportStage, type SeriesRef, type TableSpec } from './spec.js';

/** A cell after lookup: one value, or the aggregate of replicates. */
export type ResolvedCell =
  | { kind: 'empty' }
  | { kind: 'text'; value: string }
  | { kind: 'number'; mean: number; min: number; max: number; n: number }
  /** Booleans: `share` of true over `n` replicates. */
  | { kind: 'boolean'; share: number; n: number };

export interface ResolvedColumn extends ColumnSpec {
  format: CellFormat;
  align: 'left' | 'right';
  /** Some cell of this column aggregates more than one replicate. */
  aggregated: boolean;
}

export interface ResolvedTable {
  name: string;
  title: string | undefined;
  /** The spec's caption, with its replicate note when some cell aggregates replicates. */
  caption: string | undefined;
  /** The most replicates any cell aggregates (1: a single run). */
  replicates: number;
  columns: ResolvedColumn[];
  rows: Array<Record<string, ResolvedCell>>;
}

export interface PlotRow {
  series: string;
  x: number;
  y: number;
  lo: number;
  hi: number;
  n: number;
}

export interface ResolvedPlot {
  spec: PlotSpec;
  rows: PlotRow[];
  kind: 'points' | 'curve';
}

export interface ResolvedReport {
  pipeline: string;
  /** The stage ids whose results the tables and figures read, in first-use order. */
  stages: string[];
  tables: ResolvedTable[];
  plots: ResolvedPlot[];
}

/** The view of a loaded pipeline that report functions get. */
export function reportPipelineOf(pipeline: LoadedPipeline): ReportPipeline {
  const stages: ReportStage[] = pipeline.order.map((n) => ({
    id: n.id,
    stage: n.def.name,
    params: n.params.effective as Record<string, unknown>,
    outputs: n.outputs,
    upstream: [...new Set(refsOf(n).flatMap(({ ref }) => (ref.kind === 'output' ? [ref.stageId] : [])))],
  }));
  const byId = new Map(stages.map((s) => [s.id, s]));
  return {
    name: pipeline.definition.name,
    file: pipeline.file,
    params: pipeline.params,
    stages,
    stage(id) {
      const s = byId.get(id);
      if (!s) throw new PipelineError('PIPELINE_INVALID', `the report refers to stage '${id}', which the pipeline does not define`, { where: pipeline.file });
      return s;
    },
    find(stageName, where) {
      return stages.filter((s) => s.stage === stageName && (!where || where(s)));
    },
  };
}

/** Every stage id a spec reads results of, in first-use order. */
export function referencedStages(spec: ReportSpec): string[] {
  const ids = new Set<string>();
  const add = (v: unknown): void => {
    if (typeof v === 'object' && v !== null && ((v as MetricRef).kind === 'metric' || (v as SeriesRef).kind === 'series')) for (const id of (v as MetricRef).stages) ids.add(id);
  };
  for (const t of spec.tables ?? []) for (const row of t.rows) for (const v of Object.values(row)) add(v);
  for (const p of spec.plots ?? []) {
    for (const s of p.series) {
      if ('curve' in s) add(s.curve);
      else for (const pt of s.points) (add(pt.x), add(pt.y));
    }
  }
  return [...ids];
}

/** One load of the pipeline: several with different `--set` values are replicates of each other. */
export interface ReplicatePlan {
  plan: PipelinePlan;
  /** The command that computes what is missing in this replicate, for the error message. */
  runCommand: string;
}

/** What a reference reads: the plans of one stage id in every replicate. */
type Lookup = (id: string) => StagePlan[];

export async function resolveReport(replicates: readonly ReplicatePlan[], store: Store, spec: ReportSpec): Promise<ResolvedReport> {
  const first = replicates[0];
  if (!first) throw new PipelineError('INTERNAL', 'resolveReport: no plan');
  const file = first.plan.pipeline.file;
  const ids = referencedStages(spec);
  for (const { plan } of replicates) {
    const unknown = ids.filter((id) => !plan.stages.has(id));
    if (unknown.length > 0) {
      throw new PipelineError('PIPELINE_INVALID', `the report refers to stage ${unknown.map((i) => `'${i}'`).join(', ')}, which the pipeline does not define`, {
        where: file,
        hint: `stage ids: ${[...plan.stages.keys()].slice(0, 10).join(', ')}${plan.stages.size > 10 ? ', ...' : ''}`,
      });
    }
  }
  const missing: string[] = [];
  const commands: string[] = [];
  for (const { plan, runCommand } of replicates) {
    const here = ids.filter((id) => !plan.stages.get(id)!.record);
    if (here.length === 0) continue;
    for (const id of here) if (!missing.includes(id)) missing.push(id);
    commands.push(runCommand);
  }
  if (missing.length > 0) {
    const shown = missing.slice(0, 12);
    const n = missing.length;
    throw new PipelineError('RESULT_MISSING', `${n} result${n === 1 ? '' : 's'} the report needs ${n === 1 ? 'is' : 'are'} not in the cache: ${shown.join(', ')}${n > shown.length ? `, ... (${n - shown.length} more)` : ''}`, {
      where: file,
      hint: `compute ${n === 1 ? 'it' : 'them'} with: ${commands.join('  &&  ')}   (or add --run to this command)`,
    });
  }
  const lookup: Lookup = (id) => replicates.map((r) => r.plan.stages.get(id)!);
  const tables = (spec.tables ?? []).map((t) => resolveTable(t, lookup));
  const plots: ResolvedPlot[] = [];
  for (const p of spec.plots ?? []) plots.push(await resolvePlot(p, lookup, replicates, store));
  return { pipeline: first.plan.pipeline.definition.name, stages: ids, tables, plots };
}

export function valueAt(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** Aggregates the values of replicates: numbers to mean/min/max, booleans to a share. */
export function aggregate(values: readonly unknown[]): ResolvedCell {
  const present = values.filter((v) => v !== null && v !== undefined && !(typeof v === 'number' && !Number.isFinite(v)));
  if (present.length === 0) return { kind: 'empty' };
  if (present.every((v) => typeof v === 'number')) {
    const nums = present as number[];
    let sum = 0;
    for (const v of nums) sum += v;
    return { kind: 'number', mean: sum / nums.length, min: Math.min(...nums), max: Math.max(...nums), n: nums.length };
  }
  if (present.every((v) => typeof v === 'boolean')) {
    return { kind: 'boolean', share: present.filter((v) => v).length / present.length, n: present.length };
  }
  const texts = [...new Set(present.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))))];
  return { kind: 'text', value: texts.join(' / ') };
}

function resolveCell(v: CellValue, lookup: Lookup): ResolvedCell {
  if (v === null || v === undefined) return { kind: 'empty' };
  if (typeof v === 'object') return aggregate(v.stages.flatMap((id) => lookup(id).map((p) => valueAt(p.record!.metrics, v.path))));
  return aggregate([v]);
}

function defaultFormat(cells: ResolvedCell[]): CellFormat {
  if (cells.some((c) => c.kind === 'boolean')) return 'yesno';
  if (cells.some((c) => c.kind === 'number')) return cells.every((c) => c.kind !== 'number' || (Number.isInteger(c.mean) && Number.isInteger(c.min))) ? 'int' : 'fixed:4';
  return 'text';
}

function resolveTable(t: TableSpec, plan: Lookup): ResolvedTable {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(t.name)) throw new PipelineError('PIPELINE_INVALID', `report table name '${t.name}' must use only letters, digits, '_', '.', '-'`);
  const rows = t.rows.map((row) => Object.fromEntries(t.columns.map((c) => [c.key, resolveCell(row[c.key] ?? null, plan)])));
  const columns = t.columns.map((c): ResolvedColumn => {
    const cells = rows.map((r) => r[c.key]!);
    const format = c.format ?? defaultFormat(cells);
    return {
      ...c,
      format,
      align: c.align ?? (format === 'text' ? 'left' : 'right'),
      aggregated: cells.some((x) => x.kind === 'number' && x.n > 1),
    };
  });
  const replicates = Math.max(1, ...rows.flatMap((r) => Object.values(r).map(replicatesOf)));
  // The note on replicates ('mean [min, max]') only where a cell is an aggregate: one run has no range.
  const caption = replicates > 1 && t.replicateNote ? joinSentences(t.caption, t.replicateNote) : t.caption;
  return { name: t.name, title: t.title, caption, columns, rows, replicates };
}

function replicatesOf(c: ResolvedCell): number {
  return c.kind === 'number' || c.kind === 'boolean' ? c.n : 1;
}

function num(v: number | MetricRef, plan: Lookup): ResolvedCell {
  return typeof v === 'number' ? aggregate([v]) : resolveCell(v, plan);
}

/** (x, y) pairs of a curve artifact: an array of objects, or an object of parallel arrays. */
export function curvePairs(data: unknown, ref: Pick<SeriesRef, 'x' | 'y' | 'scaleX' | 'scaleY'>): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const sx = ref.scaleX ?? 1;
  const sy = ref.scaleY ?? 1;
  const push = (x: unknown, y: unknown): void => {
    if (typeof x === 'number' && typeof y === 'number' && Number.isFinite(x) && Number.isFinite(y)) out.push([x * sx, y * sy]);
  };
  if (Array.isArray(data)) for (const item of data) push(valueAt(item, ref.x), valueAt(item, ref.y));
  else {
    const xs = valueAt(data, ref.x);
    const ys = valueAt(data, ref.y);
    if (Array.isArray(xs) && Array.isArray(ys)) for (let i = 0; i < Math.min(xs.length, ys.length); i++) push(xs[i], ys[i]);
  }
  return out;
}

async function resolvePlot(spec: PlotSpec, lookup: Lookup, replicates: readonly ReplicatePlan[], store: Store): Promise<ResolvedPlot> {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(spec.name)) throw new PipelineError('PIPELINE_INVALID', `report plot name '${spec.name}' must use only letters, digits, '_', '.', '-'`);
  const rows: PlotRow[] = [];
  let kind: 'points' | 'curve' = 'points';
  for (const s of spec.series) {
    if ('curve' in s) {
      kind = 'curve';
      const byX = new Map<number, number[]>();
      for (const { p, runCommand } of s.curve.stages.flatMap((id) => replicates.map((r) => ({ p: r.plan.stages.get(id)!, runCommand: r.runCommand })))) {
        const id = p.node.id;
        const info = p.record!.outputs[s.curve.output];
        let data: unknown;
        if (s.curve.output === 'metrics') data = p.record!.metrics;
        else if (!info) {
          throw new PipelineError('PIPELINE_INVALID', `the report reads output '${s.curve.output}' of stage '${id}', which has none of that name`, {
            hint: `its outputs: ${Object.keys(p.record!.outputs).join(', ')}`,
          });
        } else data = JSON.parse(await readFile(await store.objects.verifiedResult(info.digest, `output '${s.curve.output}' of stage '${id}'`, runCommand), 'utf8'));
        for (const [x, y] of curvePairs(data, s.curve)) {
          const list = byX.get(x);
          if (list) list.push(y);
          else byX.set(x, [y]);
        }
      }
      for (const x of [...byX.keys()].sort((a, b) => a - b)) {
        const agg = aggregate(byX.get(x)!);
        if (agg.kind === 'number') rows.push({ series: s.name, x, y: agg.mean, lo: agg.min, hi: agg.max, n: agg.n });
      }
    } else {
      const pts: PlotRow[] = [];
      for (const pt of s.points) {
        const x = num(pt.x, lookup);
        const y = num(pt.y, lookup);
        if (x.kind !== 'number' || y.kind !== 'number') continue;
        pts.push({ series: s.name, x: x.mean, y: y.mean, lo: y.min, hi: y.max, n: y.n });
      }
      rows.push(...pts.sort((a, b) => a.x - b.x));
    }
  }
  return { spec, rows, kind };
}
