/**
 * Figures: a resolved plot becomes a Vega-Lite specification (data inlined), compiled to Vega and
 * rendered headless to SVG (`renderer: 'none'`, text widths by vega's built-in estimate, never a
 * canvas, so the layout does not depend on what is installed), then to PNG with resvg using the
 * DejaVu Sans files of the `dejavu-fonts-ttf` npm package and no system fonts: the same numbers
 * give the same SVG and PNG bytes on every machine, offline.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { PlotRow, ResolvedPlot } from './resolve.js';

const require = createRequire(import.meta.url);

/** The TTF files resvg renders text with (from the `dejavu-fonts-ttf` npm package). */
export function fontFiles(): string[] {
  const dir = join(dirname(require.resolve('dejavu-fonts-ttf/package.json')), 'ttf');
  return [join(dir, 'DejaVuSans.ttf'), join(dir, 'DejaVuSans-Bold.ttf'), join(dir, 'DejaVuSans-Oblique.ttf')];
}

export const FONT_FAMILY = 'DejaVu Sans';
/** Colour-blind-safe categorical palette (Okabe & Ito), fixed so that colours do not depend on vega's defaults. */
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442'];

/** Marker shapes, one per series in legend order (as the palette's colours): series stay apart in print and where they overlap. */
export const SHAPES = ['circle', 'square', 'triangle-up', 'diamond', 'triangle-down', 'cross', 'triangle-right', 'triangle-left'];

/** Pixels between two dodged series: 2 px lines with a 2 px gap, markers half apart. */
const DODGE_PX = 4;

type Axis = ResolvedPlot['spec']['x'];

/** Whether an axis shows integers only: said by the spec, else every value on it is an integer (linear axes). */
export function isIntegerAxis(a: Axis, values: readonly number[]): boolean {
  if (a.integer !== undefined) return a.integer;
  return !a.log && values.length > 0 && values.every((v) => Number.isInteger(v));
}

/** Explicit tick values of an axis, if the spec asks for them; 'data': each distinct value once, in order. */
function tickValues(a: Axis, values: readonly number[]): number[] | undefined {
  if (a.ticks === 'data') return [...new Set(values)].sort((x, y) => x - y);
  return a.ticks ? [...a.ticks] : undefined;
}

function axis(a: Axis, isY: boolean, integer: boolean, values?: number[]): Record<string, unknown> {
  const scale: Record<string, unknown> = { type: a.log ? 'log' : 'linear' };
  if (a.reverse) scale.reverse = true;
  if (a.domain) scale.domain = a.domain;
  if (!a.log) scale.zero = a.zero ?? !isY;
  else scale.nice = false;
  return {
    type: 'quantitative',
    title: a.title,
    scale,
    // tickMinStep 1: an axis of iterations or levels has no tick at 0.5 (nor a label '0.5').
    axis: { ...(a.format ? { format: a.format } : {}), ...(a.log && !values ? { tickCount: 8 } : {}), ...(integer ? { tickMinStep: 1 } : {}), ...(values ? { values } : {}), labelFlush: false },
  };
}

/** Two points at the same place: same x, y closer than 1% of the y values' range (about the width of a line). */
function samePlace(a: PlotRow, b: PlotRow, yTolerance: number): boolean {
  const dx = Math.abs(a.x - b.x);
  return dx <= 1e-9 * Math.max(1, Math.abs(a.x), Math.abs(b.x)) && Math.abs(a.y - b.y) <= yTolerance;
}

/**
 * Pixel offsets of series that lie on top of each other: a series hides another when more than
 * half the points of the shorter one are at the same place (one shared point, e.g. the dense
 * network every method starts from, is not enough: the marker shapes tell those apart). Such
 * series are shifted apart by DODGE_PX, centred on the true value; the others stay at 0.
 */
export function dodgeOffsets(rows: readonly PlotRow[], names: readonly string[]): Map<string, number> {
  const bySeries = new Map(names.map((n) => [n, rows.filter((r) => r.series === n)]));
  const ys = rows.map((r) => r.y);
  const tolerance = rows.length ? (Math.max(...ys) - Math.min(...ys)) * 0.01 : 0;
  // Union-find over the series: a cluster is a set of series drawn on top of each other.
  const root = new Map(names.map((n) => [n, n]));
  const find = (n: string): string => (root.get(n) === n ? n : find(root.get(n)!));
  for (let i = 0; i < names.length; i++) {
    for (let j = i + 1; j < names.length; j++) {
      const a = bySeries.get(names[i]!)!;
      const b = bySeries.get(names[j]!)!;
      const shared = a.filter((p) => b.some((q) => samePlace(p, q, tolerance))).length;
      if (shared * 2 > Math.min(a.length, b.length)) root.set(find(names[j]!), find(names[i]!));
    }
  }
  const clusters = new Map<string, string[]>();
  for (const n of names) {
    const r = find(n);
    clusters.set(r, [...(clusters.get(r) ?? []), n]);
  }
  const out = new Map<string, number>();
  for (const members of clusters.values()) members.forEach((n, k) => out.set(n, members.length > 1 ? (k - (members.length - 1) / 2) * DODGE_PX : 0));
  return out;
}

