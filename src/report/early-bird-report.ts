/**
 * The tables and figures of pipelines/early-bird.ts (You et al. 2020, Early-Bird tickets, against
 * IMP tickets of the same density). It reads the graph the pipeline builds, per experiment scope
 * (`lenet`, `resnet20`): `early-bird-track`, `EB<l>/ticket` and `EB<l>/retrain` (ids from
 * src/lth/early-bird.ts), the IMP levels `L<l>/retrain` and `train-dense` (the `imp` helper).
 * EB level l is drawn at the density of IMP level l; EB tickets by batch-norm channel (the tracking
 * stage's granularity 'channels') keep a share of the channels instead, are not paired with an IMP
 * level, and the table lists the IMP tickets in rows of their own.
 *
 * Registered for its pipeline in src/report/registry.ts.
 */
import { defaultGranularity } from '../lth/channel-masks.js';
import { EARLY_BIRD_IDS, IMP_IDS } from '../lth/stage-ids.js';
import { createModel } from '../nn/models/index.js';
import { datasetTitle } from '../nn/data/registry.js';
import { denseFor } from './lth-reports.js';
import { testSubsetNote } from './test-subset.js';
import { defineReport, groupBy, joinSentences, metric, series, type CellValue, type ColumnSpec, type PlotSpec, type ReportDefinition, type ReportPipeline, type ReportStage, type TableSpec } from './spec.js';

interface Level {
  group: string;
  level: number;
  ticket?: ReportStage;
  ebRetrain?: ReportStage;
  imp?: ReportStage;
}

/** Per experiment scope and level: the EB ticket, its retraining and the IMP ticket. */
function levels(p: ReportPipeline): Level[] {
  const out = new Map<string, Level>();
  for (const s of p.stages) {
    const seg = s.id.split('/');
    if (seg.length < 2) continue;
    const m = /^(EB|L)(\d+)$/.exec(seg[seg.length - 2]!);
    if (!m) continue;
    const group = seg.slice(0, -2).join('/');
    const level = Number(m[2]);
    const key = `${group}\0${level}`;
    const l = out.get(key) ?? { group, level };
    const role = seg[seg.length - 1];
    if (m[1] === 'EB' && role === EARLY_BIRD_IDS.ticket) l.ticket = s;
    else if (m[1] === 'EB' && role === EARLY_BIRD_IDS.retrain) l.ebRetrain = s;
    else if (m[1] === 'L' && role === IMP_IDS.ticket) l.imp = s;
    else continue;
    out.set(key, l);
  }
  return [...out.values()].sort((a, b) => (a.group === b.group ? a.level - b.level : a.group < b.group ? -1 : 1));
}

const pct = (d: number): string => `${Number((d * 100).toPrecision(3))}%`;

/** The fixed iteration budget of a training stage (its `iterations` param when a number). */
function budget(s: ReportStage | undefined): number | undefined {
  const it = s?.params.iterations;
  return typeof it === 'number' ? it : typeof it === 'string' && /^\d+(it)?$/.test(it) ? Number.parseInt(it, 10) : undefined;
}

/** Whether a tracking stage drew its masks over batch-norm channels (its param, else its model's default). */
function byChannels(track: ReportStage | undefined): boolean {
  const g = track?.params.granularity;
  if (g !== undefined) return g === 'channels';
  try {
    return track !== undefined && defaultGranularity(createModel(String(track.params.model))) === 'channels';
  } catch {
    return false;
  }
}

function title(model: unknown, dataset: unknown): string {
  return `${String(model ?? '')} on ${datasetTitle(String(dataset ?? ''))}`;
}

