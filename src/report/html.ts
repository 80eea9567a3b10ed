/**
 * The self-contained HTML report: tables, figures inlined as SVG, and the DAG with each stage's
 * state, in one file with no script and no external resource (opens offline, from a file:// URL
 * or an e-mail attachment). Deterministic: no timestamp of its own; stage times come from the cache.
 */
import type { PipelinePlan } from '../engine/index.js';
import { refsOf } from '../engine/index.js';
import { backendOf } from './experiments.js';
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

/** The DAG as SVG: columns by longest path from a root, rows ordered by the parents' positions. */
export function dagSvg(plan: PipelinePlan): string {
  const order = plan.pipeline.order;
  const parents = new Map<string, string[]>();
  for (const n of order) parents.set(n.id, [...new Set(refsOf(n).flatMap(({ ref }) => (ref.kind === 'output' ? [ref.stageId] : [])))]);
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
figure { margin: 1.5rem 0; } figure svg { max-width: 100%; height: auto; } figcaption { color: #555; font-size: 0.85rem; }
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
  out.push('<h2 id="dag">Stages</h2>');
  out.push(`<p class="meta">${Object.keys(STATE_COLORS).map((s) => `${badge(s)}`).join(' ')} - up-to-date: the lock file's result; cached: in the run cache, not yet in the lock file; stale: must run.</p>`);
  out.push(`<div class="dag-wrap">${dagSvg(plan)}</div>`);
  out.push('<table class="stages" id="stages"><thead><tr><th scope="col">stage instance</th><th scope="col">stage</th><th scope="col">state</th><th scope="col">key</th><th class="num" scope="col">duration</th><th scope="col">computed</th><th scope="col">host</th><th scope="col">backend</th></tr></thead><tbody>');
  for (const s of stages) {
    out.push(
      `<tr data-id="${escapeHtml(s.node.id)}"><td><code>${escapeHtml(s.node.id)}</code></td><td>${escapeHtml(s.node.def.name)}</td><td>${badge(s.state)}</td><td><code>${escapeHtml(s.key?.slice(0, 12) ?? '-')}</code></td>` +
        `<td class="num">${s.record ? formatMs(s.record.durationMs) : '-'}</td><td>${escapeHtml(s.record?.startedAt ?? '-')}</td><td>${escapeHtml(s.record?.host ?? '-')}</td><td>${escapeHtml(backendOf(s.record) ?? '-')}</td></tr>`,
    );
  }
  out.push('</tbody></table>');
  out.push('</body>', '</html>');
  return `${out.join('\n')}\n`;
}
