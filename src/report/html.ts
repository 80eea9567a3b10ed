/**
 * The self-contained HTML report: tables, figures inlined as SVG, and the DAG with each stage's
 * state, in one file with no script and no external resource (opens offline, from a file:// URL
 * or an e-mail attachment). Deterministic: no timestamp of its own; stage times come from the cache.
 */
import type { PipelinePlan } from '../engine/index.js';
import { refsOf } from '../engine/index.js';
import type { JsonValue } from '../store/index.js';
import { flatten } from './diff.js';
import { backendOf, hostOf } from './experiments.js';
import { svgForHtml } from './plots.js';
import type { ResolvedReport } from './resolve.js';
import { escapeHtml, tableToHtml } from './tables.js';

export const STATE_COLORS: Readonly<Record<string, { fill: string; stroke: string }>> = {
  'up-to-date': { fill: '#d9f2e3', stroke: '#1a7f46' },
  cached: { fill: '#dbe9f7', stroke: '#1f5f99' },
  stale: { fill: '#fde7d4', stroke: '#b35600' },
};

function truncate(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

/** Per stage id, the ids of the stages it reads outputs of. */
function parentsOf(plan: PipelinePlan): Map<string, string[]> {
  const parents = new Map<string, string[]>();
  for (const n of plan.pipeline.order) parents.set(n.id, [...new Set(refsOf(n).flatMap(({ ref }) => (ref.kind === 'output' ? [ref.stageId] : [])))]);
  return parents;
}

/** The DAG as SVG: columns by longest path from a root, rows ordered by the parents' positions. */
export function dagSvg(plan: PipelinePlan): string {
  const order = plan.pipeline.order;
  const parents = parentsOf(plan);
  const depth = new Map<string, number>();
  for (const n of order) depth.set(n.id, Math.max(-1, ...parents.get(n.id)!.map((p) => depth.get(p) ?? 0)) + 1);
  const columns: string[][] = [];
  for (const n of order) (columns[depth.get(n.id)!] ??= []).push(n.id);
  const row = new Map<string, number>();
  for (const col of columns) {
    const bary = (id: string): number => {
      const ps = parents.get(id)!.map((p) => row.get(p) ?? 0);
      return ps.length ? ps.reduce((a, b) => a + b, 0) / ps.length : 0;
    };
    const sorted = col.map((id, i) => ({ id, i, b: bary(id) })).sort((a, b) => a.b - b.b || a.i - b.i);
    sorted.forEach((x, i) => row.set(x.id, i));
  }
  const W = 190;
  const H = 40;
  const GX = 50;
  const GY = 14;
  const pad = 10;
  const x = (id: string): number => pad + depth.get(id)! * (W + GX);
  const y = (id: string): number => pad + row.get(id)! * (H + GY);
  const width = pad * 2 + columns.length * (W + GX) - GX;
  const height = pad * 2 + Math.max(1, ...columns.map((c) => c.length)) * (H + GY) - GY;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="dag" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Verdana, sans-serif">`,
    '<defs><marker id="dag-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0L10,5L0,10z" fill="#888"/></marker></defs>',
  ];
  for (const n of order) {
    for (const p of parents.get(n.id)!) {
      const x1 = x(p) + W;
      const y1 = y(p) + H / 2;
      const x2 = x(n.id);
      const y2 = y(n.id) + H / 2;
      const mx = (x1 + x2) / 2;
      parts.push(`<path class="dag-edge" d="M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}" fill="none" stroke="#999" stroke-width="1.2" marker-end="url(#dag-arrow)"/>`);
    }
  }
  for (const n of order) {
    const s = plan.stages.get(n.id)!;
    const c = STATE_COLORS[s.state] ?? STATE_COLORS.stale!;
    parts.push(
      `<g class="dag-node" data-id="${escapeHtml(n.id)}" data-state="${s.state}"><title>${escapeHtml(`${n.id} (${n.def.name}): ${s.state}${s.reasons.length ? ` - ${s.reasons.join('; ')}` : ''}`)}</title>` +
        `<rect x="${x(n.id)}" y="${y(n.id)}" width="${W}" height="${H}" rx="6" fill="${c.fill}" stroke="${c.stroke}" stroke-width="1.5"/>` +
        `<text x="${x(n.id) + 8}" y="${y(n.id) + 17}" font-size="12" fill="#111">${escapeHtml(truncate(n.id, 26))}</text>` +
        `<text x="${x(n.id) + 8}" y="${y(n.id) + 32}" font-size="10" fill="#555">${escapeHtml(truncate(`${n.def.name} · ${s.state}`, 32))}</text></g>`,
    );
  }
  parts.push('</svg>');
  return parts.join('\n');
}

