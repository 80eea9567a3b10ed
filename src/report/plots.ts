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
import type { ResolvedPlot } from './resolve.js';

const require = createRequire(import.meta.url);

/** The TTF files resvg renders text with (from the `dejavu-fonts-ttf` npm package). */
export function fontFiles(): string[] {
  const dir = join(dirname(require.resolve('dejavu-fonts-ttf/package.json')), 'ttf');
  return [join(dir, 'DejaVuSans.ttf'), join(dir, 'DejaVuSans-Bold.ttf'), join(dir, 'DejaVuSans-Oblique.ttf')];
}

export const FONT_FAMILY = 'DejaVu Sans';
/** Colour-blind-safe categorical palette (Okabe & Ito), fixed so that colours do not depend on vega's defaults. */
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442'];

function axis(a: ResolvedPlot['spec']['x'], isY: boolean): Record<string, unknown> {
  const scale: Record<string, unknown> = { type: a.log ? 'log' : 'linear' };
  if (a.reverse) scale.reverse = true;
  if (a.domain) scale.domain = a.domain;
  if (!a.log) scale.zero = a.zero ?? !isY;
  else scale.nice = false;
  return {
    type: 'quantitative',
    title: a.title,
    scale,
    axis: { ...(a.format ? { format: a.format } : {}), ...(a.log ? { tickCount: 8 } : {}), labelFlush: false },
  };
}

/** The Vega-Lite specification of a plot (data inlined; deterministic key order). */
export function toVegaLite(plot: ResolvedPlot): TopLevelSpec {
  const s = plot.spec;
  const names = [...new Set(s.series.map((x) => x.name))];
  const color = {
    field: 'series',
    type: 'nominal',
    sort: names,
    scale: { domain: names, range: PALETTE.slice(0, Math.max(1, names.length)) },
    title: s.legend ?? null,
  };
  const x = { field: 'x', ...axis(s.x, false) };
  const band = (s.band ?? true) && plot.rows.some((r) => r.n > 1 && r.hi > r.lo);
  const points = s.points ?? plot.kind === 'points';
  const layers: Array<Record<string, unknown>> = [];
  if (band) {
    layers.push({
      mark: { type: 'area', opacity: 0.2, interpolate: 'linear' },
      encoding: { x, y: { field: 'lo', ...axis(s.y, true) }, y2: { field: 'hi' }, color },
    });
  }
  layers.push({
    mark: { type: 'line', strokeWidth: 2, ...(points ? { point: { filled: true, size: 40 } } : {}) },
    encoding: { x, y: { field: 'y', ...axis(s.y, true) }, color: { ...color, legend: { orient: 'right', labelLimit: 0, symbolType: 'stroke', symbolStrokeWidth: 3 } } },
  });
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
    data: { values: plot.rows.map((r) => ({ series: r.series, x: r.x, y: r.y, lo: r.lo, hi: r.hi, n: r.n })) },
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
