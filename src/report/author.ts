/**
 * What a pipeline file imports to declare its tables and figures (`lth-pipeline/report`):
 * `defineReport` and its helpers, and the built-in reports of the LTH pipelines to reuse
 * (`export { impReport as report } from 'lth-pipeline/report'` for a pipeline built with `imp`).
 * Only the declarations: rendering (vega, the PNG renderer) stays with the commands that render.
 */
export { defineReport, metric, series, groupBy, joinSentences } from './spec.js';
export type { ReportDefinition, ReportSpec, ReportPipeline, ReportStage, TableSpec, ColumnSpec, CellFormat, CellValue, PlotSpec, PlotPoint, AxisSpec, MetricRef, SeriesRef, PointsSeries, CurveSeries } from './spec.js';
export { impReport, lateResetReport } from './lth-reports.js';
