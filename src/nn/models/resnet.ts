/**
 * ResNets for CIFAR-10 (He et al. 2016), as open_lth's `cifar_resnet_<depth>[_<width>]`: a 3x3
 * conv of `width` filters (default 16) with BN and ReLU, three stages of n basic blocks
 * (depth = 6n + 2) of width, 2 x width and 4 x width filters (the first block of stages 2 and 3
 * at stride 2, with a projection shortcut: 1x1 conv and BN), global average pooling, FC to 10.
 * Convolutions without bias, He normal initialisation, batch-norm scales at 1 (open_lth draws them
 * uniformly: same parameter count, other initial values). `resnet20` is `cifar_resnet_20`.
 * Weights `conv1`, `bn1`, `layer<stage>.<block>.{conv1,bn1,conv2,bn2,shortcut,shortcut_bn}`, `fc`
 * (PyTorch's torchvision-style paths; open_lth calls them `conv`, `bn`, `blocks.<i>...`).
 */
import { positiveParts, type ModelFamily } from './family.js';
import type { ModelDefinition } from './model.js';

export function cifarResnet(name: string, depth: number, width = 16): ModelDefinition {
  const n = (depth - 2) / 6;
  return {
    name,
    inputShape: [32, 32, 3],
    numClasses: 10,
    init: 'he_normal',
    build: (l) => [
      l.conv(width, { bias: false }),
      l.batchNorm(),
      l.relu(),
      ...[width, 2 * width, 4 * width].flatMap((c, s) =>
        Array.from({ length: n }, (_, i) => l.basicBlock(c, { stride: s > 0 && i === 0 ? 2 : 1, name: `layer${s + 1}.${i}` })),
      ),
      l.globalAvgPool(),
      l.dense(10, { name: 'fc' }),
    ],
  };
}

export const CIFAR_RESNET: ModelFamily = {
  prefix: 'cifar_resnet_',
  pattern: 'cifar_resnet_<depth>[_<width>]',
  parse(name) {
    const parts = positiveParts(name, 'cifar_resnet_');
    if (!parts || parts.length > 2) return { problem: 'the depth (and the width, if given) must be positive integers, e.g. cifar_resnet_20 or cifar_resnet_56_32' };
    const [depth, width] = parts as [number, number | undefined];
    if (depth < 8 || (depth - 2) % 6 !== 0) {
      return { problem: `the depth must be 6n+2 for n >= 1 (8, 14, 20, 26, 32, 44, 56, 110, ...), got ${depth}` };
    }
    return cifarResnet(name, depth, width);
  },
};
