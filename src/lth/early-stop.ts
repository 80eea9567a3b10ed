/**
 * The metrics of a training run at its early-stopping iteration, as Frankle & Carbin (2019, §2 and
 * Figures 3-5) report them: the iteration of minimum validation loss, the validation accuracy there,
 * and the test accuracy of the weights at that iteration. The trainer keeps a copy of those weights
 * when it reaches that validation point (no test pass during training); the test split is seen
 * once, here, at the end. One home for train-dense and retrain.
 */
import type { Dataset } from '../nn/data/index.js';
import type { Model } from '../nn/models/index.js';
import { evaluate, type TrainResult } from '../nn/train.js';

export interface EarlyStopMetrics {
  earlyStopIteration: number | null;
  valAccuracyAtEarlyStop: number | null;
  /** Test accuracy of the weights at earlyStopIteration (null without evaluation during training). */
  testAccuracyAtEarlyStop: number | null;
  testLossAtEarlyStop: number | null;
}

export async function earlyStopMetrics(model: Model, result: TrainResult, data: Dataset, evalBatchSize: number): Promise<EarlyStopMetrics> {
  const best = result.curve.find((c) => c.iteration === result.earlyStopIteration);
  const test = result.earlyStopWeights ? await evaluate(model, result.earlyStopWeights, data, 'test', { batchSize: evalBatchSize }) : undefined;
  return {
    earlyStopIteration: result.earlyStopIteration ?? null,
    valAccuracyAtEarlyStop: best?.valAccuracy ?? null,
    testAccuracyAtEarlyStop: test?.accuracy ?? null,
    testLossAtEarlyStop: test?.loss ?? null,
  };
}
