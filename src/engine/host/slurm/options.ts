/**
 * What a Slurm job asks for: a stage's declared resources, the cluster's settings (partition,
 * account, QoS, extra sbatch options, a default wall-clock limit) and the per-stage overrides,
 * settled into one `JobShape`. Stages of one shape can share a job array.
 */
import { PipelineError } from '../../../errors.js';
import { parseWallClockMs } from '../../definition/resources.js';
import type { StageNode } from '../../definition/pipeline.js';
import { matchesForce } from '../scheduler.js';

/** Options a setting may give per stage name, id or glob. */
export interface StageSlurmOptions {
  partition?: string;
  account?: string;
  qos?: string;
  time?: string;
  options?: string;
}

export interface SlurmOptions {
  partition?: string | undefined;
  account?: string | undefined;
  qos?: string | undefined;
  /** Further sbatch options for every job. */
  extra: readonly string[];
  /** The wall-clock limit of a stage that declares none. */
  defaultTimeMs: number;
  /** Per stage name, id or glob (`*`); later entries win. */
  stages: ReadonlyArray<{ pattern: string; options: StageSlurmOptions }>;
  maxPending: number;
  arraySize: number;
  /** Resubmissions after NODE_FAIL, PREEMPTED, BOOT_FAIL. */
  retries: number;
  /** Resubmissions after TIMEOUT or OUT_OF_MEMORY, with `growth` times the time or memory. */
  resourceRetries: number;
  growth: number;
  keepLogs: boolean;
  pollMs: number;
  /** How long a controller that does not answer is waited for. */
  timeoutMs: number;
}

export const SLURM_DEFAULTS = {
  defaultTimeMs: 3_600_000,
  maxPending: 200,
  arraySize: 100,
  retries: 2,
  resourceRetries: 1,
  growth: 2,
  keepLogs: false,
  pollMs: 2_000,
  timeoutMs: 300_000,
} as const;

export interface JobShape {
  cpu: number;
  gpu: number;
  memoryMb: number | undefined;
  timeMs: number;
  partition: string | undefined;
  account: string | undefined;
  qos: string | undefined;
  extra: readonly string[];
}

/** Options split as a shell would split plain words (no quoting: an option with a space is two). */
export function splitOptions(text: string | undefined): string[] {
  return (text ?? '').split(/\s+/).filter((w) => w !== '');
}

export function shapeOf(node: StageNode, o: SlurmOptions): JobShape {
  const own: StageSlurmOptions = {};
  for (const { pattern, options } of o.stages) if (matchesForce(node, [pattern])) Object.assign(own, options);
  const r = node.def.resources;
  let timeMs = r.timeMs ?? o.defaultTimeMs;
  if (own.time !== undefined) {
    try {
      timeMs = parseWallClockMs(own.time, `slurm time of stage '${node.id}'`);
    } catch (e) {
      throw new PipelineError('USAGE', (e as Error).message, { hint: (e as PipelineError).hint });
    }
  }
  return {
    cpu: r.cpu,
    gpu: r.gpu,
    memoryMb: r.memoryMb,
    timeMs,
    partition: own.partition ?? o.partition,
    account: own.account ?? o.account,
    qos: own.qos ?? o.qos,
    extra: [...o.extra, ...splitOptions(own.options)],
  };
}

export function shapeKey(s: JobShape): string {
  return JSON.stringify([s.cpu, s.gpu, s.memoryMb ?? null, s.timeMs, s.partition ?? null, s.account ?? null, s.qos ?? null, s.extra]);
}

/** Slurm's `--time` as D-HH:MM:SS, rounded up to the minute Slurm counts in. */
export function slurmTime(ms: number): string {
  const minutes = Math.max(1, Math.ceil(ms / 60_000));
  const d = Math.floor(minutes / 1440);
  const h = Math.floor((minutes % 1440) / 60);
  const m = minutes % 60;
  return `${d}-${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:00`;
}

/** The sbatch options of a job of this shape (the job's command, output file and name come apart). */
export function sbatchArgs(s: JobShape): string[] {
  return [
    `--cpus-per-task=${s.cpu}`,
    ...(s.gpu > 0 ? [`--gpus=${s.gpu}`] : []),
    ...(s.memoryMb !== undefined ? [`--mem=${s.memoryMb}M`] : []),
    `--time=${slurmTime(s.timeMs)}`,
    ...(s.partition ? [`--partition=${s.partition}`] : []),
    ...(s.account ? [`--account=${s.account}`] : []),
    ...(s.qos ? [`--qos=${s.qos}`] : []),
    ...s.extra,
  ];
}

/** The shape of a resubmission after TIMEOUT or OUT_OF_MEMORY: `growth` times the time or the memory. */
export function grown(s: JobShape, state: string, growth: number, currentMemoryMb: number | undefined): JobShape {
  if (state === 'TIMEOUT') return { ...s, timeMs: Math.ceil(s.timeMs * growth) };
  const base = s.memoryMb ?? currentMemoryMb;
  return base === undefined ? s : { ...s, memoryMb: Math.ceil(base * growth) };
}
