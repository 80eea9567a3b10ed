/**
 * Computing one stage key and storing what it produced: a working folder, the stage's `run`
 * through an executor, its outputs moved into the object store, the run record written. Shared by
 * the scheduler (local runs) and queue workers (distributed runs), so both store results alike.
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { PipelineError, isPipelineError } from '../../errors.js';
import type { JsonValue, RunRecord, Store } from '../../store/index.js';
import type { BoundInput, InputDigests, StageHooks, StageJob, StageTask } from '../protocol.js';
import { executorFor } from './executors.js';
import { METRICS_OUTPUT, type StageDefinition } from '../definition/stage.js';

/** A task with its stage definition at hand (already imported), and where to run it. */
export type ComputeSpec = StageTask & {
  def: StageDefinition;
  inline: boolean;
  /** Facts of where it ran that the runner knows and the stage does not (a Slurm job's id and node). */
  provenance?: Record<string, JsonValue>;
};

export function inputDigestsOf(bindings: Record<string, BoundInput>): InputDigests {
  return Object.fromEntries(Object.entries(bindings).map(([name, b]) => [name, b.list ? b.items.map((i) => i.digest) : b.items[0]!.digest]));
}

export async function computeStage(store: Store, spec: ComputeSpec, hooks: StageHooks): Promise<RunRecord> {
  const workDir = await store.makeWorkDir(spec.id);
  const startedAt = new Date();
  try {
    // Stage outputs are handed over as paths of verified objects; external files as their own path.
    const inputPaths: Record<string, string | string[]> = {};
    for (const [name, b] of Object.entries(spec.bindings)) {
      const paths = await Promise.all(b.items.map((i) => i.path ?? store.objects.verified(i.digest)));
      inputPaths[name] = b.list ? paths : paths[0]!;
    }
    const job: StageJob = {
      id: spec.id,
      key: spec.key,
      stage: spec.def.name,
      moduleFile: spec.def.site.file,
      ...(spec.preload?.length ? { preload: spec.preload } : {}),
      params: spec.params,
      inputs: inputPaths,
      outputs: [...spec.outputs],
      outDir: join(workDir.path, 'out'),
      scratchDir: join(workDir.path, 'scratch'),
    };
    const result = await executorFor(spec.def, spec.inline)(spec.def, job, hooks).catch((e: unknown) => {
      if (isPipelineError(e) && (e.code === 'INTERRUPTED' || e.code === 'STAGE_FAILED')) throw e;
      if (hooks.signal.aborted) throw new PipelineError('INTERRUPTED', `stage '${spec.id}' was interrupted`);
      const err = e instanceof Error ? e : new Error(String(e));
      throw new PipelineError(isPipelineError(e) && e.isUserError ? e.code : 'STAGE_FAILED', err.message, { where: `stage ${spec.id}`, cause: err });
    });
    const outputs: RunRecord['outputs'] = {};
    for (const name of [...spec.outputs, METRICS_OUTPUT]) outputs[name] = await store.objects.ingest(join(job.outDir, name));
    const record: RunRecord = {
      key: spec.key,
      stage: spec.def.name,
      id: spec.id,
      codeFingerprint: spec.codeFingerprint,
      params: spec.params as Record<string, JsonValue>,
      inputs: inputDigestsOf(spec.bindings),
      outputs,
      metrics: result.metrics,
      startedAt: startedAt.toISOString(),
      durationMs: Date.now() - startedAt.getTime(),
      host: hostname(),
      provenance: { node: process.version, platform: `${process.platform}-${process.arch}`, ...spec.provenance, ...result.provenance },
    };
    await store.runs.put(record);
    return record;
  } finally {
    await workDir.remove();
  }
}
