/**
 * Fully connected networks for MNIST: `mnist_lenet_<w1>[_<w2>...]` (open_lth's spelling), 784 ->
 * w1 -> ... -> 10 with ReLU, optional dropout after each hidden layer, Gaussian Glorot
 * initialisation (Frankle & Carbin 2019). `lenet300100` is `mnist_lenet_300_100`.
 * Weights `fc1`, ..., `fc<k+1>` (open_lth: `fc_layers.<i>` and `fc`).
 */
import { positiveParts, type ModelFamily } from './family.js';
import type { ModelDefinition } from './model.js';

export function lenet(name: string, widths: readonly number[]): ModelDefinition {
  return {
    name,
    inputShape: [28, 28, 1],
    numClasses: 10,
    init: 'glorot_normal',
    build: (l, o) => [l.flatten(), ...widths.flatMap((w) => [l.dense(w), l.relu(), l.dropout(o.dropout)]), l.dense(10)],
  };
}

export const MNIST_LENET: ModelFamily = {
  prefix: 'mnist_lenet_',
  pattern: 'mnist_lenet_<w1>[_<w2>...]',
  parse(name) {
    const widths = positiveParts(name, 'mnist_lenet_');
    return widths ? lenet(name, widths) : { problem: 'the hidden widths must be positive integers, e.g. mnist_lenet_300_100' };
  },
};