/** Prefixes the ids inside an inlined SVG, so that several figures in one page do not clash. */
export function scopeSvgIds(svg: string, prefix: string): string {
  return svg.replace(/\bid="([^"]+)"/g, `id="${prefix}-$1"`).replace(/url\(#([^)]+)\)/g, `url(#${prefix}-$1)`).replace(/href="#([^"]+)"/g, `href="#${prefix}-$1"`);
}

/**
 * The stage instances behind a report's numbers: the ones it reads and everything upstream of them
 * (the prune rates and the rewind iteration shape a ticket's accuracy as much as its own params).
 * In the plan's order.
 */
export function provenanceOf(plan: PipelinePlan, ids: readonly string[]): string[] {
  const parents = parentsOf(plan);
  const seen = new Set<string>();
  const visit = (id: string): void => {
    if (seen.has(id) || !parents.has(id)) return;
    seen.add(id);
    for (const p of parents.get(id)!) visit(p);
  };
  for (const id of ids) visit(id);
  return plan.pipeline.order.map((n) => n.id).filter((id) => seen.has(id));
}

/** A param value as a reader expects it: strings bare, numbers as written, lists and objects as JSON. */
function paramText(v: JsonValue | undefined): string {
  if (v === undefined) return '-';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

export interface ParamsOfStage {
  /** The stage definition (`retrain`, `prune`, ...). */
  stage: string;
  /** Its instances among the report's provenance, in plan order. */
  instances: string[];
  /** Params (dot paths) with one value in every instance. */
  constant: Array<[string, string]>;
  /** Params whose value differs between instances (or that some lack): the value per instance, parallel to `instances`. */
  varying: Array<[string, string[]]>;
}

/** The params of each stage definition the report covers, split into those that vary between instances and the rest. */
export function paramsByStage(plan: PipelinePlan, ids: readonly string[]): ParamsOfStage[] {
  const nodes = provenanceOf(plan, ids).map((id) => plan.stages.get(id)!.node);
  const kinds = [...new Set(nodes.map((n) => n.def.name))];
  return kinds.map((stage) => {
    const of = nodes.filter((n) => n.def.name === stage);
    const maps = of.map((n) => flatten(n.params.effective as Record<string, JsonValue>));
    const paths = [...new Set(maps.flatMap((m) => [...m.keys()]))];
    const constant: ParamsOfStage['constant'] = [];
    const varying: ParamsOfStage['varying'] = [];
    for (const path of paths) {
      const values = maps.map((m) => (m.has(path) ? paramText(m.get(path)) : '-'));
      if (new Set(values).size === 1) constant.push([path, values[0]!]);
      else varying.push([path, values]);
    }
    return { stage, instances: of.map((n) => n.id), constant, varying };
  });
}

/** The distinct values of a varying param, in first-appearance order ('-': some instances lack it). */
function distinct(values: readonly string[]): string {
  return [...new Set(values)].join(', ');
}

/**
 * The hyperparameter tables. One table, a row per param and a column per stage definition: the
 * value common to all instances, or (highlighted, class `varies`) the values it takes. Then, listed
 * apart, each definition whose params vary gets the value per instance: what differs between the
 * runs is what a reader looks for first.
 */
export function hyperparameterHtml(groups: readonly ParamsOfStage[]): string {
  const paths = [...new Set(groups.flatMap((g) => [...g.varying.map(([p]) => p), ...g.constant.map(([p]) => p)]))];
  const cell = (g: ParamsOfStage, path: string): string => {
    const c = g.constant.find(([p]) => p === path);
    if (c) return `<td>${escapeHtml(c[1])}</td>`;
    const v = g.varying.find(([p]) => p === path);
    return v ? `<td class="varies" title="varies between instances">${escapeHtml(distinct(v[1]))}</td>` : '<td class="absent"></td>';
  };
  const out = ['<table class="params" id="hyperparameters-table">'];
  out.push(`<thead><tr><th scope="col">parameter</th>${groups.map((g) => `<th scope="col" data-stage="${escapeHtml(g.stage)}"><code>${escapeHtml(g.stage)}</code> <span class="range">(${g.instances.length})</span></th>`).join('')}</tr></thead><tbody>`);
  for (const path of paths) {
    const varies = groups.some((g) => g.varying.some(([p]) => p === path));
    out.push(`<tr${varies ? ' class="varies"' : ''} data-param="${escapeHtml(path)}"><td><code>${escapeHtml(path)}</code></td>${groups.map((g) => cell(g, path)).join('')}</tr>`);
  }
  out.push('</tbody></table>');
  for (const g of groups.filter((x) => x.varying.length > 0)) {
    out.push(`<table class="params params-varying" data-stage="${escapeHtml(g.stage)}"><caption><code>${escapeHtml(g.stage)}</code>: the params that vary, per instance</caption>`);
    out.push(`<thead><tr><th scope="col">stage instance</th>${g.varying.map(([p]) => `<th scope="col"><code>${escapeHtml(p)}</code></th>`).join('')}</tr></thead><tbody>`);
    g.instances.forEach((id, i) => out.push(`<tr><td><code>${escapeHtml(id)}</code></td>${g.varying.map(([, v]) => `<td>${escapeHtml(v[i]!)}</td>`).join('')}</tr>`));
    out.push('</tbody></table>');
  }
  return out.join('\n');
}

function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  return s < 120 ? `${s.toFixed(1)} s` : `${(s / 60).toFixed(1)} min`;
}

