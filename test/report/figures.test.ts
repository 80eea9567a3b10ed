// Issue #10, what a researcher saw in the smoke run's tables and figures, pinned on the pure
// functions (no pipeline run): series with equal values stay visible (marker shapes, a dodge),
// the LaTeX caption's sentence break, the instability legend's wording, integer ticks on the
// k axis, the replicate note only with replicates, the test-subset note from the stages' params.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DOMParser } from '@xmldom/xmldom';
import { dodgeOffsets, isIntegerAxis, renderSvg, SHAPES, toVegaLite } from '../../src/report/plots.js';
import { impReport, lateResetReport } from '../../src/report/lth-reports.js';
import { testSubsetNote } from '../../src/report/test-subset.js';
import type { PlotRow, ResolvedPlot, ResolvedTable } from '../../src/report/resolve.js';
import { joinSentences, type PlotSpec, type ReportPipeline, type ReportStage } from '../../src/report/spec.js';
import { tableToLatex } from '../../src/report/tables.js';

function parseSvg(text: string): Document {
  return new DOMParser().parseFromString(text, 'image/svg+xml') as unknown as Document;
}

function elements(root: Document | Element, tag: string): Element[] {
  const list = root.getElementsByTagName(tag);
  return Array.from({ length: list.length }, (_, i) => list[i]!);
}

/** The data marks of one kind ('point', 'line mark') of a series, by the aria-label vega writes on each. */
function marksOf(doc: Document, role: string, series: string): Element[] {
  return elements(doc, 'path').filter((p) => p.getAttribute('aria-roledescription') === role && (p.getAttribute('aria-label') ?? '').endsWith(`series: ${series}`));
}

/** The tick labels of the X or Y axis. */
function tickLabels(doc: Document, axis: 'X' | 'Y'): string[] {
  const group = elements(doc, 'g').find((g) => (g.getAttribute('aria-label') ?? '').startsWith(`${axis}-axis`));
  assert.ok(group, `${axis} axis`);
  const labels = elements(group, 'g').find((g) => (g.getAttribute('class') ?? '').includes('role-axis-label'));
  return elements(labels!, 'text').map((t) => t.textContent ?? '');
}

function pointsPlot(spec: Partial<PlotSpec>, series: Record<string, Array<[number, number]>>): ResolvedPlot {
  const rows: PlotRow[] = Object.entries(series).flatMap(([name, pts]) => pts.map(([x, y]) => ({ series: name, x, y, lo: y, hi: y, n: 1 })));
  return {
    spec: { name: 'p', x: { title: 'x' }, y: { title: 'y' }, series: Object.keys(series).map((name) => ({ name, points: [] })), ...spec },
    rows,
    kind: 'points',
  };
}

function stage(id: string, name: string, params: Record<string, unknown>, upstream: string[] = []): ReportStage {
  return { id, stage: name, params, outputs: [], upstream };
}

function fakePipeline(name: string, stages: ReportStage[]): ReportPipeline {
  return {
    name,
    file: `${name}.ts`,
    params: {},
    stages,
    stage: (id) => stages.find((s) => s.id === id)!,
    find: (n, where) => stages.filter((s) => s.stage === n && (!where || where(s))),
  };
}

const SMOKE_DATA = { subset: { train: 10000, validation: 1000, test: 2000 } };

/** The graph `imp` builds for LeNet: dense run, one level with the ticket and the random-reinit baseline. */
function lenetGraph(data: Record<string, unknown>): ReportPipeline {
  const train = { model: 'lenet300100', dataset: 'mnist', data };
  return fakePipeline('lenet-mnist-imp', [
    stage('train-dense', 'train-dense', train),
    stage('L1/prune', 'prune', { scope: 'layerwise', rates: { fc: 0.6 }, level: 1 }, ['train-dense']),
    stage('L1/rewind', 'rewind', { mode: 'weights', iteration: 0 }, ['train-dense', 'L1/prune']),
    stage('L1/retrain', 'retrain', train, ['L1/rewind', 'L1/prune']),
    stage('L1/reinit', 'rewind', { mode: 'reinit', iteration: 0 }, ['train-dense', 'L1/prune']),
    stage('L1/retrain-reinit', 'retrain', train, ['L1/reinit', 'L1/prune']),
  ]);
}

/** The graph of resnet18-late-reset's smoke profile: one global 20% level, k in {0, 4}, stability per k. */
function lateResetGraph(): ReportPipeline {
  const train = { model: 'resnet20', dataset: 'cifar10', data: { validationSize: 200, subset: { train: 400, validation: 48, test: 48 } } };
  const stages = [stage('train-dense', 'train-dense', train), stage('L1-mask', 'prune', { scope: 'global', rate: 0.2, level: 1 }, ['train-dense'])];
  for (const k of [0, 4]) {
    stages.push(
      stage(`k${k}/L1/rewind`, 'rewind', { mode: 'weights', iteration: k }, ['train-dense', 'L1-mask']),
      stage(`k${k}/L1/retrain`, 'retrain', train, [`k${k}/L1/rewind`, 'L1-mask']),
      stage(`k${k}/L1/stability`, 'evaluate-stability', { ...train, split: 'test' }, [`k${k}/L1/rewind`, 'L1-mask']),
    );
  }
  return fakePipeline('resnet18-late-reset', stages);
}

