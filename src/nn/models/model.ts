/**
 * A model: a network written with the layer builders (./layers.ts), turned into what training,
 * pruning and evaluation use: its named weights with their seeded initialisation (a plain
 * `WeightMap`, so masks, rewinding and interpolation are plain data operations), which of them are
 * trained, pruned and the output layer, and its forward pass on explicit weights (tf ops, no
 * tf.layers).
 */
import type { Tensor, Tensor2D } from '@tensorflow/tfjs-core';
import { PipelineError } from '../../errors.js';
import { sizeOf, type WeightMap } from '../tensormap.js';
import { initTensor, type KernelInit } from './init.js';
import { layers, type LayerBuilders } from './builders.js';
import { NetworkBuilder, sequential, type ForwardOptions, type Layer, type LayerKind, type LayerOp, type ParamSpec } from './layers.js';

export interface ForwardResult {
  logits: Tensor2D;
  /** Training mode only: the updated batch-norm running statistics, by name. */
  buffers: Record<string, Tensor>;
}

export interface ModelOptions {
  /** Initialisation seed (default 0). */
  seed?: number;
  /** Rate of the network's dropout layers (networks written with `l.dropout(options.dropout)`; default 0). */
  dropout?: number;
}

/** What a network's `build` receives besides the layer builders. */
export interface BuildOptions {
  /** The dropout rate a stage asked for (its `dropout` param; default 0). */
  readonly dropout: number;
}

/**
 * A network: its name, the shape of one example, the number of classes, and its layers. What
 * `defineModel` takes, and what every built-in name resolves to.
 */
export interface ModelDefinition {
  readonly name: string;
  /** One example, NHWC without the batch ([28, 28, 1], [32, 32, 3]); [n] for flat features (any input of n values). */
  readonly inputShape: readonly number[];
  readonly numClasses: number;
  /** Initialisation of the kernels whose layer names none (default 'he_normal', as open_lth's kaiming_normal). Biases start at 0, batch-norm scales at 1. */
  readonly init?: KernelInit;
  /** The layers, from the builders `l` (`l.conv`, `l.dense`, `l.batchNorm`, ...): a layer or a list of layers. */
  build(l: LayerBuilders, options: BuildOptions): Layer | readonly Layer[];
}

export interface Model {
  name: string;
  /** One example, NHWC without the batch: [28,28,1] or [32,32,3]. */
  inputShape: number[];
  numClasses: number;
  /** Every tensor of the weight map, in a fixed order. */
  params: readonly ParamSpec[];
  /** Names of the optimizer's parameters (kernels, biases, BN gamma/beta). */
  trainable: string[];
  /** Names of the non-trained state (BN running statistics). */
  buffers: string[];
  /** Conv and dense kernels: what pruning and masks apply to. */
  prunable: string[];
  /** The output layer's kernel (the network's last kernel), e.g. 'fc3.kernel' (pruned at a lower rate in the papers). */
  outputLayer: string;
  /** Kind of each prunable weight. */
  layerKinds: Record<string, LayerKind>;
  /**
   * Dense layers whose input is a flattened image activation, with its [H, W, C] (`fc1` of
   * Conv-6: [4, 4, 256]): we flatten NHWC, PyTorch (C, H, W), so an export reorders their rows.
   */
  flattenedInputs: Record<string, readonly [number, number, number]>;
  /** Layers whose kernel is an embedding table [vocab, dim] (PyTorch's `nn.Embedding` layout: exported as it is). */
  embeddings: string[];
  /** What the network computes, where it is made only of known operations (`BuiltLayer.ops`). */
  layerOps?: readonly LayerOp[];
  /** The seeded initial weights (default: the seed given to createModel). */
  init(seed?: number): WeightMap;
  /** Logits for a batch `x` [N, ...inputShape]. Call inside a tf.tidy / gradient function. */
  forward(w: Record<string, Tensor>, x: Tensor, opts: ForwardOptions): ForwardResult;
}

/**
 * Builds a definition's network. `where`: where a project defined it (`file:line`), for messages.
 * Throws PARAM_INVALID for a bad option, PIPELINE_INVALID for a definition whose layers do not fit.
 */
export function buildModel(def: ModelDefinition, opts: ModelOptions = {}, where?: string): Model {
  const seed = opts.seed ?? 0;
  const rate = opts.dropout ?? 0;
  if (!(rate >= 0 && rate < 1)) {
    throw new PipelineError('PARAM_INVALID', `dropout must be in [0, 1), got ${rate}`, { where: `model ${def.name}` });
  }
  const net: NetworkBuilder = new NetworkBuilder(def.init ?? 'he_normal', def.name, where);
  const inputShape = [...def.inputShape];
  if (inputShape.length === 0 || !inputShape.every((d) => Number.isInteger(d) && d > 0)) net.fail(`inputShape must be a list of positive integers, got ${JSON.stringify(def.inputShape)}`);
  if (!(Number.isInteger(def.numClasses) && def.numClasses >= 2)) net.fail(`numClasses must be an integer of at least 2, got ${JSON.stringify(def.numClasses)}`);
  const spec = def.build(layers, { dropout: rate });
  const network = typeof spec === 'function' ? spec : Array.isArray(spec) ? sequential(...(spec as readonly Layer[])) : net.fail('build() must return a layer or a list of layers');
  const built = network(net, inputShape);
  if (built.shape.length !== 1 || built.shape[0] !== def.numClasses) {
    net.fail(`the network's output is [${built.shape.join(', ')}], not the [${def.numClasses}] of its numClasses`, `end with l.dense(${def.numClasses})`);
  }
  const params = net.params;
  const prunable = params.filter((p) => p.role === 'kernel').map((p) => p.name);
  const outputLayer = prunable[prunable.length - 1];
  if (outputLayer === undefined) net.fail('the network has no conv or dense layer');
  if (rate > 0 && net.dropoutLayers === 0) {
    throw new PipelineError('PARAM_INVALID', `model ${def.name} has no dropout layers`, { where: `model ${def.name}` });
  }
  return {
    name: def.name,
    inputShape,
    numClasses: def.numClasses,
    params,
    trainable: params.filter((p) => p.trainable).map((p) => p.name),
    buffers: params.filter((p) => !p.trainable).map((p) => p.name),
    prunable,
    outputLayer,
    layerKinds: { ...net.kinds, [outputLayer]: 'output' },
    flattenedInputs: { ...net.flattenedInputs },
    embeddings: [...net.embeddings],
    ...(built.ops ? { layerOps: built.ops } : {}),
    init(s = seed) {
      const out: WeightMap = {};
      for (const p of params) out[p.name] = { shape: [...p.shape], data: initTensor(p.name, p.shape, p.init, s) };
      return out;
    },
    forward(w, x, fo) {
      const buffers: Record<string, Tensor> = {};
      const weight = (name: string): Tensor => {
        const t = w[name];
        if (!t) throw new PipelineError('INTERNAL', `forward: weight '${name}' missing`, { where: 'src/nn/models' });
        return t;
      };
      const logits = built.forward(x, { weight, opts: fo, buffers }) as Tensor2D;
      return { logits, buffers };
    },
  };
}

/** Number of elements of the named parameters (all of them by default). */
export function countParams(model: Model, names: readonly string[] = model.params.map((p) => p.name)): number {
  const set = new Set(names);
  return model.params.filter((p) => set.has(p.name)).reduce((a, p) => a + sizeOf(p.shape), 0);
}