const CSS = `
body { font-family: "DejaVu Sans", Verdana, sans-serif; margin: 2rem auto; max-width: 1100px; padding: 0 1rem; color: #222; line-height: 1.4; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; } h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; }
.meta { color: #666; font-size: 0.9rem; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }
caption { text-align: left; font-weight: bold; padding-bottom: 0.4rem; }
th, td { padding: 0.25rem 0.7rem; border-bottom: 1px solid #e3e3e3; text-align: left; }
thead th { border-bottom: 2px solid #555; } tbody tr:last-child td { border-bottom: 2px solid #555; }
.num { text-align: right; font-variant-numeric: tabular-nums; } .range { color: #777; font-size: 0.8em; }
.caption { color: #555; font-size: 0.85rem; margin-top: -0.5rem; }
figure { margin: 1.5rem 0; } figcaption { color: #555; font-size: 0.85rem; }
/* Figures take the content column's whole width (the SVG scales by its viewBox; its own width attribute is the 1x size). */
figure svg { display: block; width: 100%; height: auto; }
table.params-varying { display: inline-table; vertical-align: top; margin-right: 1.5rem; }
.params td.varies, .params-varying td + td { background: #fff3c4; } .params tr.varies td:first-child { font-weight: bold; }
.dag-wrap { overflow: auto; border: 1px solid #ddd; padding: 0.5rem; max-height: 70vh; }
.state { display: inline-block; padding: 0 0.4rem; border-radius: 4px; border: 1px solid; font-size: 0.8rem; }
code { font-size: 0.85em; }
`;

export interface HtmlReportInput {
  title: string;
  plan: PipelinePlan;
  resolved: ResolvedReport;
  /** SVG text per plot name. */
  svgs: ReadonlyMap<string, string>;
}