describe('figures: series with equal values', () => {
  test('two series with the same values are drawn apart: own marker shape, a few pixels of dodge', async () => {
    // The smoke run's early-stopping figure: tickets and random reinit both stop at 200 at every level.
    const plot = pointsPlot({}, { ticket: [[1, 200], [0.4, 200], [0.16, 200]], reinit: [[1, 200], [0.4, 200], [0.16, 200]] });
    const offsets = dodgeOffsets(plot.rows, ['ticket', 'reinit']);
    assert.deepEqual([...offsets.values()], [-2, 2]);
    const doc = parseSvg(await renderSvg(toVegaLite(plot)));
    const [a, b] = [marksOf(doc, 'point', 'ticket'), marksOf(doc, 'point', 'reinit')];
    assert.equal(a.length, 3);
    assert.equal(b.length, 3);
    for (let i = 0; i < 3; i++) {
      assert.notEqual(a[i]!.getAttribute('d'), b[i]!.getAttribute('d'), 'each series has its own marker shape');
      const ya = Number(/translate\([^,]+,([^)]+)\)/.exec(a[i]!.getAttribute('transform')!)![1]);
      const yb = Number(/translate\([^,]+,([^)]+)\)/.exec(b[i]!.getAttribute('transform')!)![1]);
      assert.equal(yb - ya, 4, 'the markers are 4 px apart');
    }
    const [la, lb] = [marksOf(doc, 'line mark', 'ticket'), marksOf(doc, 'line mark', 'reinit')];
    assert.notEqual(la[0]!.getAttribute('d'), lb[0]!.getAttribute('d'), 'the lines are apart too');
  });

  test('series that only share a point (the dense network) are not moved; no series is moved without overlap', () => {
    const shared = pointsPlot({}, { ticket: [[1, 0.93], [0.4, 0.94], [0.16, 0.92]], reinit: [[1, 0.93], [0.4, 0.9], [0.16, 0.88]] });
    assert.deepEqual([...dodgeOffsets(shared.rows, ['ticket', 'reinit']).values()], [0, 0]);
    const vl = toVegaLite(shared) as unknown as { data: { values: Array<Record<string, unknown>> }; layer: Array<{ mark: Record<string, unknown> }> };
    assert.ok(vl.data.values.every((v) => !('dodge' in v)), 'no dodge field');
    assert.ok(vl.layer.every((l) => !('yOffset' in l.mark)));
    assert.equal((toVegaLite(pointsPlot({ dodge: false }, { a: [[0, 1], [1, 1]], b: [[0, 1], [1, 1]] })) as unknown as { data: { values: Array<Record<string, unknown>> } }).data.values.some((v) => 'dodge' in v), false, 'dodge: false turns it off');
  });

  test('three equal series: centred offsets; the legend shows the shapes', () => {
    const plot = pointsPlot({ legend: 'Method' }, { a: [[0, 1], [1, 2]], b: [[0, 1], [1, 2]], c: [[0, 1], [1, 2]], d: [[0, 5], [1, 6]] });
    assert.deepEqual(Object.fromEntries(dodgeOffsets(plot.rows, ['a', 'b', 'c', 'd'])), { a: -4, b: 0, c: 4, d: 0 });
    const vl = toVegaLite(plot) as unknown as { layer: Array<{ mark: { type: string }; encoding: { shape?: { scale: { range: string[] } } } }> };
    const points = vl.layer.find((l) => l.mark.type === 'point')!;
    assert.deepEqual(points.encoding.shape!.scale.range, SHAPES.slice(0, 4));
  });
});

describe('figures: integer axes', () => {
  test('the rewind-iteration axis (k = 0 and 4) has ticks 0, 1, 2, 3, 4 and none at 0.5', async () => {
    const plot = pointsPlot({ x: { title: 'Rewind iteration k', integer: true }, y: { title: 'Instability', format: '.1%', zero: true } }, { '80% of weights remaining': [[0, 0.0625], [4, 0.1146]] });
    const labels = tickLabels(parseSvg(await renderSvg(toVegaLite(plot))), 'X');
    assert.deepEqual(labels, ['0', '1', '2', '3', '4']);
  });

  test('integer by default when every value is an integer; never for log axes or fractions', async () => {
    assert.equal(isIntegerAxis({ title: 'k' }, [0, 4]), true);
    assert.equal(isIntegerAxis({ title: 'k' }, [0, 0.5]), false);
    assert.equal(isIntegerAxis({ title: 'w', log: true }, [1, 4]), false);
    assert.equal(isIntegerAxis({ title: 'k', integer: false }, [0, 4]), false);
    const labels = tickLabels(parseSvg(await renderSvg(toVegaLite(pointsPlot({}, { s: [[0, 1], [2, 3]] })))), 'X');
    assert.ok(labels.every((l) => /^\d+$/.test(l)), labels.join(' '));
  });

  test("ticks: 'data' puts the ticks at the points' values (a narrow log range is labelled)", async () => {
    const plot = pointsPlot({ x: { title: 'w', log: true, reverse: true, format: '.1~%', ticks: 'data' } }, { a: [[1, 0.23], [0.8, 0.17]] });
    assert.deepEqual(tickLabels(parseSvg(await renderSvg(toVegaLite(plot))), 'X').sort(), ['100%', '80%']);
  });
});

