/**
 * Runs one stage job: builds the context its `run` sees, calls it, writes the returned metrics
 * and checks that every declared output was written. Shared by the in-process executor and the
 * child process, so both behave the same.
 */
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { PipelineError } from '../../errors.js';
import { METRICS_OUTPUT, type JsonValue, type Metrics, type StageContext, type StageDefinition, type StageProgress } from '../definition/stage.js';
import type { StageHooks, StageJob, StageJobResult } from '../protocol.js';

export type { StageHooks, StageJob, StageJobResult };

export function outputFile(outDir: string, name: string): string {
  return join(outDir, name);
}

export async function executeStageJob(def: StageDefinition, job: StageJob, hooks: StageHooks): Promise<StageJobResult> {
  await mkdir(job.outDir, { recursive: true });
  await mkdir(job.scratchDir, { recursive: true });
  const provenance: Record<string, JsonValue> = {};
  const declared = new Set(job.outputs);
  const outPath = (name: string): string => {
    if (!declared.has(name)) {
      throw new PipelineError('STAGE_FAILED', `stage '${job.id}' wrote output '${name}', which it does not declare`, {
        where: `stage ${job.id}`,
        hint: `declared outputs: ${job.outputs.join(', ') || '(none)'}`,
      });
    }
    return outputFile(job.outDir, name);
  };
  const input = (name: string): string => {
    const v = job.inputs[name];
    if (typeof v !== 'string') throw new PipelineError('STAGE_FAILED', `stage '${job.id}': input '${name}' is ${v === undefined ? 'not declared' : 'a list: use ctx.inputList()'}`, { where: `stage ${job.id}` });
    return v;
  };
  const ctx: StageContext<unknown> = {
    id: job.id,
    key: job.key,
    params: job.params,
    input,
    inputList: (name) => {
      const v = job.inputs[name];
      if (v === undefined) throw new PipelineError('STAGE_FAILED', `stage '${job.id}': input '${name}' is not declared`, { where: `stage ${job.id}` });
      return typeof v === 'string' ? [v] : v;
    },
    output: outPath,
    writeJson: async (name, value) => writeFile(outPath(name), `${JSON.stringify(value, null, 2)}\n`),
    writeText: async (name, text) => writeFile(outPath(name), text),
    workDir: job.scratchDir,
    cpus: def.resources.cpu,
    progress: (p) => hooks.progress(p),
    log: (m) => hooks.log(m),
    provenance: (info) => Object.assign(provenance, info),
    signal: hooks.signal,
  };
  const returned = await def.run(ctx as never);
  if (hooks.signal.aborted) throw new PipelineError('INTERRUPTED', `stage '${job.id}' was interrupted`);
  const metrics: Metrics = returned && typeof returned === 'object' ? (JSON.parse(JSON.stringify(returned)) as Metrics) : {};
  await mkdir(dirname(outputFile(job.outDir, METRICS_OUTPUT)), { recursive: true });
  await writeFile(outputFile(job.outDir, METRICS_OUTPUT), `${JSON.stringify(metrics, null, 2)}\n`);
  for (const name of job.outputs) {
    try {
      await stat(outputFile(job.outDir, name));
    } catch {
      throw new PipelineError('STAGE_FAILED', `stage '${job.id}' finished without writing its output '${name}'`, {
        where: `stage ${job.id}`,
        hint: `write it to ctx.output('${name}')`,
      });
    }
  }
  return { hasMetrics: returned !== undefined, metrics, provenance };
}