export const earlyBirdReport: ReportDefinition = defineReport((p) => {
  const every = levels(p);
  const all = every.filter((l) => l.ticket && l.ebRetrain);
  const tables: TableSpec[] = [];
  const distancePlots: PlotSpec[] = [];
  const accSeries: PlotSpec['series'] = [];
  const groups = groupBy(all, (l) => l.group);
  for (const [group, list] of groups) {
    const dense = denseFor(p, group);
    const track = p.find(EARLY_BIRD_IDS.track, (s) => s.id === (group ? `${group}/${EARLY_BIRD_IDS.track}` : EARLY_BIRD_IDS.track))[0];
    const T = budget(dense[0]);
    const eps = list[0]!.ticket!.params.epsilon;
    const window = track?.params.window ?? 5;
    const name = title(list[0]!.ebRetrain!.params.model, list[0]!.ebRetrain!.params.dataset);
    const channels = byChannels(track);
    // Channel tickets pair with no IMP level: the group's IMP tickets get rows of their own.
    const imps = channels ? every.filter((l) => l.group === group && l.imp) : list.filter((l) => l.imp);
    const columns: ColumnSpec[] = [
      { key: 'remaining', label: 'Weights remaining %', format: 'percent:1' },
      ...(channels ? [{ key: 'channels', label: 'Channels remaining %', format: 'percent:1' } as ColumnSpec] : []),
      { key: 'eb', label: 'EB iteration', format: 'int' },
      { key: 'eb.acc', label: 'EB ticket: test acc. %', format: 'percent:2' },
      { key: 'eb.es', label: 'EB ticket: early-stop it.', format: 'int' },
      { key: 'eb.find', label: 'EB ticket: iterations to find', format: 'int' },
      { key: 'imp.acc', label: 'IMP ticket: test acc. %', format: 'percent:2' },
      { key: 'imp.es', label: 'IMP ticket: early-stop it.', format: 'int' },
      { key: 'imp.find', label: 'IMP ticket: iterations to find', format: 'int' },
    ];
    const rows: Array<Record<string, CellValue>> = [];
    const ch = (v: CellValue): Record<string, CellValue> => (channels ? { channels: v } : {});
    if (dense.length) rows.push({ remaining: 1, ...ch(1), eb: null, 'eb.acc': null, 'eb.es': null, 'eb.find': null, 'imp.acc': metric(dense, 'testAccuracy'), 'imp.es': metric(dense, 'earlyStopIteration'), 'imp.find': null });
    const impCells = (l: Level): Record<string, CellValue> => ({
      'imp.acc': l.imp ? metric(l.imp, 'testAccuracy') : null,
      'imp.es': l.imp ? metric(l.imp, 'earlyStopIteration') : null,
      // Level l of IMP (rewinding to 0): the dense run and l - 1 retrainings, T iterations each.
      'imp.find': l.imp && T !== undefined ? l.level * T : null,
    });
    for (const l of list) {
      rows.push({
        remaining: metric(l.ebRetrain!, 'density'),
        ...ch(metric(l.ticket!, 'channelDensity')),
        eb: metric(l.ticket!, 'earlyBirdIteration'),
        'eb.acc': metric(l.ebRetrain!, 'testAccuracy'),
        'eb.es': metric(l.ebRetrain!, 'earlyStopIteration'),
        'eb.find': metric(l.ticket!, 'iterationsToFind'),
        ...(channels ? { 'imp.acc': null, 'imp.es': null, 'imp.find': null } : impCells(l)),
      });
    }
    if (channels) for (const l of imps) rows.push({ remaining: metric(l.imp!, 'density'), channels: null, eb: null, 'eb.acc': null, 'eb.es': null, 'eb.find': null, ...impCells(l) });
    const rewind = {
      init: 'from the initial weights (iteration 0)',
      reinit: 'from a fresh initialisation, the schedule resuming at the EB iteration',
    }[String(list[0]!.ticket!.params.rewind)] ?? 'from the weights at the EB iteration, the schedule resuming there';
    tables.push({
      name: group ? `early-bird-${group.replace(/[^A-Za-z0-9_.-]+/g, '-')}` : 'early-bird',
      title: channels ? `Early-Bird tickets by batch-norm channel and IMP tickets: ${name}` : `Early-Bird tickets vs IMP tickets of the same density: ${name}`,
      columns,
      rows,
      caption: joinSentences(
        `The first row is the dense network`,
        channels &&
          `EB masks by batch-norm channel (You et al. 2020, network slimming): the channels with the largest |γ| ${track?.params.scope === 'layerwise' ? 'in each batch norm' : 'over all batch norms'}${track?.params.bnL1 === 0 ? '' : `, the dense run trained with the L1 penalty ${String(track?.params.bnL1 ?? 1e-4)} on the scales`}; a pruned channel's filter, scale and shift are zero; the distances are over all channels; the IMP tickets (unstructured, global) follow in rows of their own`,
        `EB iteration: the first evaluation point at which the last ${String(window)} normalized Hamming distances between consecutive masks are all below ε = ${String(eps)} (You et al. 2020, Algorithm 1); the EB ticket is retrained ${rewind}`,
        `Iterations to find: training iterations before the ticket's mask is known (EB: up to the EB iteration; IMP level l: the dense run and l - 1 retrainings${T !== undefined ? ` of ${T}` : ''})`,
        testSubsetNote([...dense, ...list.map((l) => l.ebRetrain!), ...imps.map((l) => l.imp!)]),
      ),
      replicateNote: 'Over replicates: mean [min, max].',
    });
    const prefix = groups.length > 1 ? `${group}: ` : '';
    distancePlots.push({
      name: group ? `mask-distance-${group.replace(/[^A-Za-z0-9_.-]+/g, '-')}` : 'mask-distance',
      title: `${prefix}Mask distance between consecutive evaluation points (${name})`,
      x: { title: 'Training iteration', integer: true },
      y: { title: 'Normalized Hamming distance', zero: true },
      series: [
        ...list.map((l) => ({ name: `${pct(Number(l.ticket!.params.density))} of ${channels ? 'channels' : 'weights'} remaining`, curve: series(l.ticket!, 'distances', { x: 'iteration', y: 'distance' }) })),
        ...list.map((l) => ({ name: `EB point, ${pct(Number(l.ticket!.params.density))}`, points: [{ x: metric(l.ticket!, 'earlyBirdIteration'), y: metric(l.ticket!, 'distanceAtEarlyBird') }] })),
      ],
      legend: 'Target density',
      points: true,
      dodge: false,
      rule: { y: Number(eps), label: `ε = ${String(eps)}` },
    });
    const name2 = groups.length > 1 ? `${group}: ` : '';
    const densePoint = dense.length ? [{ x: 1, y: metric(dense, 'testAccuracy') }] : [];
    accSeries.push({ name: `${name2}EB ticket`, points: [...densePoint, ...list.map((l) => ({ x: metric(l.ebRetrain!, 'density'), y: metric(l.ebRetrain!, 'testAccuracy') }))] });
    if (imps.length) accSeries.push({ name: `${name2}IMP ticket`, points: [...densePoint, ...imps.map((l) => ({ x: metric(l.imp!, 'density'), y: metric(l.imp!, 'testAccuracy') }))] });
  }
  const accuracy: PlotSpec = {
    name: 'accuracy-vs-weights',
    title: 'Test accuracy vs weights remaining: Early-Bird vs IMP tickets',
    x: { title: 'Percent of weights remaining (log scale)', log: true, reverse: true, format: '.1~%', ticks: 'data' },
    y: { title: 'Test accuracy', format: '.1%' },
    series: accSeries,
    legend: 'Ticket',
  };
  return { tables, plots: [...distancePlots, accuracy] };
});
