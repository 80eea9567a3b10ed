/**
 * The tables and figures of the IMP pipelines (lenet-mnist-imp, conv-cifar-imp, resnet18-late-reset)
 * and the helpers other reports share (src/report/registry.ts keys them by pipeline name). They read the graph the `imp` helper builds
 * (stage ids `[scope/]L<level>/<role>`: `retrain` for the winning ticket, `retrain-reinit`,
 * `retrain-random`, `stability`; `train-dense` for the dense run) and know nothing else of src/lth.
 *
 * Replicates: a scope segment `seed:N` / `rep:N` / `trial:N` (a `p.sweep` over seeds) marks
 * replicates of the same experiment: their numbers are averaged (mean, min, max). Replicates made
 * by running the pipeline with several `--set seed=...` are aggregated by `--replicates seed=0,1,2`.
 */
import { defineReport, groupBy, joinSentences, metric, series, type ColumnSpec, type CellValue, type PlotSpec, type ReportDefinition, type ReportPipeline, type ReportStage, type TableSpec } from './spec.js';
import { testSubsetNote } from './test-subset.js';
import { IMP_IDS } from '../lth/stage-ids.js';

const REPLICATE_SEGMENT = /^(seed|rep|replicate|trial|run)[:=_-]?\d+$/i;

const ROLES = {
  [IMP_IDS.ticket]: 'winning ticket',
  [IMP_IDS.reinit]: 'random reinit',
  [IMP_IDS.random]: 'random pruning',
} as const;
type Role = keyof typeof ROLES;

interface Instance {
  stage: ReportStage;
  /** The experiment's scope without replicate segments ('' at top level, 'conv2', 'k100'). */
  group: string;
  level: number;
  role: string;
}

function stripReplicates(segments: readonly string[]): string {
  return segments.filter((s) => !REPLICATE_SEGMENT.test(s)).join('/');
}

/** Stage instances made by `imp`: `[scope/]L<level>/<role>`. */
export function impInstances(p: ReportPipeline): Instance[] {
  const out: Instance[] = [];
  for (const s of p.stages) {
    const seg = s.id.split('/');
    const m = seg.length >= 2 ? /^L(\d+)$/.exec(seg[seg.length - 2]!) : null;
    if (!m) continue;
    out.push({ stage: s, group: stripReplicates(seg.slice(0, -2)), level: Number(m[1]), role: seg[seg.length - 1]! });
  }
  return out;
}

/** The dense run(s) an experiment group starts from: train-dense in the longest enclosing scope. */
export function denseFor(p: ReportPipeline, group: string): ReportStage[] {
  const dense = p.find('train-dense').map((s) => ({ s, scope: stripReplicates(s.id.split('/').slice(0, -1)) }));
  const candidates = dense.filter((d) => d.scope === '' || group === d.scope || group.startsWith(`${d.scope}/`));
  const best = Math.max(-1, ...candidates.map((d) => d.scope.length));
  return candidates.filter((d) => d.scope.length === best).map((d) => d.s);
}

function ids(list: readonly Instance[]): string[] {
  return list.map((i) => i.stage.id);
}

/** The rewind iteration of a retrain instance: `iteration` of the rewind stage it starts from. */
function rewindIteration(p: ReportPipeline, s: ReportStage): number | undefined {
  for (const up of s.upstream) {
    const u = p.stage(up);
    if (u.stage === 'rewind' && typeof u.params.iteration === 'number') return u.params.iteration;
  }
  return undefined;
}

/** The density a global prune with a fixed rate leaves at a level ((1 - rate)^level); else undefined. */
function plannedDensity(p: ReportPipeline, s: ReportStage): number | undefined {
  for (const up of s.upstream) {
    const u = p.stage(up);
    if (u.stage === 'prune' && u.params.scope === 'global' && typeof u.params.rate === 'number' && typeof u.params.level === 'number') return (1 - u.params.rate) ** u.params.level;
  }
  return undefined;
}

const pctLabel = (d: number): string => `${Number((d * 100).toPrecision(3))}%`;
/** '80% of weights remaining': a density said as what is left (never 'sparsity', which is what is pruned). */
const remainingLabel = (d: number): string => `${pctLabel(d)} of weights remaining`;

/** Printed under a table only when a cell aggregates more than one replicate (`TableSpec.replicateNote`). */
const REPLICATE_NOTE = 'Over replicates: mean [min, max].';

