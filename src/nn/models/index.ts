/**
 * The networks: layer builders (./layers.ts), the built-in families (./lenet.ts, ./conv.ts,
 * ./resnet.ts, ./vgg.ts: the Lottery Ticket papers' networks, by open_lth-style names too), a
 * project's own (`registerModel`), and the model they all become (./model.ts).
 *
 * Names and layout: `<layer>.kernel` (prunable: every conv and dense kernel, shortcut convs
 * included), `<layer>.bias`, `<bn>.gamma` / `<bn>.beta` (trainable), `<bn>.running_mean` /
 * `.running_var` (buffers, updated in training mode). Layout is TensorFlow's: conv kernels
 * [kh, kw, in, out], dense kernels [in, out], activations NHWC. Convolutions use symmetric zero
 * padding (PyTorch's padding=1 for 3x3), also at stride 2.
 */
export { createModel, registerModel, unregisterModel, modelNameProblem, unknownModelMessage, MODEL_NAMES, MODEL_FAMILIES, type ModelName, type ModelSource } from './registry.js';
export { buildModel, countParams, type Model, type ModelDefinition, type ModelOptions, type BuildOptions, type ForwardResult } from './model.js';
export { layers, type LayerBuilders } from './builders.js';
export { embedding, positionEmbedding, layerNorm, selfAttention, sumTokens, lastToken, LAYER_NORM_EPS, type EmbeddingOptions, type AttentionOptions } from './token-layers.js';
export {
  conv,
  dense,
  batchNorm,
  relu,
  maxPool,
  avgPool,
  globalAvgPool,
  flatten,
  dropout,
  sequential,
  block,
  residual,
  basicBlock,
  NetworkBuilder,
  type Layer,
  type BuiltLayer,
  type ForwardContext,
  type ForwardOptions,
  type LayerKind,
  type ParamRole,
  type ParamSpec,
  type Shape,
  type ConvOptions,
  type DenseOptions,
  type BasicBlockOptions,
} from './layers.js';
export { batchNormLayers, batchNormTrain, maskableNames, type BatchNormLayer } from './batchnorm.js';
export { type InitScheme, type KernelInit } from './init.js';
export { type ModelFamily } from './family.js';
