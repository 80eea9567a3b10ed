/**
 * The Slurm executor's settings as the engine takes them (`SlurmOptions`): the `slurm.*` settings
 * (config files, environment) and `--set slurm.<stage name, id or glob>.<option>=<value>`, and the
 * checks made before anything is submitted (exit 2): Slurm's commands are there, and Slurm takes
 * the partition, account, QoS, GPUs and options of every job shape the run would submit.
 */
import { PipelineError } from '../errors.js';
import { parseWallClockMs } from '../engine/definition/resources.js';
import type { StageNode } from '../engine/index.js';
import { SlurmCommands } from '../engine/host/slurm/commands.js';
import { SLURM_DEFAULTS, sbatchArgs, shapeKey, shapeOf, splitOptions, type SlurmOptions, type StageSlurmOptions } from '../engine/host/slurm/options.js';
import { appliedSettings, SLURM_STAGE_OPTIONS, type SettingName, type SlurmStageOption } from './config.js';

export const EXECUTORS = ['local', 'slurm'] as const;
export type ExecutorName = (typeof EXECUTORS)[number];

export function executorOf(value: string | undefined): ExecutorName {
  const v = value ?? 'local';
  if (!(EXECUTORS as readonly string[]).includes(v)) {
    throw new PipelineError('USAGE', `--executor ${v}: unknown executor`, { hint: `executors: ${EXECUTORS.join(', ')} (the queue is --queue)` });
  }
  return v as ExecutorName;
}

/** `--set` values split into the pipeline's own and the per-stage Slurm options (`slurm.<stage>.<option>=<value>`). */
export function splitSets(sets: readonly string[]): { pipeline: string[]; slurm: Array<{ pattern: string; options: StageSlurmOptions }> } {
  const pipeline: string[] = [];
  const slurm: Array<{ pattern: string; options: StageSlurmOptions }> = [];
  for (const s of sets) {
    if (!s.startsWith('slurm.')) {
      pipeline.push(s);
      continue;
    }
    const m = /^slurm\.(.+)\.([a-z]+)=(.*)$/s.exec(s);
    if (!m || !(SLURM_STAGE_OPTIONS as readonly string[]).includes(m[2]!)) {
      throw new PipelineError('USAGE', `--set ${s}: expected slurm.<stage name, id or glob>.<option>=<value>`, { hint: `options: ${SLURM_STAGE_OPTIONS.join(', ')}; e.g. --set slurm.train-dense.partition=gpu` });
    }
    slurm.push({ pattern: m[1]!, options: { [m[2] as SlurmStageOption]: m[3]! } });
  }
  return { pipeline, slurm };
}

export function slurmOptions(setOverrides: ReadonlyArray<{ pattern: string; options: StageSlurmOptions }>): SlurmOptions {
  const settings = appliedSettings()?.settings ?? {};
  const get = (name: SettingName): string | number | boolean | undefined => settings[name]?.value;
  const str = (name: SettingName): string | undefined => (get(name) === undefined ? undefined : String(get(name)));
  const num = (name: SettingName, fallback: number): number => (get(name) === undefined ? fallback : Number(get(name)));
  const duration = (name: SettingName, fallback: number): number => (str(name) === undefined ? fallback : parseWallClockMs(str(name)!, `${name} (${settings[name]!.source})`));
  const growth = num('slurm.growth', SLURM_DEFAULTS.growth);
  if (!(growth > 1) || !Number.isFinite(growth)) throw new PipelineError('USAGE', `slurm.growth (${settings['slurm.growth']?.source}) must be a number above 1, not ${str('slurm.growth')}`);
  const fromConfig = str('slurm.stages') ? (JSON.parse(str('slurm.stages')!) as Record<string, StageSlurmOptions>) : {};
  return {
    partition: str('slurm.partition'),
    account: str('slurm.account'),
    qos: str('slurm.qos'),
    extra: splitOptions(str('slurm.options')),
    defaultTimeMs: duration('slurm.time', SLURM_DEFAULTS.defaultTimeMs),
    stages: [...Object.entries(fromConfig).map(([pattern, options]) => ({ pattern, options })), ...setOverrides],
    maxPending: num('slurm.maxPending', SLURM_DEFAULTS.maxPending),
    arraySize: num('slurm.arraySize', SLURM_DEFAULTS.arraySize),
    retries: num('slurm.retries', SLURM_DEFAULTS.retries),
    resourceRetries: num('slurm.resourceRetries', SLURM_DEFAULTS.resourceRetries),
    growth,
    keepLogs: get('slurm.keepLogs') === true,
    pollMs: duration('slurm.poll', SLURM_DEFAULTS.pollMs),
    timeoutMs: duration('slurm.timeout', SLURM_DEFAULTS.timeoutMs),
  };
}

