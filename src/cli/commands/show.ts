/**
 * `pipeline show`: the experiments table: one row per stage instance (a sweep point is a row), with
 * the params that vary, the metrics, the state, and when and where it was computed. Like
 * `dvc exp show`: `--only-changed` keeps only the param and metric columns whose values differ,
 * `--sort-by`, and `--md` / `--csv` / `--json` output. By default one table per stage kind with
 * its scalar metrics (one table of every kind's columns was ~600 columns for the LeNet pipeline);
 * `--all` gives that one wide table.
 */
import { PipelineError } from '../../errors.js';
import { experimentRows, experimentsToCsv, experimentsToMarkdown, experimentTable, filterAndSort, formatCell, type ExperimentTable } from '../../report/experiments.js';
import { textTable, writeJson } from '../format.js';
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
  all?: boolean;
}

export async function showCommand(file: string, opts: ShowOptions): Promise<number> {
  if ([opts.json, opts.md, opts.csv].filter(Boolean).length > 1) throw new PipelineError('USAGE', 'choose one of --json, --md, --csv');
  const sortOrder = opts.sortOrder ?? 'asc';
  if (sortOrder !== 'asc' && sortOrder !== 'desc') throw new PipelineError('USAGE', `--sort-order ${sortOrder}: expected asc or desc`);
  const { ws, plan } = await planInWorkspace(file, opts);
  const xo = { onlyChanged: !!opts.onlyChanged, allParams: !!opts.allParams, sortBy: opts.sortBy, sortOrder, stages: opts.stage ?? [] } as const;
  const rows = filterAndSort(experimentRows(plan), xo);
  if (opts.json) {
    // Each result's files: digest, size and where the cache holds them (read-only; `pipeline get` copies one out).
    const outputsOf = (id: string) => {
      const sp = plan.stages.get(id);
      const outputs = sp && sp.state !== 'stale' ? sp.record?.outputs : undefined;
      return outputs ? Object.fromEntries(Object.entries(outputs).map(([name, o]) => [name, { ...o, path: ws.store.objects.path(o.digest) }])) : null;
    };
    writeJson(rows.map((r) => ({ ...r, outputs: outputsOf(r.id) })));
    return 0;
  }
  // CSV is for other tools: one table, as --all.
  const wide = opts.all || opts.csv;
  const groups = wide ? [rows] : [...new Set(rows.map((r) => r.stage))].map((kind) => rows.filter((r) => r.stage === kind));
  const parts = groups.map((group) => {
    const table = experimentTable(group, { ...xo, scalarMetrics: !wide });
    if (!wide) dropColumn(table, 'stage');
    if (opts.md) return experimentsToMarkdown(table);
    if (opts.csv) return experimentsToCsv(table);
    const text = textTable(table.head, table.rows.map((r) => r.map((v, i) => formatCell(v, table.head[i]!))));
    const constants = table.constants.length && !opts.onlyChanged ? `\nsame in every row: ${table.constants.map(([k, v]) => `${k}=${v}`).join(' ')}` : '';
    return `${text}${constants}\n`;
  });
  const titled = (text: string, i: number): string => (wide ? text : `${opts.md ? '### ' : ''}${groups[i]![0]!.stage} (${groups[i]!.length})\n${opts.md ? '\n' : ''}${text}`);
  process.stdout.write(parts.map(titled).join(opts.csv ? '' : '\n'));
  return 0;
}

function dropColumn(table: ExperimentTable, name: string): void {
  const i = table.head.indexOf(name);
  if (i < 0) return;
  table.head.splice(i, 1);
  table.kinds.splice(i, 1);
  for (const r of table.rows) r.splice(i, 1);
}