/** The Vega-Lite specification of a plot (data inlined; deterministic key order). */
export function toVegaLite(plot: ResolvedPlot): TopLevelSpec {
  const s = plot.spec;
  const names = [...new Set(s.series.map((x) => x.name))];
  const legendTitle = s.legend ?? null;
  const color = {
    field: 'series',
    type: 'nominal',
    sort: names,
    scale: { domain: names, range: PALETTE.slice(0, Math.max(1, names.length)) },
    title: legendTitle,
  };
  const xs = plot.rows.map((r) => r.x);
  const ys = plot.rows.map((r) => r.y);
  const x = { field: 'x', ...axis(s.x, false, isIntegerAxis(s.x, xs), tickValues(s.x, xs)) };
  const yAxis = axis(s.y, true, isIntegerAxis(s.y, plot.rows.flatMap((r) => [r.y, r.lo, r.hi])), tickValues(s.y, ys));
  const band = (s.band ?? true) && plot.rows.some((r) => r.n > 1 && r.hi > r.lo);
  const points = s.points ?? plot.kind === 'points';
  const offsets = (s.dodge ?? true) ? dodgeOffsets(plot.rows, names) : new Map<string, number>();
  const dodged = [...offsets.values()].some((o) => o !== 0);
  // A dodged series is drawn a few pixels off its values: the offset is a datum field, read by every layer.
  const shift = dodged ? { yOffset: { expr: 'datum.dodge' } } : {};
  const layers: Array<Record<string, unknown>> = [];
  if (band) {
    layers.push({
      mark: { type: 'area', opacity: 0.2, interpolate: 'linear', ...(dodged ? { yOffset: { expr: 'datum.dodge' }, y2Offset: { expr: 'datum.dodge' } } : {}) },
      encoding: { x, y: { field: 'lo', ...yAxis }, y2: { field: 'hi' }, color },
    });
  }
  // With markers the legend shows each series' shape in its colour (one legend: same field, same title); else a stroke.
  const legend = points ? { orient: 'right', labelLimit: 0, symbolSize: 60 } : { orient: 'right', labelLimit: 0, symbolType: 'stroke', symbolStrokeWidth: 3 };
  layers.push({
    mark: { type: 'line', strokeWidth: 2, ...shift },
    encoding: { x, y: { field: 'y', ...yAxis }, color: { ...color, legend } },
  });
  if (points) {
    // One marker shape per series, with a white rim: two series with equal values stay apart.
    const shape = { field: 'series', type: 'nominal', sort: names, scale: { domain: names, range: SHAPES.slice(0, Math.max(1, names.length)) }, title: legendTitle, legend };
    layers.push({
      mark: { type: 'point', filled: true, size: 50, opacity: 1, stroke: 'white', strokeWidth: 0.75, ...shift },
      encoding: { x, y: { field: 'y', ...yAxis }, color: { ...color, legend }, shape },
    });
  }
  if (s.rule) {
    layers.push({
      data: { values: [{ y: s.rule.y, label: s.rule.label ?? '' }] },
      layer: [
        { mark: { type: 'rule', strokeDash: [5, 4], color: '#666666' }, encoding: { y: { field: 'y', type: 'quantitative' } } },
        ...(s.rule.label
          ? [{ mark: { type: 'text', align: 'left', baseline: 'bottom', dx: 4, dy: -2, color: '#444444', fontSize: 11 }, encoding: { y: { field: 'y', type: 'quantitative' }, x: { value: 0 }, text: { field: 'label' } } }]
          : []),
      ],
    });
  }
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...(s.title ? { title: { text: s.title, anchor: 'start', fontSize: 14 } } : {}),
    width: s.width ?? 480,
    height: s.height ?? 300,
    background: 'white',
    padding: 8,
    data: { values: plot.rows.map((r) => ({ series: r.series, x: r.x, y: r.y, lo: r.lo, hi: r.hi, n: r.n, ...(dodged ? { dodge: offsets.get(r.series) ?? 0 } : {}) })) },
    layer: layers,
    config: {
      font: FONT_FAMILY,
      axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal', gridColor: '#e6e6e6' },
      legend: { labelFontSize: 11, titleFontSize: 12, symbolOpacity: 1 },
      view: { stroke: '#bbbbbb' },
    },
  };
  return spec as unknown as TopLevelSpec;
}

let metricsConfigured = false;

/** Renders a Vega-Lite spec to SVG text, headless. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  if (!metricsConfigured) {
    // Estimate text widths even if a canvas package happens to be installed: same layout everywhere.
    (vega as unknown as { textMetrics: { canvas(use: boolean): void } }).textMetrics.canvas(false);
    metricsConfigured = true;
  }
  const compiled = compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', logLevel: vega.Error });
  try {
    const svg = await view.toSVG();
    return svg.endsWith('\n') ? svg : `${svg}\n`;
  } finally {
    view.finalize();
  }
}

export interface PngOptions {
  /** Width of the image in pixels (height follows the aspect ratio). Default: twice the SVG's width. */
  width?: number;
}

/** Renders SVG text to PNG bytes with resvg and the bundled DejaVu fonts only. */
export function renderPng(svg: string, opts: PngOptions = {}): Buffer {
  const r = new Resvg(svg, {
    fitTo: opts.width ? { mode: 'width', value: opts.width } : { mode: 'zoom', value: 2 },
    background: 'white',
    font: { loadSystemFonts: false, fontFiles: fontFiles(), defaultFontFamily: FONT_FAMILY, sansSerifFamily: FONT_FAMILY, serifFamily: FONT_FAMILY, monospaceFamily: FONT_FAMILY },
    shapeRendering: 2,
    textRendering: 1,
    imageRendering: 0,
  });
  return r.render().asPng();
}

/** The `<svg>` element alone (no XML prolog), for inlining in HTML. */
export function svgForHtml(svg: string): string {
  return svg.replace(/^<\?xml[^>]*>\s*/, '').trim();
}