/** Every per-stage pattern names a stage (no subprocess: checked before the run starts). */
export async function checkPatterns(nodes: readonly StageNode[], o: SlurmOptions): Promise<void> {
  const { matchesForce } = await import('../engine/index.js');
  for (const { pattern } of o.stages) {
    if (!nodes.some((n) => matchesForce(n, [pattern]))) {
      throw new PipelineError('USAGE', `slurm options for '${pattern}': no stage name, id or glob matches`, { hint: `stage ids: ${nodes.slice(0, 12).map((n) => n.id).join(', ')}` });
    }
  }
}

/**
 * Before the first job is submitted (a run that submits nothing asks Slurm nothing): Slurm's
 * commands answer, and Slurm accepts each job shape of the pipeline (`sbatch --test-only`: a
 * partition, account or QoS it does not know, a GPU request without GPUs). A refusal is exit 2.
 */
export async function preflight(commands: SlurmCommands, nodes: readonly StageNode[], o: SlurmOptions): Promise<void> {
  await commands.available();
  const shapes = new Map<string, string[]>();
  for (const n of nodes) {
    const s = shapeOf(n, o);
    if (!shapes.has(shapeKey(s))) shapes.set(shapeKey(s), sbatchArgs(s));
  }
  for (const args of shapes.values()) await commands.check(args);
}

/** A stage's Slurm job as `status` shows it. */
export interface StageJob {
  jobId: string;
  state: string;
  /** pending, running, failed: `status`'s word for the stage. */
  word: string;
  text: string;
}

/** The Slurm jobs of a pipeline's stages that are not done (one squeue call for all). */
export async function jobStates(plan: import('../engine/index.js').PipelinePlan, cacheRoot: string): Promise<Map<string, StageJob>> {
  const { SlurmFiles } = await import('../engine/host/slurm/records.js');
  const records = new SlurmFiles(cacheRoot).records(plan.pipeline.definition.name).filter((r) => plan.stages.get(r.id)?.state === 'stale');
  const out = new Map<string, StageJob>();
  if (records.length === 0) return out;
  const states = await new SlurmCommands().states(records.map((r) => r.jobId)).catch(() => undefined);
  for (const r of records) {
    const st = states?.get(r.jobId);
    const state = st?.state ?? (states ? 'GONE' : 'UNKNOWN');
    const word = state === 'PENDING' ? 'pending' : state === 'RUNNING' || state === 'COMPLETING' ? 'running' : state === 'COMPLETED' ? 'stale' : 'failed';
    const text =
      state === 'PENDING'
        ? `Slurm job ${r.jobId}: pending (${st!.reason})`
        : state === 'RUNNING'
          ? `Slurm job ${r.jobId}: running on ${st!.node}`
          : state === 'UNKNOWN'
            ? `Slurm job ${r.jobId}: squeue did not answer`
            : state === 'GONE'
              ? `Slurm job ${r.jobId}: no longer known to Slurm, without a result`
              : `Slurm job ${r.jobId}: ${state}${st?.node ? ` on ${st.node}` : ''} (output: ${r.log})`;
    out.set(r.id, { jobId: r.jobId, state, word, text });
  }
  return out;
}
