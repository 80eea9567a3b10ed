/**
 * Tables and figures of pipelines/strong-tickets.ts: test accuracy of strong lottery tickets
 * (edge-popup, Ramanujan et al. 2020; multi-prize tickets with binary weights, Diffenderfer &
 * Kailkhura 2021) at each k, against the trained dense network, by network width.
 *
 * It reads the graph the pipeline builds: `edge-popup` stage instances (params `model`, `density`,
 * `binarize`) and the `train-dense` instance of the same model in the same scope. Scope segments
 * of replicates (`seed:N`) and runs loaded by `--replicates` are averaged (mean [min, max]).
 */
import { createModel, countParams } from '../nn/models/index.js';
import { testSubsetNote } from './test-subset.js';
import { defineReport, groupBy, joinSentences, metric, type CellValue, type ColumnSpec, type PlotSpec, type ReportDefinition, type ReportStage } from './spec.js';

/** How the caption names the initialisations of the fixed weights (src/lth/supermask.ts). */
const INITS: Record<string, string> = { 'signed-constant': 'signed Kaiming constant', 'kaiming-normal': 'Kaiming normal' };

const pct = (k: number): string => `${Math.round(k * 100)}%`;
const methodOf = (s: ReportStage): string => (s.params.binarize === true ? 'Multi-prize (binary)' : 'Edge-popup');

/** Weights of the network's prunable layers (what the supermask chooses from). */
function weightsOf(model: string): number {
  const m = createModel(model);
  return countParams(m, m.prunable);
}

/** '784-100-30-10' for mnist_lenet_100_30; the name itself for any other network. */
function shapeLabel(model: string): string {
  const m = /^mnist_lenet_((?:\d+_)*\d+)$/.exec(model);
  return m ? `784-${m[1]!.replace(/_/g, '-')}-10` : model;
}

export const strongTicketsReport: ReportDefinition = defineReport((p) => {
  const searches = p.find('edge-popup');
  const models = [...new Set(searches.map((s) => String(s.params.model)))].sort((a, b) => weightsOf(a) - weightsOf(b));
  const dense = (model: string) => p.find('train-dense', (s) => s.params.model === model);
  const ks = [...new Set(searches.map((s) => Number(s.params.density)))].sort((a, b) => a - b);
  const methods = groupBy(searches, methodOf).map(([m]) => m).sort();
  const of = (model: string, method: string, k: number) => searches.filter((s) => s.params.model === model && methodOf(s) === method && s.params.density === k);
  const columns: ColumnSpec[] = [
    { key: 'net', label: 'Network', format: 'text', align: 'left' },
    { key: 'weights', label: 'Weights', format: 'int' },
    { key: 'dense', label: 'Dense, trained: test acc. %', format: 'percent:2' },
  ];
  for (const m of methods) for (const k of ks) columns.push({ key: `${m}.${k}`, label: `${m}, k = ${pct(k)}: test acc. %`, format: 'percent:2' });
  const rows = models.map((model) => {
    const row: Record<string, CellValue> = { net: shapeLabel(model), weights: weightsOf(model), dense: dense(model).length ? metric(dense(model), 'testAccuracy') : null };
    for (const m of methods) for (const k of ks) row[`${m}.${k}`] = of(model, m, k).length ? metric(of(model, m, k), 'testAccuracy') : null;
    return row;
  });
  const shown = [...searches, ...models.flatMap(dense)];
  const table = {
    name: 'strong-tickets',
    title: 'Strong lottery tickets: subnetworks of untrained random MLPs vs the trained dense network, MNIST',
    columns,
    rows,
    caption: joinSentences(
      'k: the fraction of each layer kept. The weights are never trained, only which ones are kept',
      methods.map((m) => `${m}: ${[...new Set(searches.filter((s) => methodOf(s) === m).map((s) => INITS[String(s.params.init ?? 'signed-constant')] ?? String(s.params.init)))].join(', ')} weights`).join('; '),
      methods.some((m) => m !== 'Edge-popup') && 'Binary weights: alpha * sign(w), alpha the mean |w| kept per layer',
      testSubsetNote(shown),
    ),
    replicateNote: 'Over replicates: mean [min, max].',
  };
  const x = { title: 'Weights of the network (log scale)', log: true, ticks: 'data' as const, format: '.3~s' };
  const series: PlotSpec['series'] = [];
  if (models.some((m) => dense(m).length)) series.push({ name: 'Dense, trained', points: models.filter((m) => dense(m).length).map((m) => ({ x: weightsOf(m), y: metric(dense(m), 'testAccuracy') })) });
  for (const m of methods) {
    for (const k of ks) {
      const at = models.filter((model) => of(model, m, k).length);
      series.push({ name: `${m}, k = ${pct(k)}`, points: at.map((model) => ({ x: weightsOf(model), y: metric(of(model, m, k), 'testAccuracy') })) });
    }
  }
  const plot: PlotSpec = { name: 'accuracy-vs-width', title: 'Test accuracy vs width: strong tickets and the trained dense network', x, y: { title: 'Test accuracy', format: '.0%' }, series, legend: 'Network' };
  return { tables: [table], plots: [plot] };
});
