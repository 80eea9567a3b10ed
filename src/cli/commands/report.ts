/**
 * `pipeline report`: one self-contained HTML file with the pipeline's tables, its figures inlined
 * as SVG and the DAG with each stage's state. No scripts, no network. From the cache only (see
 * `pipeline table` for --run).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { reportHtml } from '../../report/html.js';
import { renderSvg, toVegaLite } from '../../report/plots.js';
import { prepareReport, type ReportCommonOptions } from './table.js';
import { openWorkspace } from '../workspace.js';
import { writeJson } from '../format.js';

export interface ReportOptions extends ReportCommonOptions {
  output?: string;
  title?: string;
  table: string[];
  plot: string[];
  json: boolean;
}

export async function reportCommand(file: string, opts: ReportOptions): Promise<number> {
  const report = await prepareReport(file, opts, { tables: opts.table, plots: opts.plot });
  if (typeof report === 'number') return report;
  const name = report.pipeline.definition.name;
  const svgs = new Map<string, string>();
  for (const plot of report.resolved.plots) svgs.set(plot.spec.name, await renderSvg(toVegaLite(plot)));
  const html = reportHtml({ title: opts.title ?? `${name}: report`, plan: report.plans[0]!, resolved: report.resolved, svgs });
  const target = resolve(opts.output ?? join(openWorkspace(opts, file).root, 'reports', name, 'report.html'));
  await mkdir(dirname(target), { recursive: true });
  await writeFile(target, html);
  if (opts.json) writeJson({ pipeline: name, file: target, tables: report.resolved.tables.length, plots: report.resolved.plots.length });
  else process.stdout.write(`${relative(process.cwd(), target) || target}\n`);
  return 0;
}
