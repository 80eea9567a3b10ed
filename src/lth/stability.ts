/**
 * Linear mode connectivity (Frankle et al. 2020): the error barrier on the straight line between
 * two networks trained from one start with different data orders, and distances between weights.
 */
import { PipelineError } from '../errors.js';
import type { WeightMap } from '../nn/tensormap.js';
import type { Mask } from './masks.js';

/** `points` evenly spaced interpolation coefficients from 0 to 1, both included. */
export function interpolationPoints(points: number): number[] {
  if (!(Number.isInteger(points) && points >= 2)) throw new PipelineError('PARAM_INVALID', `points must be an integer >= 2, got ${points}`, { where: 'evaluate-stability' });
  return Array.from({ length: points }, (_, i) => (i === points - 1 ? 1 : i / (points - 1)));
}

/** (1 - alpha) * a + alpha * b for every tensor (batch-norm statistics included). */
export function interpolate(a: WeightMap, b: WeightMap, alpha: number): WeightMap {
  const out: WeightMap = {};
  for (const n of Object.keys(a).sort()) {
    const x = a[n]!;
    const y = b[n];
    if (!y || y.data.length !== x.data.length) throw new PipelineError('PARAM_INVALID', `cannot interpolate: '${n}' differs in shape or is missing`, { where: 'interpolate' });
    const d = new Float32Array(x.data.length);
    for (let i = 0; i < d.length; i++) d[i] = (1 - alpha) * x.data[i]! + alpha * y.data[i]!;
    out[n] = { shape: [...x.shape], data: d };
  }
  return out;
}

/** Instability: the maximum error on the path minus the mean of the two end errors. */
export function instability(errors: readonly number[]): number {
  if (errors.length < 2) throw new PipelineError('PARAM_INVALID', 'instability needs at least the two end points', { where: 'instability' });
  const ends = (errors[0]! + errors[errors.length - 1]!) / 2;
  return Math.max(...errors) - ends;
}

export interface PathResult {
  alphas: number[];
  errors: number[];
  instability: number;
  /** Instability below the threshold (Frankle et al.: 2%). */
  stable: boolean;
}

/** Errors at `points` points of the linear path from `a` to `b`, and the instability. */
export async function linearPath(
  a: WeightMap,
  b: WeightMap,
  errorOf: (w: WeightMap) => Promise<number> | number,
  opts: { points?: number; stableBelow?: number } = {},
): Promise<PathResult> {
  const alphas = interpolationPoints(opts.points ?? 30);
  const errors: number[] = [];
  for (const alpha of alphas) errors.push(await errorOf(alpha === 0 ? a : alpha === 1 ? b : interpolate(a, b, alpha)));
  const inst = instability(errors);
  return { alphas, errors, instability: inst, stable: inst < (opts.stableBelow ?? 0.02) };
}

/** L2 distance between two weight maps over `names` (default: all of a's), under a mask if given. */
export function l2Distance(a: WeightMap, b: WeightMap, opts: { names?: readonly string[]; mask?: Mask } = {}): { distance: number; norm: number } {
  let sq = 0;
  let norm = 0;
  for (const n of opts.names ?? Object.keys(a)) {
    const x = a[n];
    const y = b[n];
    if (!x || !y || x.data.length !== y.data.length) throw new PipelineError('PARAM_INVALID', `cannot compare '${n}': missing or of another shape`, { where: 'l2Distance' });
    const m = opts.mask?.[n]?.data;
    for (let i = 0; i < x.data.length; i++) {
      if (m && !m[i]) continue;
      const d = x.data[i]! - y.data[i]!;
      sq += d * d;
      norm += y.data[i]! * y.data[i]!;
    }
  }
  return { distance: Math.sqrt(sq), norm: Math.sqrt(norm) };
}
