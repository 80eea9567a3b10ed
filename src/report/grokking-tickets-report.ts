/**
 * Tables and figures of pipelines/grokking-tickets.ts (Minegishi et al. 2023, "Grokking Tickets"):
 * per variant (the dense network, the tickets pruned at generalization, the transition and
 * memorization, and the controls at the ticket's density), the iterations to memorize and to
 * generalize (first evaluation at 95% training / test accuracy) and the final test accuracy; and
 * the test-accuracy curves, as the paper's figures.
 *
 * It reads the graph the pipeline builds: `train-dense`, and `[...]/<variant>/retrain` with the
 * variants of src/lth/stage-ids.ts (GROKKING_IDS). Scope segments before them (replicates
 * `seed:N`) are merged: their numbers are averaged. Registered in src/report/registry.ts.
 */
import { GROKKING_IDS } from '../lth/stage-ids.js';
import { defineReport, joinSentences, metric, series, type CellValue, type ColumnSpec, type ReportDefinition, type ReportStage } from './spec.js';

/** The variants in the table's order, with their labels. */
const VARIANTS: ReadonlyArray<[string, string]> = [
  [GROKKING_IDS.tickets.generalization, 'Ticket (pruned at generalization)'],
  [GROKKING_IDS.tickets.transition, 'Ticket pruned at the transition'],
  [GROKKING_IDS.tickets.memorization, 'Ticket pruned at memorization'],
  [GROKKING_IDS.controls.normL1, 'Dense, L1 norm of the ticket'],
  [GROKKING_IDS.controls.normL2, 'Dense, L2 norm of the ticket'],
  [GROKKING_IDS.controls.random, 'Random pruning'],
  [GROKKING_IDS.controls.snip, 'SNIP'],
  [GROKKING_IDS.controls.synflow, 'SynFlow'],
];

export const grokkingTicketsReport: ReportDefinition = defineReport((p) => {
  const retrains = p.find('retrain');
  const of = (variant: string): ReportStage[] => retrains.filter((s) => s.id.split('/').at(-2) === variant && s.id.endsWith(`/${GROKKING_IDS.retrain}`));
  const dense = p.find('train-dense');
  const rows: Array<Record<string, CellValue>> = [];
  const lines: Array<{ name: string; stages: ReportStage[] }> = [];
  if (dense.length) lines.push({ name: 'Dense', stages: dense });
  for (const [id, label] of VARIANTS) {
    const s = of(id);
    if (s.length) lines.push({ name: label, stages: s });
  }
  for (const { name, stages } of lines) {
    rows.push({
      variant: name,
      remaining: stages === dense ? 1 : metric(stages, 'density'),
      memorize: metric(stages, 'iterationsToMemorize'),
      generalize: metric(stages, 'iterationsToGeneralize'),
      test: metric(stages, 'testAccuracy'),
    });
  }
  const columns: ColumnSpec[] = [
    { key: 'variant', label: 'Network', format: 'text', align: 'left' },
    { key: 'remaining', label: 'Weights remaining %', format: 'percent:1' },
    { key: 'memorize', label: 'Iterations to memorize', format: 'int' },
    { key: 'generalize', label: 'Iterations to generalize', format: 'int' },
    { key: 'test', label: 'Final test acc. %', format: 'percent:2' },
  ];
  return {
    tables: [
      {
        name: 'grokking-tickets',
        title: 'Grokking tickets: iterations to memorize and to generalize',
        columns,
        rows,
        caption: joinSentences(
          'Memorize / generalize: the first evaluation at which training / test accuracy reaches the threshold (95%); -: never within the budget',
          'Every network starts from the same initialisation (the norm-matched controls scaled) and trains full batch with AdamW',
        ),
        replicateNote: 'Over replicates: mean [min, max].',
      },
    ],
    plots: [
      {
        name: 'test-accuracy',
        title: 'Test accuracy during training: the ticket generalizes sooner',
        x: { title: 'Iteration', zero: true },
        y: { title: 'Test accuracy', format: '.0%', domain: [0, 1] },
        series: lines.map(({ name, stages }) => ({ name, curve: series(stages, 'curve', { x: 'iteration', y: 'valAccuracy' }) })),
        legend: 'Network',
      },
      {
        name: 'train-accuracy',
        title: 'Training accuracy during training: every network memorizes early',
        x: { title: 'Iteration', zero: true },
        y: { title: 'Training accuracy', format: '.0%', domain: [0, 1] },
        series: lines.map(({ name, stages }) => ({ name, curve: series(stages, 'curve', { x: 'iteration', y: 'trainAccuracy' }) })),
        legend: 'Network',
      },
    ],
  };
});
