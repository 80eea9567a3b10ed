/**
 * VGG networks for CIFAR-10, as open_lth's `cifar_vgg_<11|13|16|19>`: its layer plans of 3x3
 * convolutions (with bias), each followed by BN and ReLU, and 2x2 max pools ('M'); then a 2x2
 * average pool, and FC 512-10. He normal initialisation, batch-norm scales at 1 (open_lth draws
 * them uniformly: same parameter count, other initial values).
 *
 * `vgg16` and `vgg19`, the names this project had first, are the same plans with convolutions
 * WITHOUT bias (the bias is redundant before BN): not `cifar_vgg_16`/`cifar_vgg_19`, which have
 * open_lth's 4,224 and 5,504 more parameters. Both are kept as they are so that existing results stay valid.
 * Weights `conv<i>`, `bn<i>`, `fc` (open_lth: `layers.<j>.conv`, `layers.<j>.bn`, `fc`).
 */
import { positiveParts, type ModelFamily } from './family.js';
import type { ModelDefinition } from './model.js';

export const VGG_PLANS = {
  11: [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512],
  13: [64, 64, 'M', 128, 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512],
  16: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512],
  19: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M', 512, 512, 512, 512],
} as const satisfies Record<number, ReadonlyArray<number | 'M'>>;
export type VggDepth = keyof typeof VGG_PLANS;

export function vgg(name: string, depth: VggDepth, o: { convBias: boolean }): ModelDefinition {
  return {
    name,
    inputShape: [32, 32, 3],
    numClasses: 10,
    init: 'he_normal',
    build: (l) => [
      ...VGG_PLANS[depth].flatMap((step) => (step === 'M' ? [l.maxPool(2)] : [l.conv(step, { bias: o.convBias }), l.batchNorm(), l.relu()])),
      l.avgPool(2),
      l.flatten(),
      l.dense(10, { name: 'fc' }),
    ],
  };
}

export const CIFAR_VGG: ModelFamily = {
  prefix: 'cifar_vgg_',
  pattern: 'cifar_vgg_<11|13|16|19>',
  parse(name) {
    const [depth, ...rest] = positiveParts(name, 'cifar_vgg_') ?? [];
    const d = depth !== undefined && Object.hasOwn(VGG_PLANS, depth) && rest.length === 0 ? (depth as VggDepth) : undefined;
    return d !== undefined ? vgg(name, d, { convBias: true }) : { problem: `the depth must be one of ${Object.keys(VGG_PLANS).join(', ')}` };
  },
};
