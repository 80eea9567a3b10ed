/**
 * Ticket transfer (Morcos et al. 2019): test accuracy against the weights remaining, one line per
 * source of the ticket, for the two comparisons of pipelines/ticket-transfer.ts:
 * - across datasets: on the target dataset, the target's own ticket, the ticket found on the
 *   source dataset (transferred), the transferred mask on a fresh initialisation, random pruning;
 * - across optimizers: with the target optimizer, the ticket found with it, the ticket found with
 *   the source optimizer (transferred), its mask on a fresh initialisation, random pruning.
 * The pipeline names its scopes with TICKET_TRANSFER_SCOPES, the transfer stages are
 * `transferTickets`' (TRANSFER_IDS): a renamed id fails to compile rather than empty a table.
 * Labels come from the stages' params (dataset and optimizer names), not from the scope names.
 */
import { IMP_IDS, TRANSFER_IDS } from '../lth/stage-ids.js';
import { datasetTitle } from '../nn/data/registry.js';
import { defineReport, joinSentences, metric, type CellValue, type ColumnSpec, type PlotSpec, type ReportDefinition, type ReportPipeline, type ReportStage, type TableSpec } from './spec.js';
import { testSubsetNote } from './test-subset.js';

/** The scopes of pipelines/ticket-transfer.ts, by role. */
export const TICKET_TRANSFER_SCOPES = {
  /** Dense run and IMP on the target dataset with the source optimizer (the tickets compared against, random pruning). */
  target: 'mnist',
  /** Dense run and IMP on the source dataset (the tickets that are transferred). */
  sourceDataset: 'fashion-mnist',
  /** The source dataset's tickets retrained on the target dataset. */
  datasetTransfer: 'fashion-mnist-to-mnist',
  /** Dense run and IMP on the target dataset with the target optimizer. */
  targetOptimizer: 'momentum',
  /** The target scope's tickets (source optimizer) retrained with the target optimizer. */
  optimizerTransfer: 'adam-to-momentum',
} as const;

/** Role ids `imp` gives a level's retrainings (src/lth/imp.ts). */

const OPTIMIZER_TITLES: Record<string, string> = { sgd: 'SGD', momentum: 'SGD with momentum', nesterov: 'SGD with Nesterov momentum', adam: 'Adam', adamw: 'AdamW' };
const optimizerTitle = (o: unknown): string => OPTIMIZER_TITLES[String(o)] ?? String(o);

interface Line {
  key: string;
  label: string;
  /** Retrain stages by level. */
  byLevel: Map<number, ReportStage>;
}

/** The retrain stages `<scope>/L<level>/<role>`, by level. */
function levelsOf(p: ReportPipeline, scope: string, role: string): Map<number, ReportStage> {
  const out = new Map<number, ReportStage>();
  for (const s of p.stages) {
    const m = /^(.*)\/L(\d+)\/([^/]+)$/.exec(s.id);
    if (m && m[1] === scope && m[3] === role) out.set(Number(m[2]), s);
  }
  return out;
}

function denseOf(p: ReportPipeline, scope: string): ReportStage | undefined {
  return p.stages.find((s) => s.id === `${scope}/train-dense`);
}

interface Comparison {
  name: string;
  title: string;
  dense: ReportStage | undefined;
  lines: Line[];
}