export function reportHtml(input: HtmlReportInput): string {
  const { plan, resolved } = input;
  const stages = [...plan.stages.values()];
  const counts = { 'up-to-date': 0, cached: 0, stale: 0 } as Record<string, number>;
  for (const s of stages) counts[s.state] = (counts[s.state] ?? 0) + 1;
  const badge = (state: string): string => {
    const c = STATE_COLORS[state] ?? STATE_COLORS.stale!;
    return `<span class="state" style="background:${c.fill};border-color:${c.stroke}">${escapeHtml(state)}</span>`;
  };
  const out: string[] = [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(input.title)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    `<h1>${escapeHtml(input.title)}</h1>`,
    `<p class="meta">Pipeline <code>${escapeHtml(plan.pipeline.definition.name)}</code>${plan.pipeline.definition.description ? ` - ${escapeHtml(plan.pipeline.definition.description)}` : ''}; params <code>${escapeHtml(JSON.stringify(plan.pipeline.params))}</code>; ${stages.length} stages: ${Object.entries(counts).filter(([, n]) => n > 0).map(([s, n]) => `${n} ${escapeHtml(s)}`).join(', ')}. Every number below comes from the run cache.</p>`,
  ];
  if (resolved.tables.length) {
    out.push('<h2 id="tables">Tables</h2>');
    for (const t of resolved.tables) out.push(tableToHtml(t));
  }
  if (resolved.plots.length) {
    out.push('<h2 id="figures">Figures</h2>');
    resolved.plots.forEach((p, i) => {
      const svg = input.svgs.get(p.spec.name);
      if (!svg) return;
      out.push(`<figure id="figure-${escapeHtml(p.spec.name)}" data-plot="${escapeHtml(p.spec.name)}">${scopeSvgIds(svgForHtml(svg), `fig${i + 1}`)}<figcaption>Figure ${i + 1}: ${escapeHtml(p.spec.title ?? p.spec.name)}</figcaption></figure>`);
    });
  }
  const params = paramsByStage(plan, resolved.stages);
  if (params.length) {
    out.push('<h2 id="hyperparameters">Hyperparameters</h2>');
    out.push('<p class="meta">The params of the stages behind the tables and figures and of those upstream of them, per stage definition (number of instances in brackets). Highlighted: params whose value differs between instances, with the values they take; below, the value per instance.</p>');
    out.push(hyperparameterHtml(params));
  }
  out.push('<h2 id="dag">Stages</h2>');
  out.push(`<p class="meta">${Object.keys(STATE_COLORS).map((s) => `${badge(s)}`).join(' ')} - up-to-date: the lock file's result; cached: in the run cache, not yet in the lock file; stale: must run.</p>`);
  out.push(`<div class="dag-wrap">${dagSvg(plan)}</div>`);
  out.push('<table class="stages" id="stages"><thead><tr><th scope="col">stage instance</th><th scope="col">stage</th><th scope="col">state</th><th scope="col">key</th><th class="num" scope="col">duration</th><th scope="col">computed</th><th scope="col">host</th><th scope="col">backend</th></tr></thead><tbody>');
  for (const s of stages) {
    out.push(
      `<tr data-id="${escapeHtml(s.node.id)}"><td><code>${escapeHtml(s.node.id)}</code></td><td>${escapeHtml(s.node.def.name)}</td><td>${badge(s.state)}</td><td><code>${escapeHtml(s.key?.slice(0, 12) ?? '-')}</code></td>` +
        `<td class="num">${s.record ? formatMs(s.record.durationMs) : '-'}</td><td>${escapeHtml(s.record?.startedAt ?? '-')}</td><td>${escapeHtml(hostOf(s.record) ?? '-')}</td><td>${escapeHtml(backendOf(s.record) ?? '-')}</td></tr>`,
    );
  }
  out.push('</tbody></table>');
  out.push('</body>', '</html>');
  return `${out.join('\n')}\n`;
}
