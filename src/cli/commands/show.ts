/**
 * `pipeline show`: the experiments table: one row per stage instance (a sweep point is a row), with
 * the params that vary, the metrics, the state, and when and where it was computed. Like
 * `dvc exp show`: `--only-changed` keeps only the param and metric columns whose values differ,
 * `--sort-by`, and `--md` / `--csv` / `--json` output.
 */
import { PipelineError } from '../../errors.js';
import { experimentRows, experimentsToCsv, experimentsToMarkdown, experimentTable, filterAndSort, formatCell } from '../../report/experiments.js';
import { textTable } from '../format.js';
import { planInWorkspace, type WorkspaceOptions } from '../workspace.js';

export interface ShowOptions extends WorkspaceOptions {
  set: string[];
  json: boolean;
  md?: boolean;
  csv?: boolean;
  onlyChanged?: boolean;
  allParams?: boolean;
  sortBy?: string;
  sortOrder?: string;
  stage?: string[];
}

export async function showCommand(file: string, opts: ShowOptions): Promise<number> {
  if ([opts.json, opts.md, opts.csv].filter(Boolean).length > 1) throw new PipelineError('USAGE', 'choose one of --json, --md, --csv');
  const sortOrder = opts.sortOrder ?? 'asc';
  if (sortOrder !== 'asc' && sortOrder !== 'desc') throw new PipelineError('USAGE', `--sort-order ${sortOrder}: expected asc or desc`);
  const { plan } = await planInWorkspace(file, opts);
  const xo = { onlyChanged: !!opts.onlyChanged, allParams: !!opts.allParams, sortBy: opts.sortBy, sortOrder, stages: opts.stage ?? [] } as const;
  const rows = filterAndSort(experimentRows(plan), xo);
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return 0;
  }
  const table = experimentTable(rows, xo);
  if (opts.md) process.stdout.write(experimentsToMarkdown(table));
  else if (opts.csv) process.stdout.write(experimentsToCsv(table));
  else {
    const text = textTable(table.head, table.rows.map((r) => r.map((v, i) => formatCell(v, table.head[i]!))));
    const constants = table.constants.length && !opts.onlyChanged ? `\nsame in every row: ${table.constants.map(([k, v]) => `${k}=${v}`).join(' ')}` : '';
    process.stdout.write(`${text}${constants}\n`);
  }
  return 0;
}
