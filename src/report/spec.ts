/**
 * How a pipeline declares its tables and figures: `defineReport(...)`, exported by the pipeline
 * file as `report`. The engine knows nothing of it: the report layer imports the pipeline module
 * and reads that export.
 *
 *   export const report = defineReport((pipeline) => ({
 *     tables: [{ name: 'imp', columns: [...], rows: levels.map((l) => ({ acc: metric(ids, 'testAccuracy'), ... })) }],
 *     plots: [{ name: 'accuracy', kind: 'line', x: {...}, y: {...}, series: [...] }],
 *   }));
 *
 * The spec is built from the pipeline's graph only (stage ids and params), never from results:
 * cells and plot points are references (`metric`, `series`) that the report layer resolves from
 * the run cache, so a missing result is known, and named, before anything is printed.
 */

/** One stage instance of the loaded pipeline, as a report sees it. */
export interface ReportStage {
  readonly id: string;
  /** Stage definition name (`retrain`, `evaluate-stability`, ...). */
  readonly stage: string;
  /** Params after defaults and validation. */
  readonly params: Readonly<Record<string, unknown>>;
  readonly outputs: readonly string[];
  /** Stage ids this one reads outputs of. */
  readonly upstream: readonly string[];
}

export interface ReportPipeline {
  readonly name: string;
  readonly file: string;
  /** Pipeline-level params after `--set`. */
  readonly params: Readonly<Record<string, unknown>>;
  /** Topological order. */
  readonly stages: readonly ReportStage[];
  /** The instance with this id; throws when there is none. */
  stage(id: string): ReportStage;
  /** Instances of a stage definition, optionally filtered. */
  find(stageName: string, where?: (s: ReportStage) => boolean): ReportStage[];
}

type StageList = string | ReportStage | ReadonlyArray<string | ReportStage>;

/**
 * A number (or boolean/string) taken from the metrics of one or more stage instances. Several
 * instances are replicates: the cell shows their mean, with min and max.
 */
export interface MetricRef {
  readonly kind: 'metric';
  readonly stages: readonly string[];
  /** Dot path into the stage's metrics JSON (`testAccuracy`, `layers.fc1`). */
  readonly path: string;
}

/**
 * A curve read from a JSON output artifact of one or more stage instances: an array of objects
 * (`[{iteration, valAccuracy}, ...]`, fields `x` and `y`) or an object of parallel arrays
 * (`{alphas: [...], errors: [...]}`). Replicates are averaged per x, with min/max.
 */
export interface SeriesRef {
  readonly kind: 'series';
  readonly stages: readonly string[];
  readonly output: string;
  readonly x: string;
  readonly y: string;
  /** Multiplies y (e.g. 100 for percent). */
  readonly scaleY?: number;
  /** Multiplies x. */
  readonly scaleX?: number;
}

export type CellValue = MetricRef | number | string | boolean | null;

/**
 * How a cell is printed. `percent:D` multiplies by 100 with D decimals; `fixed:D` D decimals;
 * `int` rounds; `yesno` prints booleans (or the share of true over replicates: `2/3`); `text`
 * leaves values alone.
 */
export type CellFormat = `percent:${number}` | `fixed:${number}` | 'int' | 'yesno' | 'text' | `sci:${number}`;

export interface ColumnSpec {
  /** Key of the cell in each row; also the CSV / JSON field name. */
  key: string;
  /** Header text. */
  label: string;
  format?: CellFormat;
  align?: 'left' | 'right';
}

export interface TableSpec {
  /** File-name-safe identifier (`--table NAME`). */
  name: string;
  title?: string;
  columns: ColumnSpec[];
  rows: Array<Record<string, CellValue>>;
  /** A sentence printed under the table (Markdown, HTML) or as its caption (LaTeX). */
  caption?: string;
  /**
   * A sentence added to the caption only when some cell aggregates more than one replicate (e.g.
   * 'Over replicates: mean [min, max].'): whether there are replicates is known only once the
   * cells are resolved (`--replicates` loads the pipeline several times), not from the graph.
   */
  replicateNote?: string;
}

