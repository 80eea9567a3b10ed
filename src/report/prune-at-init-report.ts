/**
 * Tables and figures of pipelines/prune-at-init.ts (Frankle et al. 2021, "Pruning Neural Networks
 * at Initialization: Why Are We Missing the Mark?"): test accuracy against the weights remaining,
 * one line per method (the IMP ticket, random, magnitude at init, SNIP, SynFlow, PHEW); and Sec. 5's
 * sanity checks per method (the mask shuffled within each layer, the kept weights reinitialised).
 *
 * It reads the graph the pipeline builds: `[...]/imp/L<l>/retrain` (the IMP ticket),
 * `[...]/d<x>/<method>/retrain`, `[...]/d<x>/<method>/{shuffled,reinit}/retrain`; the planned
 * density of a row comes from the prune stage upstream (`density`, or (1 - rate)^level for IMP).
 * Scope segments before these (replicates `seed:N`) are merged: their numbers are averaged.
 *
 * Registered for its pipeline in src/report/registry.ts.
 */
import { testSubsetNote } from './test-subset.js';
import { defineReport, groupBy, joinSentences, metric, type CellValue, type ColumnSpec, type PlotSpec, type ReportDefinition, type ReportPipeline, type ReportStage } from './spec.js';

const METHODS = {
  imp: 'IMP ticket',
  random: 'Random',
  magnitude: 'Magnitude at init',
  snip: 'SNIP',
  synflow: 'SynFlow',
  phew: 'PHEW',
} as const;
type Method = keyof typeof METHODS;

const VARIANTS = { original: 'as found', shuffled: 'layerwise shuffled', reinit: 'reinitialised' } as const;
type Variant = keyof typeof VARIANTS;

interface Run {
  stage: ReportStage;
  method: Method;
  variant: Variant;
  /** The density the pipeline asked for (the row); the stage's own `density` metric is what it got. */
  planned: number;
}

const ID = /(?:^|\/)(?:imp\/L(\d+)|d[^/]+\/(\w+)(?:\/(shuffled|reinit))?)\/retrain$/;

/** The prune stage a mask came from (through a shuffle-mask stage), upstream of `s`. */
function pruneOf(p: ReportPipeline, s: ReportStage): ReportStage | undefined {
  for (const id of s.upstream) {
    const u = p.stage(id);
    if (u.stage === 'prune') return u;
    if (u.stage === 'shuffle-mask') return pruneOf(p, u);
  }
  return undefined;
}

function runsOf(p: ReportPipeline): Run[] {
  const out: Run[] = [];
  for (const s of p.find('retrain')) {
    const m = ID.exec(s.id);
    if (!m) continue;
    const pr = pruneOf(p, s);
    if (!pr) continue;
    const method = (m[1] !== undefined ? 'imp' : m[2]) as Method;
    if (!(method in METHODS)) continue;
    const planned = method === 'imp' ? (1 - Number(pr.params.rate)) ** Number(m[1]) : Number(pr.params.density);
    if (!Number.isFinite(planned)) continue;
    out.push({ stage: s, method, variant: (m[3] as Variant | undefined) ?? 'original', planned });
  }
  return out;
}

/** Densities equal up to float rounding ((1 - 0.8)^2 and 0.04 alike). */
const key = (d: number): string => d.toPrecision(6);
const ids = (runs: readonly Run[]): string[] => runs.map((r) => r.stage.id);

