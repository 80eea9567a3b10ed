/**
 * The grokking papers' measures of a run (Power et al. 2022; Minegishi et al. 2023, "Grokking
 * Tickets"), from its curve with training accuracy (`evalTrain`): the first evaluation point at
 * which training accuracy reaches the threshold (memorization), the first at which the evaluated
 * split's accuracy does (generalization; on `modular-addition` that split is the test pairs), and
 * the delay between them. Null when the run never got there. One home for every stage that trains.
 */
import type { CurvePoint } from '../nn/train.js';

/** Grokking-Tickets counts a run as generalized at 95% test accuracy. */
export const DEFAULT_GROK_THRESHOLD = 0.95;

export interface GrokkingMetrics {
  iterationsToMemorize: number | null;
  iterationsToGeneralize: number | null;
  /** iterationsToGeneralize - iterationsToMemorize: how long the network grokked. */
  grokkingDelay: number | null;
  finalTrainAccuracy: number | null;
}

/** The first evaluation point at which `accuracy` reaches `threshold`, or null. */
export function firstReaching(curve: readonly CurvePoint[], accuracy: (c: CurvePoint) => number | undefined, threshold: number): number | null {
  return curve.find((c) => (accuracy(c) ?? -1) >= threshold)?.iteration ?? null;
}

export function grokkingMetrics(curve: readonly CurvePoint[], threshold = DEFAULT_GROK_THRESHOLD): GrokkingMetrics {
  const memorize = firstReaching(curve, (c) => c.trainAccuracy, threshold);
  const generalize = firstReaching(curve, (c) => c.valAccuracy, threshold);
  return {
    iterationsToMemorize: memorize,
    iterationsToGeneralize: generalize,
    grokkingDelay: memorize !== null && generalize !== null ? generalize - memorize : null,
    finalTrainAccuracy: curve.at(-1)?.trainAccuracy ?? null,
  };
}