export interface AxisSpec {
  title: string;
  /** Logarithmic scale (e.g. percent of weights remaining). */
  log?: boolean;
  /** Largest value on the left (sparsity plots read from dense to sparse). */
  reverse?: boolean;
  /** Include zero in the domain (default false for y, true otherwise as Vega-Lite). */
  zero?: boolean;
  /** d3-format string for tick labels. */
  format?: string;
  /** Explicit domain. */
  domain?: [number, number];
  /**
   * Integer ticks only (an iteration, a level): never a tick at 0.5. Default: true when every
   * value on the axis is an integer (linear axes only).
   */
  integer?: boolean;
  /**
   * Where the ticks are: explicit values, or 'data' for the values the points take on this axis
   * (e.g. the densities of the pruning levels, as the papers' figures). Default: vega's ticks.
   */
  ticks?: number[] | 'data';
}

/** A point of a line plot: x and y, each a literal or a metric (aggregated over replicates). */
export interface PlotPoint {
  x: number | MetricRef;
  y: number | MetricRef;
}

export interface PointsSeries {
  name: string;
  points: PlotPoint[];
}

export interface CurveSeries {
  name: string;
  curve: SeriesRef;
}

export interface PlotSpec {
  /** File-name-safe identifier: the figure is written as NAME.svg / NAME.png / NAME.vl.json. */
  name: string;
  title?: string;
  x: AxisSpec;
  y: AxisSpec;
  /** One line per series (the legend's entries, in this order). */
  series: Array<PointsSeries | CurveSeries>;
  /** Legend title (default: none). */
  legend?: string;
  /** Shade min..max over replicates around each line (default true). */
  band?: boolean;
  /** Dots on the data points (default: true for point series, false for curves). */
  points?: boolean;
  /**
   * Shift series that lie on top of each other (most of their points equal) by a few pixels
   * apart, so that none hides another (default true). Every series has its own marker shape too.
   */
  dodge?: boolean;
  /** Horizontal reference line (e.g. the 2% stability threshold). */
  rule?: { y: number; label?: string };
  width?: number;
  height?: number;
}

export interface ReportSpec {
  tables?: TableSpec[];
  plots?: PlotSpec[];
}

export interface ReportDefinition {
  readonly kind: 'report';
  readonly build: (pipeline: ReportPipeline) => ReportSpec;
}

export function defineReport(spec: ReportSpec | ((pipeline: ReportPipeline) => ReportSpec)): ReportDefinition {
  return { kind: 'report', build: typeof spec === 'function' ? spec : () => spec };
}

export function isReportDefinition(x: unknown): x is ReportDefinition {
  return typeof x === 'object' && x !== null && (x as { kind?: unknown }).kind === 'report' && typeof (x as { build?: unknown }).build === 'function';
}

function idsOf(stages: StageList): string[] {
  const list = Array.isArray(stages) ? stages : [stages];
  return (list as Array<string | ReportStage>).map((s) => (typeof s === 'string' ? s : s.id));
}

/** A metric of one stage instance, or the mean/min/max of it over replicate instances. */
export function metric(stages: StageList, path: string): MetricRef {
  return { kind: 'metric', stages: idsOf(stages), path };
}

/** A curve from a JSON output of one stage instance (or averaged over replicates). */
export function series(stages: StageList, output: string, fields: { x: string; y: string; scaleX?: number; scaleY?: number }): SeriesRef {
  return { kind: 'series', stages: idsOf(stages), output, ...fields };
}

/**
 * Sentences joined into one paragraph: each ends with a full stop (unless it has its own
 * punctuation) and the next starts after one space. Empty parts are left out.
 */
export function joinSentences(...parts: ReadonlyArray<string | undefined | null | false>): string {
  return parts
    .map((s) => (typeof s === 'string' ? s.trim() : ''))
    .filter((s) => s !== '')
    .map((s) => (/[.!?:]$/.test(s) ? s : `${s}.`))
    .join(' ');
}

/** Groups items by a key, keeping the order of first appearance. */
export function groupBy<T, K>(items: readonly T[], key: (item: T) => K): Array<[K, T[]]> {
  const groups = new Map<K, T[]>();
  for (const item of items) {
    const k = key(item);
    const g = groups.get(k);
    if (g) g.push(item);
    else groups.set(k, [item]);
  }
  return [...groups.entries()];
}
