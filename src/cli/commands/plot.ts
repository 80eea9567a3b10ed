/**
 * `pipeline plot`: the figures a pipeline declares, as Vega-Lite specs (NAME.vl.json) rendered
 * offline to NAME.svg and NAME.png, from the cache only (see `pipeline table` for --run).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { PipelineError } from '../../errors.js';
import { renderPng, renderSvg, toVegaLite } from '../../report/plots.js';
import { prepareReport, type ReportCommonOptions } from './table.js';
import { openWorkspace } from '../workspace.js';
import { writeJson } from '../format.js';

export const PLOT_FORMATS = ['svg', 'png', 'vl'] as const;

export interface PlotOptions extends ReportCommonOptions {
  out?: string;
  plot: string[];
  format: string;
  pngWidth?: number;
  json: boolean;
}

export async function plotCommand(file: string, opts: PlotOptions): Promise<number> {
  const formats = opts.format.split(',').map((f) => f.trim()).filter(Boolean);
  const bad = formats.find((f) => !(PLOT_FORMATS as readonly string[]).includes(f));
  if (bad || formats.length === 0) throw new PipelineError('USAGE', `--format ${opts.format}: expected a comma-separated list of ${PLOT_FORMATS.join(', ')}`);
  const report = await prepareReport(file, opts, { tables: null, plots: opts.plot });
  if (typeof report === 'number') return report;
  const plots = report.resolved.plots;
  if (plots.length === 0) throw new PipelineError('USAGE', `pipeline '${report.pipeline.definition.name}' declares no plots`);
  const outDir = resolve(opts.out ?? join(openWorkspace(opts, file).root, 'reports', report.pipeline.definition.name));
  await mkdir(outDir, { recursive: true });
  const written: string[] = [];
  for (const plot of plots) {
    const vl = toVegaLite(plot);
    const base = join(outDir, plot.spec.name);
    if (formats.includes('vl')) await writeFile(`${base}.vl.json`, `${JSON.stringify(vl, null, 2)}\n`);
    if (formats.includes('svg') || formats.includes('png')) {
      const svg = await renderSvg(vl);
      if (formats.includes('svg')) await writeFile(`${base}.svg`, svg);
      if (formats.includes('png')) await writeFile(`${base}.png`, renderPng(svg, opts.pngWidth ? { width: opts.pngWidth } : {}));
    }
    written.push(...formats.map((f) => `${base}.${f === 'vl' ? 'vl.json' : f}`));
    if (!opts.json) process.stdout.write(`${relative(process.cwd(), base) || base}.{${formats.join(',')}}\n`);
  }
  if (opts.json) writeJson({ pipeline: report.pipeline.definition.name, files: written });
  return 0;
}
