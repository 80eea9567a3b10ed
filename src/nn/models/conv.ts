/**
 * The Conv-2/4/6 networks of Frankle & Carbin (2019) for CIFAR-10: `cifar_conv_<2|4|6>` (`conv2`,
 * `conv4`, `conv6` are the same networks). 3x3 convolutions with bias (64, 64, max-pool | 128,
 * 128, max-pool | 256, 256, max-pool), then FC 256-256-10 with ReLU and optional dropout after
 * the hidden FC layers; Gaussian Glorot initialisation. Weights `conv1`..`conv<n>`, `fc1`..`fc3`.
 */
import { positiveParts, type ModelFamily } from './family.js';
import type { ModelDefinition } from './model.js';

export const CONV_DEPTHS = [2, 4, 6] as const;

export function convNet(name: string, depth: (typeof CONV_DEPTHS)[number]): ModelDefinition {
  const widths = [64, 128, 256].slice(0, depth / 2);
  return {
    name,
    inputShape: [32, 32, 3],
    numClasses: 10,
    init: 'glorot_normal',
    build: (l, o) => [
      ...widths.flatMap((c) => [l.conv(c), l.relu(), l.conv(c), l.relu(), l.maxPool(2)]),
      l.flatten(),
      l.dense(256),
      l.relu(),
      l.dropout(o.dropout),
      l.dense(256),
      l.relu(),
      l.dropout(o.dropout),
      l.dense(10),
    ],
  };
}

export const CIFAR_CONV: ModelFamily = {
  prefix: 'cifar_conv_',
  pattern: 'cifar_conv_<2|4|6>',
  parse(name) {
    const [depth, ...rest] = positiveParts(name, 'cifar_conv_') ?? [];
    const d = CONV_DEPTHS.find((x) => x === depth);
    return d !== undefined && rest.length === 0 ? convNet(name, d) : { problem: `the depth must be one of ${CONV_DEPTHS.join(', ')}` };
  },
};
