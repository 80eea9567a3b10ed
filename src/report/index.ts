/**
 * Tables, figures and reports from cached results. Pipeline authors use `defineReport`, `metric`,
 * `series` and `groupBy` to declare them (`export const report = defineReport(...)` in the
 * pipeline file); the `table`, `plot`, `report`, `show` and `diff` commands use the rest.
 */
export { defineReport, isReportDefinition, metric, series, groupBy, joinSentences } from './spec.js';
export type { ReportDefinition, ReportSpec, ReportPipeline, ReportStage, TableSpec, ColumnSpec, CellFormat, CellValue, PlotSpec, PlotPoint, AxisSpec, MetricRef, SeriesRef, PointsSeries, CurveSeries } from './spec.js';
export { resolveReport, reportPipelineOf, referencedStages, aggregate, curvePairs, type ResolvedReport, type ResolvedTable, type ResolvedPlot, type ResolvedCell, type ReplicatePlan } from './resolve.js';
export { renderTables, tableToMarkdown, tableToCsv, tableToLatex, tableToJsonValue, tableToHtml, TABLE_FORMATS, type TableFormat } from './tables.js';
export { toVegaLite, renderSvg, renderPng, fontFiles, FONT_FAMILY } from './plots.js';
export { reportHtml, dagSvg, paramsByStage, hyperparameterHtml, type ParamsOfStage } from './html.js';
export { diffLocks, diffToText, diffToMarkdown, type PipelineDiff, type StageDiff } from './diff.js';
export { loadReportDefinition, buildReportSpec, selectSpec } from './load.js';
export { loadReport, replicateSets, runCommandFor } from './session.js';
export { impReport, lateResetReport } from './lth-reports.js';
export { LTH_REPORTS } from './registry.js';
export { testSubsetNote } from './test-subset.js';
