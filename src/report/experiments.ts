/**
 * The experiments table of `pipeline show`: one row per stage instance (a sweep point is a row),
 * with the params that vary, the metrics, the state, and when and where the result was computed.
 * Column choice follows `dvc exp show`: `onlyChanged` keeps only the param and metric columns
 * whose values differ between the rows shown.
 */
import { PipelineError } from '../errors.js';
import type { PipelinePlan } from '../engine/index.js';
import type { JsonValue } from '../store/index.js';
import { flatten } from './diff.js';
import { escapeHtml } from './tables.js';

export interface ExperimentRow {
  id: string;
  stage: string;
  state: string;
  key: string | null;
  durationMs: number | null;
  startedAt: string | null;
  host: string | null;
  /** The compute backend that made the result (and TensorFlow's version on native), if the stage used one. */
  backend: string | null;
  params: Record<string, unknown>;
  metrics: Record<string, JsonValue> | null;
}

export interface ExperimentTable {
  head: string[];
  /** Column kinds, parallel to head. */
  kinds: Array<'fixed' | 'param' | 'metric'>;
  rows: Array<Array<string | number | boolean | null>>;
  /** Params equal in every row (left out of the columns unless allParams). */
  constants: Array<[string, string]>;
}

/**
 * Which backend computed a result, from its run record's provenance: results are interchangeable
 * across backends up to float rounding, so the key leaves it out and the record says it.
 */
export function backendOf(record: { provenance: Record<string, JsonValue> } | undefined): string | null {
  const p = record?.provenance;
  if (!p || typeof p.backend !== 'string') return null;
  const versions = p.versions;
  const tf = versions && typeof versions === 'object' && !Array.isArray(versions) ? versions.tensorflow : undefined;
  return typeof tf === 'string' ? `${p.backend} ${tf}` : p.backend;
}

/**
 * Where a result was computed: the host, and the Slurm job that computed it there (the runner
 * records `provenance.slurm: { jobId, node }` for a stage run as a Slurm job).
 */
export function hostOf(record: { host: string; provenance: Record<string, JsonValue> } | undefined): string | null {
  if (!record) return null;
  const slurm = record.provenance.slurm;
  const jobId = slurm && typeof slurm === 'object' && !Array.isArray(slurm) ? slurm.jobId : undefined;
  return typeof jobId === 'string' ? `${record.host} (Slurm job ${jobId})` : record.host;
}

export function experimentRows(plan: PipelinePlan): ExperimentRow[] {
  return [...plan.stages.values()].map((s) => ({
    id: s.node.id,
    stage: s.node.def.name,
    state: s.state,
    key: s.key ?? null,
    durationMs: s.record?.durationMs ?? null,
    startedAt: s.record?.startedAt ?? null,
    host: hostOf(s.record),
    backend: backendOf(s.record),
    params: s.node.params.effective as Record<string, unknown>,
    metrics: s.record?.metrics ?? null,
  }));
}

function cellOf(v: JsonValue | undefined): string | number | boolean | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'object') return JSON.stringify(v);
  return v;
}

function scalarPaths(rows: Array<Map<string, JsonValue>>): string[] {
  const paths: string[] = [];
  const seen = new Set<string>();
  for (const m of rows) for (const [k, v] of m) if (!seen.has(k) && !(Array.isArray(v) && v.length > 8)) (seen.add(k), paths.push(k));
  return paths;
}

function varies(maps: Array<Map<string, JsonValue>>, path: string): boolean {
  const values = new Set(maps.filter((m) => m.has(path)).map((m) => JSON.stringify(m.get(path))));
  return values.size > 1;
}

export interface ExperimentOptions {
  onlyChanged?: boolean;
  allParams?: boolean;
  sortBy?: string | undefined;
  sortOrder?: 'asc' | 'desc';
  /** Keep only instances of these stage definitions. */
  stages?: readonly string[];
  /** Only metrics whose values are numbers, strings or booleans (no lists or JSON rows). */
  scalarMetrics?: boolean;
}

export function filterAndSort(rows: ExperimentRow[], opts: ExperimentOptions): ExperimentRow[] {
  let out = opts.stages?.length ? rows.filter((r) => opts.stages!.includes(r.stage)) : [...rows];
  if (opts.sortBy) {
    const get = sortKey(out, opts.sortBy);
    const dir = opts.sortOrder === 'desc' ? -1 : 1;
    out = out
      .map((r, i) => ({ r, i, v: get(r) }))
      .sort((a, b) => {
        if (a.v === null || b.v === null) return a.v === null && b.v === null ? a.i - b.i : a.v === null ? 1 : -1;
        const c = typeof a.v === 'number' && typeof b.v === 'number' ? a.v - b.v : String(a.v).localeCompare(String(b.v), 'en');
        return c !== 0 ? c * dir : a.i - b.i;
      })
      .map((x) => x.r);
  }
  return out;
}