export const pruneAtInitReport: ReportDefinition = defineReport((p) => {
  const runs = runsOf(p);
  const densities = [...new Map(runs.map((r) => [key(r.planned), r.planned])).values()].sort((a, b) => b - a);
  const methods = (Object.keys(METHODS) as Method[]).filter((m) => runs.some((r) => r.method === m && r.variant === 'original'));
  const at = (method: Method, variant: Variant, d: number) => runs.filter((r) => r.method === method && r.variant === variant && key(r.planned) === key(d));
  const dense = p.find('train-dense');
  const note = testSubsetNote([...dense, ...runs.map((r) => r.stage)]);

  const columns: ColumnSpec[] = [{ key: 'remaining', label: 'Weights remaining %', format: 'percent:2' }, ...methods.map((m): ColumnSpec => ({ key: m, label: `${METHODS[m]}: test acc. %`, format: 'percent:2' }))];
  const rows: Array<Record<string, CellValue>> = [];
  if (dense.length) rows.push({ remaining: 1, ...Object.fromEntries(methods.map((m) => [m, m === 'imp' || methods.length === 1 ? metric(dense, 'testAccuracy') : null])) });
  for (const d of densities) {
    const row: Record<string, CellValue> = { remaining: d };
    for (const m of methods) {
      const r = at(m, 'original', d);
      row[m] = r.length ? metric(ids(r), 'testAccuracy') : null;
    }
    rows.push(row);
  }
  const main = {
    name: 'prune-at-init',
    title: 'Pruning at initialisation vs IMP: test accuracy at the same densities',
    columns,
    rows,
    caption: joinSentences(
      dense.length ? 'The 100% row is the dense network' : undefined,
      'Every mask is trained from the same initial weights; IMP prunes globally and rewinds to iteration 0',
      note,
    ),
    replicateNote: 'Over replicates: mean [min, max].',
  };

  const checked = methods.filter((m) => runs.some((r) => r.method === m && r.variant !== 'original'));
  const variants = (Object.keys(VARIANTS) as Variant[]).filter((v) => runs.some((r) => r.variant === v));
  const sanityRows: Array<Record<string, CellValue>> = [];
  for (const m of checked) {
    for (const d of densities) {
      // Only the densities where the checks ran (the smoke profile runs them at the lowest only).
      if (!at(m, 'original', d).length || !variants.some((v) => v !== 'original' && at(m, v, d).length)) continue;
      const row: Record<string, CellValue> = { method: METHODS[m], remaining: d };
      for (const v of variants) {
        const r = at(m, v, d);
        row[v] = r.length ? metric(ids(r), 'testAccuracy') : null;
      }
      sanityRows.push(row);
    }
  }
  const sanity = {
    name: 'sanity-checks',
    title: 'Sanity checks (Frankle et al. 2021, Sec. 5): test accuracy of each mask, shuffled, reinitialised',
    columns: [
      { key: 'method', label: 'Method', format: 'text' as const, align: 'left' as const },
      { key: 'remaining', label: 'Weights remaining %', format: 'percent:2' as const },
      ...variants.map((v): ColumnSpec => ({ key: v, label: `${VARIANTS[v].charAt(0).toUpperCase()}${VARIANTS[v].slice(1)}: test acc. %`, format: 'percent:2' })),
    ],
    rows: sanityRows,
    caption: joinSentences(
      'Layerwise shuffled: each layer\'s mask randomly permuted within the layer (same per-layer densities, same initial weights)',
      'Reinitialised: the same mask on weights drawn afresh from the original initialisation distribution',
      note,
    ),
    replicateNote: 'Over replicates: mean [min, max].',
  };

  const x = { title: 'Percent of weights remaining (log scale)', log: true, reverse: true, format: '.1~%', ticks: 'data' as const };
  const line = (list: readonly Run[], name: string) => ({
    name,
    points: groupBy([...list].sort((a, b) => b.planned - a.planned), (r) => key(r.planned)).map(([, l]) => ({ x: metric(ids(l), 'density'), y: metric(ids(l), 'testAccuracy') })),
  });
  const plots: PlotSpec[] = [
    {
      name: 'accuracy-vs-weights',
      title: 'Test accuracy vs weights remaining: pruning at initialisation and IMP',
      x,
      y: { title: 'Test accuracy', format: '.1%' },
      series: methods.map((m) => {
        const l = line(runs.filter((r) => r.method === m && r.variant === 'original'), METHODS[m]);
        // IMP's line starts at the dense network it prunes (as the IMP figures).
        return m === 'imp' && dense.length ? { ...l, points: [{ x: 1, y: metric(dense, 'testAccuracy') }, ...l.points] } : l;
      }),
      legend: 'Method',
    },
    ...checked.map(
      (m): PlotSpec => ({
        name: `sanity-${m}`,
        title: `Sanity checks: ${METHODS[m]}`,
        x,
        y: { title: 'Test accuracy', format: '.1%' },
        series: variants.map((v) => line(runs.filter((r) => r.method === m && r.variant === v), `${METHODS[m]}, ${VARIANTS[v]}`)),
        legend: 'Mask',
      }),
    ),
  ];
  return { tables: [main, sanity], plots };
});