function comparisons(p: ReportPipeline): Comparison[] {
  const S = TICKET_TRANSFER_SCOPES;
  const target = denseOf(p, S.target);
  const source = denseOf(p, S.sourceDataset);
  const targetOpt = denseOf(p, S.targetOptimizer);
  // One comparison: the target's own tickets, the transferred ones, their masks reinitialised, random pruning.
  const comparison = (name: string, title: string, dense: ReportStage, targetScope: string, transferScope: string, t: string, s: string): Comparison => ({
    name,
    title,
    dense,
    lines: [
      { key: 'target', label: `${t} ticket`, byLevel: levelsOf(p, targetScope, IMP_IDS.ticket) },
      { key: 'transferred', label: `${s} ticket, transferred`, byLevel: levelsOf(p, transferScope, TRANSFER_IDS.ticket) },
      { key: 'reinit', label: `Random reinit, ${s} mask`, byLevel: levelsOf(p, transferScope, TRANSFER_IDS.reinit) },
      { key: 'random', label: 'Random pruning', byLevel: levelsOf(p, targetScope, IMP_IDS.random) },
    ],
  });
  const out: Comparison[] = [];
  if (target && source) {
    const t = datasetTitle(String(target.params.dataset));
    const s = datasetTitle(String(source.params.dataset));
    const title = `Ticket transfer across datasets: ${s} tickets retrained on ${t} (${optimizerTitle(target.params.optimizer)})`;
    out.push(comparison('transfer-datasets', title, target, S.target, S.datasetTransfer, t, s));
  }
  if (target && targetOpt) {
    const t = optimizerTitle(targetOpt.params.optimizer);
    const s = optimizerTitle(target.params.optimizer);
    const title = `Ticket transfer across optimizers: ${s} tickets retrained with ${t} (${datasetTitle(String(targetOpt.params.dataset))})`;
    out.push(comparison('transfer-optimizers', title, targetOpt, S.targetOptimizer, S.optimizerTransfer, t, s));
  }
  return out.map((c) => ({ ...c, lines: c.lines.filter((l) => l.byLevel.size > 0) }));
}

function table(c: Comparison): TableSpec {
  const columns: ColumnSpec[] = [
    { key: 'level', label: 'Level', format: 'int' },
    { key: 'remaining', label: 'Weights remaining %', format: 'percent:1' },
    ...c.lines.map((l): ColumnSpec => ({ key: l.key, label: `${l.label}: test acc. %`, format: 'percent:2' })),
  ];
  const levels = [...new Set(c.lines.flatMap((l) => [...l.byLevel.keys()]))].sort((a, b) => a - b);
  const rows: Array<Record<string, CellValue>> = [];
  if (c.dense) rows.push({ level: 0, remaining: 1, ...Object.fromEntries(c.lines.map((l) => [l.key, l.key === 'target' ? metric(c.dense!, 'testAccuracy') : null])) });
  for (const level of levels) {
    const row: Record<string, CellValue> = { level, remaining: null };
    for (const l of c.lines) {
      const s = l.byLevel.get(level);
      row[l.key] = s ? metric(s, 'testAccuracy') : null;
      if (s && row.remaining === null) row.remaining = metric(s, 'density');
    }
    rows.push(row);
  }
  const stages = [...(c.dense ? [c.dense] : []), ...c.lines.flatMap((l) => [...l.byLevel.values()])];
  return {
    name: c.name,
    title: c.title,
    columns,
    rows,
    caption: joinSentences('Level 0 is the dense network; every ticket at a level has the same weights remaining per layer (layerwise pruning at the same rates)', testSubsetNote(stages)),
    replicateNote: 'Over replicates: mean [min, max].',
  };
}

function plot(c: Comparison): PlotSpec {
  const densePoint = c.dense ? [{ x: 1, y: metric(c.dense, 'testAccuracy') }] : [];
  return {
    name: `${c.name}-accuracy-vs-weights`,
    title: c.title,
    x: { title: 'Percent of weights remaining (log scale)', log: true, reverse: true, format: '.1~%', ticks: 'data' },
    y: { title: 'Test accuracy', format: '.1%' },
    series: c.lines.map((l) => ({
      name: l.label,
      points: [...densePoint, ...[...l.byLevel.entries()].sort((a, b) => a[0] - b[0]).map(([, s]) => ({ x: metric(s, 'density'), y: metric(s, 'testAccuracy') }))],
    })),
    legend: 'Ticket',
  };
}

export const ticketTransferReport: ReportDefinition = defineReport((p) => {
  const cs = comparisons(p);
  return { tables: cs.map(table), plots: cs.map(plot) };
});
