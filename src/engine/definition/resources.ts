/**
 * What one execution of a stage needs, as the stage declares it (`defineStage({ resources })`), and
 * the two unit vocabularies it is written in: wall-clock durations (`90s`, `2h`) and memory sizes
 * (`512M`, `4G`). Declared here once: the scheduler counts cores from it, a Slurm job asks for
 * exactly it (`--cpus-per-task`, `--gpus`, `--mem`, `--time`), and the settings that take a
 * duration (`--queue-timeout`, `slurm.time`) parse it with the same words.
 */
import { PipelineError } from '../../errors.js';

export interface StageResources {
  /** CPU cores one execution keeps busy (threads of its compute library). Default 1. */
  cpu?: number;
  /** GPUs one execution needs. Default 0. */
  gpu?: number;
  /** Memory one execution needs: MiB as a number, or `512M`, `4G`. Default: the cluster's. */
  memory?: number | string;
  /** Wall-clock limit of one execution on a cluster: seconds as a number, or `90m`, `6h`. Default: the `slurm.time` setting. */
  time?: number | string;
}

/** Resources with their defaults and units settled. */
export interface ResolvedResources {
  readonly cpu: number;
  readonly gpu: number;
  readonly memoryMb: number | undefined;
  readonly timeMs: number | undefined;
}

const WALL_CLOCK_UNITS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const MEMORY_UNITS = { K: 1 / 1024, M: 1, G: 1024, T: 1024 * 1024 } as const;

/**
 * A wall-clock duration: `90` (seconds), `90s`, `500ms`, `2m`, `1h`, `2d`. Not the training
 * durations of src/nn (`500it`, `2ep`), which count iterations. Throws USAGE naming `what`.
 */
export function parseWallClockMs(text: string | number, what: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(String(text));
  const ms = m ? Number(m[1]) * WALL_CLOCK_UNITS[(m[2] ?? 's') as keyof typeof WALL_CLOCK_UNITS] : NaN;
  if (!(ms > 0) || !Number.isFinite(ms)) {
    throw new PipelineError('USAGE', `${what} '${text}' is not a duration`, { hint: 'e.g. 60 (seconds), 90s, 500ms, 2m, 1h or 2d' });
  }
  return Math.round(ms);
}

/** A memory size: `512` (MiB), `512M`, `4G`, `4GB`, `1T`. Throws USAGE naming `what`. */
export function parseMemoryMb(text: string | number, what: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT])?(?:i?B)?\s*$/i.exec(String(text));
  const mb = m ? Number(m[1]) * MEMORY_UNITS[(m[2]?.toUpperCase() ?? 'M') as keyof typeof MEMORY_UNITS] : NaN;
  if (!(mb > 0) || !Number.isFinite(mb)) {
    throw new PipelineError('USAGE', `${what} '${text}' is not a memory size`, { hint: 'e.g. 512 (MiB), 512M, 4G' });
  }
  return Math.ceil(mb);
}

/** The declared resources with defaults and units settled; a bad value is thrown as `what`'s mistake. */
export function resolveResources(r: StageResources | undefined, what: string, where: string | undefined): ResolvedResources {
  const count = (v: number | undefined, name: string, min: number, fallback: number): number => {
    if (v === undefined) return fallback;
    if (!Number.isInteger(v) || v < min) throw new PipelineError('PIPELINE_INVALID', `${what}: resources.${name} must be an integer >= ${min}, not ${String(v)}`, { where });
    return v;
  };
  const parsed = <T>(f: () => T): T => {
    try {
      return f();
    } catch (e) {
      throw new PipelineError('PIPELINE_INVALID', `${what}: ${(e as Error).message}`, { where, hint: (e as PipelineError).hint });
    }
  };
  return {
    cpu: count(r?.cpu, 'cpu', 1, 1),
    gpu: count(r?.gpu, 'gpu', 0, 0),
    memoryMb: r?.memory === undefined ? undefined : parsed(() => parseMemoryMb(r.memory!, 'resources.memory')),
    timeMs: r?.time === undefined ? undefined : parsed(() => parseWallClockMs(r.time!, 'resources.time')),
  };
}
