/**
 * `pipeline table`: the tables a pipeline declares (its `report` export), from the cache only, as
 * Markdown, CSV, LaTeX (booktabs) or JSON. A missing result is an error naming the stage ids and
 * the command that computes them (exit 2), unless `--run` computes them first.
 */
import { writeFile } from 'node:fs/promises';
import { PipelineError } from '../../errors.js';
import { loadReport, replicateSets, type LoadedReport, type ReportSource } from '../../report/session.js';
import type { ReportSelection } from '../../report/load.js';
import { renderTables, TABLE_FORMATS, type TableFormat } from '../../report/tables.js';
import { openWorkspace, type WorkspaceOptions } from '../workspace.js';
import { runCommand } from './run.js';

export interface ReportCommonOptions extends WorkspaceOptions {
  set: string[];
  replicates?: string;
  run: boolean;
  jobs?: number;
}

/** Loads and resolves the report; with `--run`, first runs the pipeline (every replicate). */
export async function prepareReport(file: string, opts: ReportCommonOptions, select: ReportSelection = {}): Promise<LoadedReport | number> {
  if (opts.run) {
    for (const sets of replicateSets(opts.set, opts.replicates)) {
      const code = await runCommand(file, { ...opts, set: sets, jobs: opts.jobs, force: [], keepGoing: false, dryRun: false, inline: false, verbose: false, typecheck: true, json: false });
      if (code !== 0) return code;
    }
  }
  const ws = openWorkspace(opts, file);
  const src: ReportSource = { file, set: opts.set, replicates: opts.replicates, cache: opts.cache, lock: opts.lock };
  return loadReport(ws, src, select);
}

export interface TableOptions extends ReportCommonOptions {
  format: string;
  /** --json: the same as --format json. */
  json: boolean;
  table: string[];
  output?: string;
}

export async function tableCommand(file: string, opts: TableOptions): Promise<number> {
  const format = (opts.json ? 'json' : opts.format) as TableFormat;
  if (!TABLE_FORMATS.includes(format)) throw new PipelineError('USAGE', `--format ${opts.format}: expected one of ${TABLE_FORMATS.join(', ')}`);
  const report = await prepareReport(file, opts, { tables: opts.table, plots: null });
  if (typeof report === 'number') return report;
  const tables = report.resolved.tables;
  if (tables.length === 0) throw new PipelineError('USAGE', `pipeline '${report.pipeline.definition.name}' declares no tables`);
  const text = renderTables(tables, format);
  if (opts.output) await writeFile(opts.output, text);
  else process.stdout.write(text);
  return 0;
}