describe('tables: captions and notes', () => {
  test('LaTeX: the title and the caption are two sentences', () => {
    const t: ResolvedTable = { name: 'imp', title: 'Iterative magnitude pruning: winning tickets vs baselines', caption: 'Level 0 is the dense network.', columns: [], rows: [], replicates: 1 };
    assert.match(tableToLatex(t), /\\caption\{Iterative magnitude pruning: winning tickets vs baselines\. Level 0 is the dense network\.\}/);
    assert.match(tableToLatex({ ...t, title: 'Done!' }), /\\caption\{Done! Level 0 is the dense network\.\}/, 'no second full stop');
    assert.match(tableToLatex({ ...t, caption: undefined }), /\\caption\{Iterative magnitude pruning: winning tickets vs baselines\.\}/);
    assert.match(tableToLatex({ ...t, title: undefined }), /\\caption\{Level 0 is the dense network\.\}/, 'a caption without a title is kept');
  });

  test('joinSentences', () => {
    assert.equal(joinSentences('A', undefined, 'B.', '', false, 'C?'), 'A. B. C?');
    assert.equal(joinSentences(), '');
  });

  test('imp table: the replicate note is left to the resolver; the 2,000-image subset comes from the stages params', () => {
    const [table] = impReport.build(lenetGraph(SMOKE_DATA)).tables!;
    assert.equal(table!.caption, 'Level 0 is the dense network. Evaluated on a 2,000-image subset of the MNIST test set, not the whole test set.');
    assert.equal(table!.replicateNote, 'Over replicates: mean [min, max].');
    const [paper] = impReport.build(lenetGraph({})).tables!;
    assert.equal(paper!.caption, 'Level 0 is the dense network.', 'no subset: no note');
  });

  test('test-subset note: the size is the param (not a constant), several sizes, some runs only, other splits ignored', () => {
    const s = (id: string, test: number | undefined, extra: Record<string, unknown> = {}): ReportStage => stage(id, 'retrain', { dataset: 'cifar10', data: test === undefined ? {} : { subset: { test } }, ...extra });
    assert.equal(testSubsetNote([s('a', 64)]), 'Evaluated on a 64-image subset of the CIFAR-10 test set, not the whole test set.');
    assert.equal(testSubsetNote([s('a', 48), s('b', 1500)]), 'Evaluated on subsets of 48 to 1,500 images of the CIFAR-10 test set, not the whole test set.');
    assert.equal(testSubsetNote([s('a', 48), s('b', undefined)]), 'Some runs are evaluated on a 48-image subset of the CIFAR-10 test set, not the whole test set.');
    assert.equal(testSubsetNote([s('a', 48, { split: 'validation' })]), undefined);
    assert.equal(testSubsetNote([s('a', undefined)]), undefined);
  });

  test('late resetting: legend says "80% of weights remaining", k axis integer, subset note, replicate note left to the resolver', () => {
    const spec = lateResetReport.build(lateResetGraph());
    const instability = spec.plots!.find((p) => p.name === 'instability-vs-rewind')!;
    assert.deepEqual(instability.series.map((s) => s.name), ['80% of weights remaining']);
    assert.equal(instability.legend, undefined, "no 'Sparsity' legend title");
    assert.equal(instability.x.integer, true);
    const [table] = spec.tables!;
    assert.ok(table!.columns.some((c) => c.label === 'Test acc. % at 80% of weights remaining'));
    assert.match(table!.caption!, /at level 1\. Evaluated on a 48-image subset of the CIFAR-10 test set, not the whole test set\.$/);
    assert.doesNotMatch(table!.caption!, /replicates/);
    assert.equal(table!.replicateNote, 'Over replicates: mean [min, max].');
  });

  test('instability figure: the rendered legend reads "80% of weights remaining"', async () => {
    const spec = lateResetReport.build(lateResetGraph()).plots!.find((p) => p.name === 'instability-vs-rewind')!;
    const rows: PlotRow[] = [{ series: spec.series[0]!.name, x: 0, y: 0.0625, lo: 0.0625, hi: 0.0625, n: 1 }, { series: spec.series[0]!.name, x: 4, y: 0.1146, lo: 0.1146, hi: 0.1146, n: 1 }];
    const svg = await renderSvg(toVegaLite({ spec, rows, kind: 'points' }));
    assert.match(svg, />80% of weights remaining</);
    assert.doesNotMatch(svg, /Sparsity|% weights</);
    assert.deepEqual(tickLabels(parseSvg(svg), 'X'), ['0', '1', '2', '3', '4']);
  });
});