function groupTitle(group: string): string {
  return group === '' ? '' : ` (${group})`;
}

function safeName(s: string): string {
  return s.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^-+|-+$/g, '');
}

/** Frankle & Carbin (2019): per level, weights remaining, accuracy and early stopping of the ticket and the baselines. */
function impTables(p: ReportPipeline, insts: Instance[]): TableSpec[] {
  const groups = groupBy(insts.filter((i) => i.role in ROLES), (i) => i.group);
  return groups.map(([group, list]) => {
    const roles = (Object.keys(ROLES) as Role[]).filter((r) => list.some((i) => i.role === r));
    const columns: ColumnSpec[] = [
      { key: 'level', label: 'Level', format: 'int' },
      { key: 'remaining', label: 'Weights remaining %', format: 'percent:1' },
    ];
    for (const r of roles) {
      columns.push({ key: `${r}.acc`, label: `${cap(ROLES[r])}: test acc. %`, format: 'percent:2' });
      columns.push({ key: `${r}.es`, label: `${cap(ROLES[r])}: early-stop it.`, format: 'int' });
      // Frankle & Carbin (2019) report the test accuracy at the early-stop iteration beside it.
      columns.push({ key: `${r}.esAcc`, label: `${cap(ROLES[r])}: test acc. at early stop %`, format: 'percent:2' });
    }
    const dense = denseFor(p, group);
    const shown = [...dense, ...list.map((i) => i.stage)];
    const rows: Array<Record<string, CellValue>> = [];
    if (dense.length > 0) {
      rows.push({ level: 0, remaining: 1, 'retrain.acc': metric(dense, 'testAccuracy'), 'retrain.es': metric(dense, 'earlyStopIteration'), 'retrain.esAcc': metric(dense, 'testAccuracyAtEarlyStop') });
    }
    for (const [level, atLevel] of groupBy([...list].sort((a, b) => a.level - b.level), (i) => i.level)) {
      const row: Record<string, CellValue> = { level, remaining: metric(ids(atLevel.filter((i) => i.role === IMP_IDS.ticket)), 'density') };
      for (const r of roles) {
        const of = ids(atLevel.filter((i) => i.role === r));
        row[`${r}.acc`] = of.length ? metric(of, 'testAccuracy') : null;
        row[`${r}.es`] = of.length ? metric(of, 'earlyStopIteration') : null;
        row[`${r}.esAcc`] = of.length ? metric(of, 'testAccuracyAtEarlyStop') : null;
      }
      rows.push(row);
    }
    return {
      name: group === '' ? 'imp' : `imp-${safeName(group)}`,
      title: `Iterative magnitude pruning${groupTitle(group)}: winning tickets vs baselines`,
      columns,
      rows,
      caption: joinSentences('Level 0 is the dense network', testSubsetNote(shown)),
      replicateNote: REPLICATE_NOTE,
    };
  });
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Accuracy and early stopping against the weights remaining, one line per method (and group). */
function impPlots(p: ReportPipeline, insts: Instance[], opts: { seriesBy: 'role' | 'rewind' }): PlotSpec[] {
  const relevant = insts.filter((i) => i.role in ROLES);
  const groups = groupBy(relevant, (i) => i.group);
  const multi = groups.length > 1;
  const accSeries: PlotSpec['series'] = [];
  const esSeries: PlotSpec['series'] = [];
  const esAccSeries: PlotSpec['series'] = [];
  for (const [group, list] of groups) {
    const dense = denseFor(p, group);
    for (const [role, ofRole] of groupBy(list, (i) => i.role)) {
      let name: string;
      if (opts.seriesBy === 'rewind') {
        const k = rewindIteration(p, ofRole[0]!.stage);
        name = `rewind to ${k ?? group}${role === IMP_IDS.ticket ? '' : ` (${ROLES[role as Role]})`}`;
      } else name = multi ? `${group}: ${ROLES[role as Role]}` : cap(ROLES[role as Role]);
      const byLevel = groupBy([...ofRole].sort((a, b) => a.level - b.level), (i) => i.level);
      const densePoint = dense.length ? [{ x: 1, y: metric(dense, 'testAccuracy') }] : [];
      const denseEs = dense.length ? [{ x: 1, y: metric(dense, 'earlyStopIteration') }] : [];
      const denseEsAcc = dense.length ? [{ x: 1, y: metric(dense, 'testAccuracyAtEarlyStop') }] : [];
      accSeries.push({ name, points: [...densePoint, ...byLevel.map(([, l]) => ({ x: metric(ids(l), 'density'), y: metric(ids(l), 'testAccuracy') }))] });
      esSeries.push({ name, points: [...denseEs, ...byLevel.map(([, l]) => ({ x: metric(ids(l), 'density'), y: metric(ids(l), 'earlyStopIteration') }))] });
      esAccSeries.push({ name, points: [...denseEsAcc, ...byLevel.map(([, l]) => ({ x: metric(ids(l), 'density'), y: metric(ids(l), 'testAccuracyAtEarlyStop') }))] });
    }
  }
  // Ticks at the levels' densities (as the papers): vega's own log ticks leave a narrow range (80% to 100%) unlabelled.
  const x = { title: 'Percent of weights remaining (log scale)', log: true, reverse: true, format: '.1~%', ticks: 'data' as const };
  return [
    { name: 'accuracy-vs-weights', title: 'Test accuracy vs weights remaining', x, y: { title: 'Test accuracy', format: '.1%' }, series: accSeries, legend: 'Method' },
    // The y title fits the plot's height (a longer one widens the figure with blank space above it).
    { name: 'early-stop-vs-weights', title: 'Early-stopping iteration (min. validation loss) vs weights remaining', x, y: { title: 'Early-stopping iteration', zero: true, integer: true }, series: esSeries, legend: 'Method' },
    // Frankle & Carbin (2019), Figures 3-5: the test accuracy of the weights at the early-stop iteration.
    { name: 'accuracy-at-early-stop-vs-weights', title: 'Test accuracy at the early-stopping iteration vs weights remaining', x, y: { title: 'Test accuracy at early stop', format: '.1%' }, series: esAccSeries, legend: 'Method' },
  ];
}

/** Validation accuracy during training: the dense run and the winning tickets at up to 4 levels. */
function curvePlot(p: ReportPipeline, insts: Instance[], pick: (levels: number[]) => number[]): PlotSpec {
  const tickets = insts.filter((i) => i.role === IMP_IDS.ticket);
  const groups = groupBy(tickets, (i) => i.group);
  const list: PlotSpec['series'] = [];
  const multi = groups.length > 1;
  const seenDense = new Set<string>();
  for (const [group, ofGroup] of groups) {
    const dense = denseFor(p, group);
    const key = ids(dense.map((stage) => ({ stage, group, level: 0, role: 'dense' }))).join(',');
    if (dense.length && !seenDense.has(key)) {
      seenDense.add(key);
      list.push({ name: `dense${multi && denseFor(p, '').length === 0 ? ` (${group})` : ''}`, curve: series(dense, 'curve', { x: 'iteration', y: 'valAccuracy' }) });
    }
    const levels = [...new Set(ofGroup.map((i) => i.level))].sort((a, b) => a - b);
    for (const level of pick(levels)) {
      const at = ofGroup.filter((i) => i.level === level);
      const d = plannedDensity(p, at[0]!.stage);
      list.push({ name: `${multi ? `${group}, ` : ''}ticket L${level}${d !== undefined ? ` (${remainingLabel(d)})` : ''}`, curve: series(ids(at), 'curve', { x: 'iteration', y: 'valAccuracy' }) });
    }
  }
  return { name: 'training-curves', title: 'Validation accuracy during training', x: { title: 'Training iteration', integer: true }, y: { title: 'Validation accuracy', format: '.0%' }, series: list, legend: 'Network', band: true };
}

/** Up to n levels spread over the range, the last included. */
function spread(n: number): (levels: number[]) => number[] {
  return (levels) => {
    if (levels.length <= n) return levels;
    const out = new Set<number>();
    for (let i = 0; i < n; i++) out.add(levels[Math.round((i * (levels.length - 1)) / (n - 1))]!);
    return [...out];
  };
}

export const impReport: ReportDefinition = defineReport((p) => {
  const insts = impInstances(p);
  return { tables: impTables(p, insts), plots: [...impPlots(p, insts, { seriesBy: 'role' }), curvePlot(p, insts, spread(4))] };
});

/**
 * Late resetting (Frankle et al. 2019, 2020): rows = rewind iteration k; columns = test accuracy
 * at each sparsity, instability and stable (error barrier under 2%) at the sparsest level.
 */
export const lateResetReport: ReportDefinition = defineReport((p) => {
  const insts = impInstances(p);
  const tickets = insts.filter((i) => i.role === IMP_IDS.ticket);
  const stab = insts.filter((i) => i.role === 'stability');
  const kOf = (i: Instance): number => rewindIteration(p, i.stage) ?? rewindIteration(p, tickets.find((t) => t.group === i.group && t.level === i.level)?.stage ?? i.stage) ?? NaN;
  const levels = [...new Set(tickets.map((i) => i.level))].sort((a, b) => a - b);
  const last = levels[levels.length - 1];
  const columns: ColumnSpec[] = [{ key: 'k', label: 'Rewind iteration k', format: 'int' }];
  for (const l of levels) {
    const d = plannedDensity(p, tickets.find((t) => t.level === l)!.stage);
    columns.push({ key: `acc.L${l}`, label: `Test acc. % at ${d !== undefined ? remainingLabel(d) : `level ${l}`}`, format: 'percent:2' });
  }
  columns.push({ key: 'instability', label: 'Instability %', format: 'percent:2' }, { key: 'stable', label: 'Stable (< 2%)', format: 'yesno' });
  const byK = groupBy([...tickets].sort((a, b) => kOf(a) - kOf(b)), kOf);
  const rows = byK.map(([k, list]) => {
    const row: Record<string, CellValue> = { k };
    for (const l of levels) {
      const at = list.filter((i) => i.level === l);
      row[`acc.L${l}`] = at.length ? metric(ids(at), 'testAccuracy') : null;
    }
    const s = stab.filter((i) => i.level === last && kOf(i) === k);
    row.instability = s.length ? metric(ids(s), 'instability') : null;
    row.stable = s.length ? metric(ids(s), 'stable') : null;
    return row;
  });
  const table: TableSpec = {
    name: 'late-reset',
    title: 'Late resetting: test accuracy and stability by rewind iteration',
    columns,
    rows,
    caption: joinSentences(`Instability: the error barrier on the linear path between two copies trained with different data orders, at level ${last ?? '-'}`, testSubsetNote([...tickets, ...stab].map((i) => i.stage))),
    replicateNote: REPLICATE_NOTE,
  };
  const kLevels = groupBy(stab, (i) => i.level);
  const instability: PlotSpec = {
    name: 'instability-vs-rewind',
    title: 'Instability vs rewind iteration',
    // k is an iteration: ticks at 0, 1, 2 (never 0.5), even when only k = 0 and k = 4 ran.
    x: { title: 'Rewind iteration k', integer: true },
    y: { title: 'Instability (error barrier)', format: '.1%', zero: true },
    series: kLevels.map(([level, list]) => {
      const d = plannedDensity(p, tickets.find((t) => t.level === level)?.stage ?? list[0]!.stage);
      return {
        name: d !== undefined ? remainingLabel(d) : `level ${level}`,
        points: groupBy([...list].sort((a, b) => kOf(a) - kOf(b)), kOf).map(([k, at]) => ({ x: k, y: metric(ids(at), 'instability') })),
      };
    }),
    // No legend title: each entry says what it is ('80% of weights remaining').
    rule: { y: 0.02, label: 'stable below 2%' },
  };
  const interpolation: PlotSpec = {
    name: 'interpolation',
    title: `Test error along the linear path between two copies (level ${last ?? '-'})`,
    x: { title: 'Interpolation α (0: copy A, 1: copy B)' },
    y: { title: 'Test error', format: '.0%' },
    series: groupBy(
      stab.filter((i) => i.level === last).sort((a, b) => kOf(a) - kOf(b)),
      kOf,
    ).map(([k, at]) => ({ name: `k = ${k}`, curve: series(ids(at), 'path', { x: 'alphas', y: 'errors' }) })),
    legend: 'Rewind iteration',
    points: true,
  };
  const [acc] = impPlots(p, insts, { seriesBy: 'rewind' });
  const curves = curvePlot(p, insts, (ls) => ls.slice(-1));
  curves.series = curves.series.map((s) => {
    const grp = /^(k\d+), /.exec(s.name);
    return grp ? { ...s, name: s.name.replace(/^k(\d+), /, 'k = $1, ') } : s;
  });
  return { tables: [table], plots: [acc!, instability, interpolation, curves] };
});