const FIXED: Record<string, (r: ExperimentRow) => string | number | null> = {
  id: (r) => r.id,
  stage: (r) => r.stage,
  state: (r) => r.state,
  key: (r) => r.key,
  duration: (r) => r.durationMs,
  when: (r) => r.startedAt,
  host: (r) => r.host,
  backend: (r) => r.backend,
};

function sortKey(rows: ExperimentRow[], name: string): (r: ExperimentRow) => string | number | null {
  if (name in FIXED) return FIXED[name]!;
  const scalar = (v: JsonValue | undefined): string | number | null => (v === undefined || v === null ? null : typeof v === 'number' || typeof v === 'string' ? v : JSON.stringify(v));
  const fromParams = (path: string) => (r: ExperimentRow) => scalar(flatten(r.params as Record<string, JsonValue>).get(path));
  const fromMetrics = (path: string) => (r: ExperimentRow) => scalar(flatten(r.metrics ?? {}).get(path));
  if (name.startsWith('params.')) return fromParams(name.slice(7));
  if (name.startsWith('metrics.')) return fromMetrics(name.slice(8));
  if (rows.some((r) => r.metrics && flatten(r.metrics).has(name))) return fromMetrics(name);
  if (rows.some((r) => flatten(r.params as Record<string, JsonValue>).has(name))) return fromParams(name);
  throw new PipelineError('USAGE', `--sort-by ${name}: no such column`, { hint: `use ${Object.keys(FIXED).join(', ')}, a param (params.NAME) or a metric (metrics.NAME)` });
}

export function experimentTable(rows: ExperimentRow[], opts: ExperimentOptions): ExperimentTable {
  const pmaps = rows.map((r) => flatten(r.params as Record<string, JsonValue>));
  const mmaps = rows.map((r) => flatten(r.metrics ?? {}));
  const allParams = scalarPaths(pmaps);
  const params = opts.allParams && !opts.onlyChanged ? allParams : allParams.filter((p) => varies(pmaps, p));
  const constants = allParams.filter((p) => !params.includes(p)).map((p): [string, string] => [p, JSON.stringify(pmaps.find((m) => m.has(p))!.get(p))]);
  const isScalar = (p: string) => mmaps.every((m) => !m.has(p) || typeof m.get(p) !== 'object' || m.get(p) === null);
  const metrics = scalarPaths(mmaps).filter((p) => (!opts.onlyChanged || varies(mmaps, p)) && (!opts.scalarMetrics || isScalar(p)));
  const clash = new Set([...params, ...metrics].filter((n) => params.includes(n) && metrics.includes(n)).concat([...params, ...metrics].filter((n) => n in FIXED)));
  const head = ['id', 'stage', 'state', ...params.map((p) => (clash.has(p) ? `params.${p}` : p)), ...metrics.map((m) => (clash.has(m) ? `metrics.${m}` : m)), 'duration', 'when', 'host', 'backend'];
  const kinds: ExperimentTable['kinds'] = ['fixed', 'fixed', 'fixed', ...params.map(() => 'param' as const), ...metrics.map(() => 'metric' as const), 'fixed', 'fixed', 'fixed', 'fixed'];
  const out = rows.map((r, i) => [
    r.id,
    r.stage,
    r.state,
    ...params.map((p) => cellOf(pmaps[i]!.get(p))),
    ...metrics.map((m) => cellOf(mmaps[i]!.get(m))),
    r.durationMs,
    r.startedAt,
    r.host,
    r.backend,
  ]);
  return { head, kinds, rows: out, constants };
}

export function formatCell(v: string | number | boolean | null, column: string): string {
  if (v === null) return '-';
  if (column === 'duration' && typeof v === 'number') return v < 1000 ? `${Math.round(v)}ms` : `${(v / 1000).toFixed(1)}s`;
  if (typeof v === 'number' && !Number.isInteger(v)) return String(Number(v.toPrecision(4)));
  return String(v);
}

export function experimentsToMarkdown(t: ExperimentTable): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  const lines = [`| ${t.head.map(esc).join(' | ')} |`, `| ${t.kinds.map((k) => (k === 'fixed' ? ':---' : '---:')).join(' | ')} |`];
  for (const r of t.rows) lines.push(`| ${r.map((v, i) => esc(formatCell(v, t.head[i]!))).join(' | ')} |`);
  return `${lines.join('\n')}\n`;
}

export function experimentsToCsv(t: ExperimentTable): string {
  const field = (s: string): string => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const lines = [t.head.map(field).join(',')];
  for (const r of t.rows) lines.push(r.map((v) => (v === null ? '' : field(String(v)))).join(','));
  return `${lines.join('\n')}\n`;
}

export function experimentsToHtml(t: ExperimentTable): string {
  const out = ['<table class="experiments"><thead><tr>', ...t.head.map((h) => `<th scope="col">${escapeHtml(h)}</th>`), '</tr></thead><tbody>'];
  for (const r of t.rows) out.push(`<tr>${r.map((v, i) => `<td>${escapeHtml(formatCell(v, t.head[i]!))}</td>`).join('')}</tr>`);
  out.push('</tbody></table>');
  return out.join('');
}
