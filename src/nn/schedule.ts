/**
 * Training budgets ("500it", "160ep") and the learning-rate schedule (linear warmup, step drops).
 * The rate is a pure function of the iteration, so a resumed run needs no schedule state.
 */
import { PipelineError } from '../errors.js';

/** A duration: a number of iterations, or a string `<n>it` / `<n>ep` (epochs). */
export type Duration = number | string;

/** A duration's text: a number of iterations (`500it`) or of epochs (`160ep`, `0.5ep`). The one spelling, for stage params too. */
export const DURATION_PATTERN = /^\s*(\d+(?:\.\d+)?)\s*(it|ep)\s*$/;

/** Examples for messages. */
export const DURATION_EXAMPLES = 'e.g. 500, "500it" or "160ep"';

/** The iterations of a duration that does not depend on the dataset (a number, or whole `<n>it`); undefined for epochs. */
export function fixedIterations(d: Duration): number | undefined {
  if (typeof d === 'number') return d;
  const m = DURATION_PATTERN.exec(d);
  return m && m[2] === 'it' && Number.isInteger(Number(m[1])) ? Number(m[1]) : undefined;
}

/**
 * Iterations of a duration. `itersPerEpoch` is floor(train size / batch size). Fractional epochs
 * are allowed ("0.5ep") and rounded to whole iterations; the result must be a non-negative
 * integer. Throws PARAM_INVALID with the offending text otherwise.
 */
export function parseDuration(d: Duration, itersPerEpoch: number, what = 'budget'): number {
  if (typeof d === 'number') {
    if (Number.isInteger(d) && d >= 0) return d;
    throw new PipelineError('PARAM_INVALID', `${what} must be a non-negative integer number of iterations, got ${d}`, {
      where: what,
      hint: `write ${DURATION_EXAMPLES}`,
    });
  }
  const m = DURATION_PATTERN.exec(String(d));
  if (!m) {
    throw new PipelineError('PARAM_INVALID', `${what} '${d}' is not a duration`, {
      where: what,
      hint: 'write a number followed by "it" (iterations) or "ep" (epochs), e.g. "500it" or "160ep"',
    });
  }
  const n = Number(m[1]);
  if (m[2] === 'it') {
    if (!Number.isInteger(n)) {
      throw new PipelineError('PARAM_INVALID', `${what} '${d}': iterations must be whole`, { where: what });
    }
    return n;
  }
  if (!(itersPerEpoch >= 1)) {
    throw new PipelineError('PARAM_INVALID', `${what} '${d}': epochs need at least one batch per epoch`, {
      where: what,
      hint: 'the batch size is larger than the training set',
    });
  }
  return Math.round(n * itersPerEpoch);
}

/** Alias for budgets. */
export const parseBudget = parseDuration;

export interface ScheduleConfig {
  /** Base learning rate. */
  lr: number;
  /** Linear warmup length: the rate rises as lr * (i + 1) / warmup for i < warmup. */
  warmup?: Duration;
  /** Iterations (or durations) at which the rate is multiplied by `gamma`. */
  milestones?: Duration[];
  /** Drop factor at each milestone (default 0.1). */
  gamma?: number;
}

export interface LrSchedule {
  /** Learning rate used for the update of iteration `i` (0-based). */
  at(i: number): number;
  warmup: number;
  milestones: number[];
}

export function makeSchedule(cfg: ScheduleConfig, itersPerEpoch: number): LrSchedule {
  if (!(Number.isFinite(cfg.lr) && cfg.lr > 0)) {
    throw new PipelineError('PARAM_INVALID', `learning rate must be a positive number, got ${cfg.lr}`, { where: 'lr' });
  }
  const gamma = cfg.gamma ?? 0.1;
  if (!(Number.isFinite(gamma) && gamma > 0)) {
    throw new PipelineError('PARAM_INVALID', `gamma must be a positive number, got ${cfg.gamma}`, { where: 'gamma' });
  }
  const warmup = parseDuration(cfg.warmup ?? 0, itersPerEpoch, 'warmup');
  const milestones = (cfg.milestones ?? []).map((m) => parseDuration(m, itersPerEpoch, 'milestone')).sort((a, b) => a - b);
  return {
    warmup,
    milestones,
    at(i: number): number {
      let lr = cfg.lr;
      for (const m of milestones) if (i >= m) lr *= gamma;
      if (i < warmup) lr *= (i + 1) / warmup;
      return lr;
    },
  };
}

/**
 * Cosine annealing without restarts over `total` iterations: lr * (1 + cos(pi * i / total)) / 2
 * (the schedule of Ramanujan et al. 2020's edge-popup code, there stepped per epoch; here per
 * iteration), after an optional linear warmup as in `makeSchedule`.
 */
export function cosineSchedule(cfg: { lr: number; warmup?: Duration }, total: number, itersPerEpoch: number): LrSchedule {
  if (!(Number.isFinite(cfg.lr) && cfg.lr > 0)) {
    throw new PipelineError('PARAM_INVALID', `learning rate must be a positive number, got ${cfg.lr}`, { where: 'lr' });
  }
  const warmup = parseDuration(cfg.warmup ?? 0, itersPerEpoch, 'warmup');
  return {
    warmup,
    milestones: [],
    at(i: number): number {
      if (i < warmup) return (cfg.lr * (i + 1)) / warmup;
      const span = total - warmup;
      return span > 0 ? (cfg.lr * (1 + Math.cos((Math.PI * (i - warmup)) / span))) / 2 : cfg.lr;
    },
  };
}
