/**
 * Finding a pipeline's report: the `report` export of the pipeline module (made with
 * `defineReport`), else the built-in definition for that pipeline name (src/report/registry.ts).
 * Then the whole path from a plan to numbers: build the spec from the graph, resolve it against
 * the cache.
 */
import { resolve } from 'node:path';
import { PipelineError } from '../errors.js';
import { importModule, type LoadedPipeline } from '../engine/index.js';
import { LTH_REPORTS } from './registry.js';
import { reportPipelineOf } from './resolve.js';
import { isReportDefinition, type ReportDefinition, type ReportSpec } from './spec.js';

export async function loadReportDefinition(pipeline: LoadedPipeline): Promise<ReportDefinition> {
  // The same URL as the engine's import: Node returns the already evaluated module.
  const mod = (await importModule(resolve(pipeline.file))) as Record<string, unknown>;
  if (mod.report !== undefined) {
    if (!isReportDefinition(mod.report)) {
      throw new PipelineError('PIPELINE_INVALID', `the 'report' export of ${pipeline.file} is not a report definition`, {
        where: pipeline.file,
        hint: "export const report = defineReport((pipeline) => ({ tables: [...], plots: [...] })) (import { defineReport } from 'src/report')",
      });
    }
    return mod.report;
  }
  const builtIn = LTH_REPORTS[pipeline.definition.name];
  if (builtIn) return builtIn;
  throw new PipelineError('PIPELINE_INVALID', `pipeline '${pipeline.definition.name}' declares no tables or plots`, {
    where: pipeline.file,
    hint: 'export a report from the pipeline file: export const report = defineReport((pipeline) => ({ tables: [...], plots: [...] }))',
  });
}

export async function buildReportSpec(pipeline: LoadedPipeline): Promise<ReportSpec> {
  const def = await loadReportDefinition(pipeline);
  try {
    return def.build(reportPipelineOf(pipeline));
  } catch (e) {
    if (e instanceof PipelineError) throw e;
    throw new PipelineError('PIPELINE_INVALID', `building the report of '${pipeline.definition.name}' failed: ${(e as Error).message}`, { where: pipeline.file, cause: e });
  }
}

/** Names of tables / plots to keep: undefined or [] keeps all, null keeps none. */
export interface ReportSelection {
  tables?: readonly string[] | null | undefined;
  plots?: readonly string[] | null | undefined;
}

/** The spec, narrowed to some tables or plots by name (unknown names are a usage error). */
export function selectSpec(spec: ReportSpec, opts: ReportSelection): ReportSpec {
  const pick = <T extends { name: string }>(items: readonly T[] | undefined, names: readonly string[] | null | undefined, what: string): T[] => {
    const all = items ?? [];
    if (names === null) return [];
    if (!names || names.length === 0) return [...all];
    return names.map((n) => {
      const found = all.find((i) => i.name === n);
      if (!found) throw new PipelineError('USAGE', `no ${what} named '${n}'`, { hint: `${what}s: ${all.map((i) => i.name).join(', ') || '(none)'}` });
      return found;
    });
  };
  return { tables: pick(spec.tables, opts.tables, 'table'), plots: pick(spec.plots, opts.plots, 'plot') };
}

