/**
 * Tables and figures of pipelines/elastic-tickets.ts (Chen et al. 2021, "The Elastic Lottery
 * Ticket Hypothesis"): per target depth and IMP level, the test accuracy of the target's own IMP
 * ticket, of its random-pruning baseline, and of the tickets stretched or squeezed into it from the
 * other depths (each at the density it arrives with), as the paper's comparison of transformed and
 * direct tickets.
 *
 * It reads the graph the pipeline builds: `<model>/L<l>/retrain` and `.../retrain-random` (the
 * `imp` helper's ids), `<source>-to-<target>/L<l>/retrain` (ELASTIC_IDS). Registered in
 * src/report/registry.ts.
 */
import { ELASTIC_IDS, IMP_IDS } from '../lth/stage-ids.js';
import { defineReport, metric, type CellValue, type ColumnSpec, type PlotSpec, type ReportDefinition, type ReportStage } from './spec.js';

const LEVEL = /^L(\d+)$/;

export const elasticTicketsReport: ReportDefinition = defineReport((p) => {
  const dense = p.find('train-dense');
  const models = dense.map((d) => d.id.split('/').slice(0, -1).join('/')).filter((m) => m.length > 0);
  const at = (scope: string, level: number, role: string): ReportStage[] => p.find('retrain', (s) => s.id === `${scope}/L${level}/${role}`);
  const levels = [...new Set(p.find('retrain').flatMap((s) => {
    const m = LEVEL.exec(s.id.split('/').at(-2) ?? '');
    return m ? [Number(m[1])] : [];
  }))].sort((a, b) => a - b);
  const columns: ColumnSpec[] = [
    { key: 'target', label: 'Network', format: 'text', align: 'left' },
    { key: 'level', label: 'Level', format: 'int' },
    { key: 'remaining', label: 'Weights remaining %', format: 'percent:1' },
    { key: 'ticket', label: 'IMP ticket: test acc. %', format: 'percent:2' },
    { key: 'random', label: 'Random pruning: test acc. %', format: 'percent:2' },
    ...models.map((m): ColumnSpec => ({ key: `from:${m}`, label: `From ${m}: test acc. %`, format: 'percent:2' })),
  ];
  const rows: Array<Record<string, CellValue>> = [];
  const plots: PlotSpec[] = [];
  for (const target of models) {
    for (const level of levels) {
      const own = at(target, level, IMP_IDS.ticket);
      if (!own.length) continue;
      const row: Record<string, CellValue> = { target, level, remaining: metric(own, 'density'), ticket: metric(own, 'testAccuracy'), random: at(target, level, IMP_IDS.random).length ? metric(at(target, level, IMP_IDS.random), 'testAccuracy') : null };
      for (const source of models) {
        const moved = at(ELASTIC_IDS.pair(source, target), level, ELASTIC_IDS.retrain);
        row[`from:${source}`] = moved.length ? metric(moved, 'testAccuracy') : null;
      }
      rows.push(row);
    }
    const line = (name: string, scope: string, role: string) => ({
      name,
      points: levels.flatMap((l) => (at(scope, l, role).length ? [{ x: metric(at(scope, l, role), 'density'), y: metric(at(scope, l, role), 'testAccuracy') }] : [])),
    });
    plots.push({
      name: `elastic-${target}`,
      title: `${target}: its own IMP tickets vs tickets transformed from the other depths`,
      x: { title: 'Percent of weights remaining (log scale)', log: true, reverse: true, format: '.1~%', ticks: 'data' },
      y: { title: 'Test accuracy', format: '.1%' },
      series: [
        line('IMP ticket', target, IMP_IDS.ticket),
        line('Random pruning', target, IMP_IDS.random),
        ...models.filter((s) => s !== target).map((s) => line(`From ${s}`, ELASTIC_IDS.pair(s, target), ELASTIC_IDS.retrain)),
      ].filter((s) => s.points.length > 0),
      legend: 'Ticket',
    });
  }
  return {
    tables: [
      {
        name: 'elastic-tickets',
        title: 'Elastic tickets: transformed vs direct tickets per depth',
        columns: columns.filter((c) => !c.key.startsWith('from:') || rows.some((r) => r[c.key] !== null)),
        rows,
        caption: 'Each row is a target network and IMP level: its own ticket, random pruning with the ticket\'s per-layer densities, and the tickets of the other depths at that level stretched or squeezed into it (blocks replicated or dropped) and retrained on the target\'s schedule; a transformed ticket arrives at its own density (the figures plot it there)',
        replicateNote: 'Over replicates: mean [min, max].',
      },
    ],
    plots,
  };
});
