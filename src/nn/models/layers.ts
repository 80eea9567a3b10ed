/**
 * The layer builders every network is written with: the built-in families (lenet.ts, conv.ts,
 * resnet.ts, vgg.ts) and a project's own (`defineModel`). Convolution, dense, batch norm, ReLU,
 * pooling, flatten, dropout, residual connections and ResNet's basic block.
 *
 * A layer is a function of the network being built and of its input's shape (one example, NHWC
 * without the batch): it declares its weights and returns its output shape and its forward pass.
 * Composing layers (`sequential`, `block`, `residual`) composes those functions, so a network's
 * weights, shapes and forward pass are written once and cannot disagree, and a shape mistake is
 * reported when the model is defined, not in the middle of a run.
 *
 * Weight names (checkpoints, masks and the PyTorch export key on them). A layer takes `name`, else
 * `<base><n>`, numbered from 1 within its block: `conv1`, `conv2`, ... (convolutions), `fc1`, ...
 * (dense), `bn1`, ... (batch norms), `block1`, ... (blocks); `block(name, ...)` and `basicBlock`
 * put `<name>.` before the names inside them, as PyTorch's module paths do (`layer1.0.conv1`).
 * Tensors: `<layer>.kernel` (conv [kh, kw, in, out], dense [in, out]: TensorFlow's layout; every
 * kernel is prunable), `<layer>.bias`, and `<bn>.gamma`, `<bn>.beta` (trained) with
 * `<bn>.running_mean`, `<bn>.running_var` (buffers, updated in training mode).
 */
import type { Tensor, Tensor2D, Tensor4D } from '@tensorflow/tfjs-core';
import { PipelineError } from '../../errors.js';
import { tf } from '../backend.js';
import { hashInts } from '../rng.js';
import { sizeOf } from '../tensormap.js';
import { batchNormForward } from './batchnorm.js';
import { KERNEL_INITS, type InitScheme, type KernelInit } from './init.js';

export type LayerKind = 'conv' | 'fc' | 'output';
export type ParamRole = 'kernel' | 'bias' | 'gamma' | 'beta' | 'running_mean' | 'running_var';

export interface ParamSpec {
  name: string;
  shape: number[];
  role: ParamRole;
  init: InitScheme;
  /** Trainable by the optimizer (false for batch-norm running statistics). */
  trainable: boolean;
  /**
   * Batch-norm tensors: the kernel (conv or dense) whose output channels this batch norm
   * normalizes, when its input comes straight from one (element-wise layers between them allowed);
   * absent after a sum, a pooling or a flatten. Channel pruning zeroes that kernel's output channel.
   */
  producer?: string;
}

export interface ForwardOptions {
  /** Training mode: batch statistics in batch norm (and their running averages), dropout on. */
  training: boolean;
  /** Seed of this forward pass's dropout masks (the trainer passes hash(seed, iteration)). */
  dropoutSeed?: number;
}

/** The shape of one example (no batch axis): [H, W, C] for images, [n] for flat features. */
export type Shape = readonly number[];

/** What a layer's forward pass sees besides its input. */
export interface ForwardContext {
  /** A weight by its full name. */
  weight(name: string): Tensor;
  readonly opts: ForwardOptions;
  /** Training mode: batch-norm layers put their updated running statistics here, by name. */
  readonly buffers: Record<string, Tensor>;
}

export interface BuiltLayer {
  /** The output's shape (one example). */
  readonly shape: Shape;
  /** The forward pass on a batch [N, ...input shape]. */
  forward(x: Tensor, ctx: ForwardContext): Tensor;
  /**
   * What the forward pass computes, as a list of known operations, where it is one of those
   * (dense, ReLU, flatten, dropout, and sequences of them): a backend may run such a network's
   * whole training step as one op of its own (src/nn/native/dense-step.ts). Absent otherwise.
   */
  readonly ops?: readonly LayerOp[];
  /**
   * The forward pass followed by ReLU, where the layer has it as one computation (batch norm:
   * one op on the native backend): `sequential` runs it for the layer and a ReLU right after it.
   */
  forwardRelu?(x: Tensor, ctx: ForwardContext): Tensor;
  /**
   * relu(forward(x) + r), where the layer has it as one computation (a batch norm, or layers
   * ending with one): `residual` runs it for a main path followed by a ReLU.
   */
  forwardAddRelu?(x: Tensor, r: Tensor, ctx: ForwardContext): Tensor;
}

/** An operation of `BuiltLayer.ops`: the forward pass of a layer, by the names of its weights. */
export type LayerOp =
  | { readonly op: 'dense'; readonly kernel: string; readonly bias?: string }
  | { readonly op: 'relu' }
  | { readonly op: 'flatten' }
  | { readonly op: 'dropout'; readonly rate: number };

/** A layer: given the network and its input shape, declares its weights and builds its forward pass. */
export type Layer = (net: NetworkBuilder, input: Shape) => BuiltLayer;

/** Weights, names and layer bookkeeping of a network while its layers are built. */
export class NetworkBuilder {
  readonly params: ParamSpec[] = [];
  /** Kind of each kernel in declaration order ('conv' or 'fc'; the model makes its last kernel 'output'). */
  readonly kinds: Record<string, LayerKind> = {};
  /** Dropout layers so far: the n-th draws its masks from hash(dropoutSeed, n). */
  dropoutLayers = 0;
  /** Dense layers fed by a flattened [H, W, C] activation, with that shape. */
  readonly flattenedInputs: Record<string, readonly [number, number, number]> = {};
  /** Shapes that `flatten` made from an image (element-wise layers pass the same shape object on). */
  readonly flattened = new WeakMap<Shape, readonly [number, number, number]>();
  /** Layers whose kernel is an embedding table [vocab, dim] (./token-layers.ts): PyTorch's layout already, not transposed on export. */
  readonly embeddings: string[] = [];
  /** Output shapes made by a conv or dense layer, with its kernel's name (element-wise layers pass the same shape object on). */
  readonly producedBy = new WeakMap<Shape, string>();
  private readonly counters = new Map<string, number>();
  private prefix = '';

  /**
   * @param defaultInit the initialisation of kernels whose layer names none
   * @param model the model's name, for messages
   * @param where where the model was defined (`file:line`), if it was by a project
   */
  constructor(
    readonly defaultInit: KernelInit,
    readonly model: string,
    readonly where?: string,
  ) {}

  /** The full name of a layer: `given` inside the current block, else `<base><n>`. */
  layerName(base: string, given?: string): string {
    if (given !== undefined) {
      if (typeof given !== 'string' || !/^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$/.test(given)) {
        this.fail(`layer name ${JSON.stringify(given)} must be letters, digits and '_', in parts separated by '.'`);
      }
      return this.prefix + given;
    }
    const key = this.prefix + base;
    const n = (this.counters.get(key) ?? 0) + 1;
    this.counters.set(key, n);
    return `${key}${n}`;
  }

  /** Builds `fn` with layer names inside `fullName.` (a block). */
  within<T>(fullName: string, fn: () => T): T {
    const saved = this.prefix;
    this.prefix = `${fullName}.`;
    try {
      return fn();
    } finally {
      this.prefix = saved;
    }
  }

  kernel(layer: string, shape: number[], kind: 'conv' | 'fc', init: KernelInit | undefined): void {
    const scheme = init ?? this.defaultInit;
    if (!KERNEL_INITS.includes(scheme)) this.fail(`layer '${layer}': init ${JSON.stringify(scheme)} is not one of ${KERNEL_INITS.join(', ')}`);
    this.add({ name: `${layer}.kernel`, shape, role: 'kernel', init: scheme, trainable: true });
    this.kinds[`${layer}.kernel`] = kind;
  }

  bias(layer: string, n: number): void {
    this.add({ name: `${layer}.bias`, shape: [n], role: 'bias', init: 'zeros', trainable: true });
  }

  /** A scale (at 1) and a shift (at 0) per channel: a batch norm's, or a layer norm's (./token-layers.ts). */
  scaleShift(layer: string, c: number, producer?: string): void {
    const from = producer === undefined ? {} : { producer };
    this.add({ name: `${layer}.gamma`, shape: [c], role: 'gamma', init: 'ones', trainable: true, ...from });
    this.add({ name: `${layer}.beta`, shape: [c], role: 'beta', init: 'zeros', trainable: true, ...from });
  }

  batchNorm(layer: string, c: number, producer?: string): void {
    const from = producer === undefined ? {} : { producer };
    this.scaleShift(layer, c, producer);
    this.add({ name: `${layer}.running_mean`, shape: [c], role: 'running_mean', init: 'zeros', trainable: false, ...from });
    this.add({ name: `${layer}.running_var`, shape: [c], role: 'running_var', init: 'ones', trainable: false, ...from });
  }

  /** A definition mistake: PIPELINE_INVALID at the model's definition. */
  fail(message: string, hint?: string): never {
    throw new PipelineError('PIPELINE_INVALID', `model '${this.model}': ${message}`, { ...(this.where ? { where: this.where } : {}), ...(hint ? { hint } : {}) });
  }

  private add(p: ParamSpec): void {
    if (this.params.some((q) => q.name === p.name)) this.fail(`two weights are named '${p.name}'`, 'give the layers distinct names (or leave names out: they are numbered)');
    this.params.push(p);
  }
}

// ---- checks ------------------------------------------------------------------------------------

function positiveInt(net: NetworkBuilder, what: string, v: unknown): number {
  if (!(typeof v === 'number' && Number.isInteger(v) && v > 0)) net.fail(`${what} must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

function image(net: NetworkBuilder, layer: string, input: Shape): [number, number, number] {
  if (input.length !== 3) net.fail(`${layer} needs an image input [H, W, C], got [${input.join(', ')}]`, 'dense layers take flat inputs: put flatten() or globalAvgPool() between the two');
  return input as [number, number, number];
}

function spatial(net: NetworkBuilder, layer: string, size: number, k: number, stride: number, pad: number): number {
  const out = Math.floor((size + 2 * pad - k) / stride) + 1;
  if (!(out >= 1)) net.fail(`${layer}: a window of ${k} does not fit an input of size ${size}`);
  return out;
}

type Padding = 'valid' | [[number, number], [number, number], [number, number], [number, number]];

/** Symmetric zero padding, as PyTorch's `padding=p` (also at stride 2, where TensorFlow's 'same' would pad one side). */
function paddingOf(pad: number): Padding {
  return pad === 0
    ? 'valid'
    : [
        [0, 0],
        [pad, pad],
        [pad, pad],
        [0, 0],
      ];
}

// ---- the layers ----------------------------------------------------------------------------------

export interface ConvOptions {
  /** Square kernel size (default 3). */
  kernel?: number;
  stride?: number;
  /** Zero padding on every side (default kernel / 2, rounded down: the size is kept at stride 1). */
  padding?: number;
  /** Default true (PyTorch's default); false before a batch norm. */
  bias?: boolean;
  init?: KernelInit;
  name?: string;
}

/** 2-D convolution with `filters` output channels (a prunable kernel, kind 'conv'). */
export function conv(filters: number, o: ConvOptions = {}): Layer {
  return (net, input) => {
    const name = net.layerName('conv', o.name);
    const what = `conv '${name}'`;
    const [h, w, cin] = image(net, what, input);
    const cout = positiveInt(net, `${what}: filters`, filters);
    const k = positiveInt(net, `${what}: kernel`, o.kernel ?? 3);
    const stride = positiveInt(net, `${what}: stride`, o.stride ?? 1);
    const pad = o.padding ?? Math.floor(k / 2);
    if (!(Number.isInteger(pad) && pad >= 0)) net.fail(`${what}: padding must be a non-negative integer, got ${pad}`);
    const bias = o.bias ?? true;
    net.kernel(name, [k, k, cin, cout], 'conv', o.init);
    if (bias) net.bias(name, cout);
    const padding = paddingOf(pad);
    const shape: Shape = [spatial(net, what, h, k, stride, pad), spatial(net, what, w, k, stride, pad), cout];
    net.producedBy.set(shape, `${name}.kernel`);
    return {
      shape,
      forward: (x, c) => {
        const y = tf().conv2d(x as Tensor4D, c.weight(`${name}.kernel`) as Tensor4D, stride, padding);
        return bias ? tf().add(y, c.weight(`${name}.bias`)) : y;
      },
    };
  };
}

export interface DenseOptions {
  /** Default true. */
  bias?: boolean;
  init?: KernelInit;
  name?: string;
}

/**
 * Fully connected layer with `units` outputs (a prunable kernel, kind 'fc'; the network's last
 * kernel is its output layer). On a sequence [T, d] (./token-layers.ts) it applies to each token:
 * [T, units], as PyTorch's `nn.Linear` on the last axis.
 */
export function dense(units: number, o: DenseOptions = {}): Layer {
  return (net, input) => {
    const name = net.layerName('fc', o.name);
    const what = `dense '${name}'`;
    if (input.length !== 1 && input.length !== 2) net.fail(`${what} needs a flat input [n] or a sequence [tokens, n], got [${input.join(', ')}]`, 'put flatten() (or globalAvgPool()) before it');
    const tokens = input.length === 2 ? input[0]! : undefined;
    const nIn = input[input.length - 1]!;
    const out = positiveInt(net, `${what}: units`, units);
    const bias = o.bias ?? true;
    net.kernel(name, [nIn, out], 'fc', o.init);
    if (bias) net.bias(name, out);
    const unflattened = net.flattened.get(input);
    if (unflattened) net.flattenedInputs[name] = unflattened;
    const shape: Shape = tokens === undefined ? [out] : [tokens, out];
    net.producedBy.set(shape, `${name}.kernel`);
    const flat = (x: Tensor, c: ForwardContext): Tensor => {
      const t = tf();
      const y = t.matMul(x as Tensor2D, c.weight(`${name}.kernel`) as Tensor2D);
      return bias ? t.add(y, c.weight(`${name}.bias`)) : y;
    };
    if (tokens !== undefined) {
      return { shape, forward: (x, c) => tf().reshape(flat(tf().reshape(x, [-1, nIn]), c), [x.shape[0]!, tokens, out]) };
    }
    return {
      shape,
      ops: [bias ? { op: 'dense', kernel: `${name}.kernel`, bias: `${name}.bias` } : { op: 'dense', kernel: `${name}.kernel` }],
      forward: flat,
    };
  };
}

/** Batch norm over the last axis (channels): gamma, beta, and the running statistics. */
export function batchNorm(o: { name?: string } = {}): Layer {
  return (net, input) => {
    const name = net.layerName('bn', o.name);
    if (input.length === 0) net.fail(`batch norm '${name}' needs an input with channels`);
    net.batchNorm(name, input[input.length - 1]!, net.producedBy.get(input));
    const forward = (x: Tensor, c: ForwardContext, relu: boolean, residual?: Tensor): Tensor => {
      const { y, updated } = batchNormForward(
        x,
        { gamma: c.weight(`${name}.gamma`), beta: c.weight(`${name}.beta`), runningMean: c.weight(`${name}.running_mean`), runningVar: c.weight(`${name}.running_var`) },
        c.opts.training,
        relu,
        residual,
      );
      if (updated) {
        c.buffers[`${name}.running_mean`] = updated.runningMean;
        c.buffers[`${name}.running_var`] = updated.runningVar;
      }
      return y;
    };
    return {
      shape: input,
      forward: (x, c) => forward(x, c, false),
      forwardRelu: (x, c) => forward(x, c, true),
      forwardAddRelu: (x, r, c) => forward(x, c, true, r),
    };
  };
}

export function relu(): Layer {
  return (_net, input) => ({ shape: input, ops: [{ op: 'relu' }], forward: (x) => tf().relu(x) });
}

function pool(kind: 'max' | 'avg', size: number, stride: number | undefined): Layer {
  return (net, input) => {
    const what = `${kind} pooling`;
    const [h, w, c] = image(net, what, input);
    const k = positiveInt(net, `${what}: size`, size);
    const s = positiveInt(net, `${what}: stride`, stride ?? k);
    return {
      shape: [spatial(net, what, h, k, s, 0), spatial(net, what, w, k, s, 0), c],
      forward: (x) => (kind === 'max' ? tf().maxPool(x as Tensor4D, k, s, 'valid') : tf().avgPool(x as Tensor4D, k, s, 'valid')),
    };
  };
}

/** Max pooling, `size` x `size` windows (default 2), stride `size` unless given, no padding. */
export function maxPool(size = 2, o: { stride?: number } = {}): Layer {
  return pool('max', size, o.stride);
}

/** Average pooling, `size` x `size` windows (default 2), stride `size` unless given, no padding. */
export function avgPool(size = 2, o: { stride?: number } = {}): Layer {
  return pool('avg', size, o.stride);
}

/** The mean over height and width: [H, W, C] -> [C]. */
export function globalAvgPool(): Layer {
  return (net, input) => {
    const [, , c] = image(net, 'global average pooling', input);
    return { shape: [c], forward: (x) => tf().mean(x, [1, 2]) };
  };
}

/** [H, W, C] -> [H * W * C], in NHWC order (PyTorch flattens (C, H, W): the model's `flattenedInputs` say where that matters). */
export function flatten(): Layer {
  return (net, input) => {
    const n = sizeOf(input);
    const shape: Shape = [n];
    if (input.length === 3) net.flattened.set(shape, [input[0]!, input[1]!, input[2]!]);
    return { shape, ops: [{ op: 'flatten' }], forward: (x) => tf().reshape(x, [x.shape[0]!, n]) };
  };
}

/**
 * Dropout at `rate` in training mode (none at 0). Its masks are seeded: the n-th dropout layer of a
 * network draws from hash(dropoutSeed, n), and the trainer's dropoutSeed is a function of the run's
 * seed and the iteration, so a run is reproduced bit for bit.
 */
export function dropout(rate: number): Layer {
  return (net, input) => {
    if (!(typeof rate === 'number' && rate >= 0 && rate < 1)) net.fail(`dropout rate must be in [0, 1), got ${JSON.stringify(rate)}`);
    const layer = ++net.dropoutLayers;
    return {
      shape: input,
      ops: rate > 0 ? [{ op: 'dropout', rate }] : [],
      forward: (x, c) => {
        if (!c.opts.training || rate <= 0) return x;
        if (c.opts.dropoutSeed === undefined) throw new PipelineError('INTERNAL', 'dropout in training mode needs a dropoutSeed', { where: 'src/nn/models' });
        return tf().dropout(x, rate, undefined, hashInts(c.opts.dropoutSeed, layer));
      },
    };
  };
}

/** The layers one after the other. */
export function sequential(...layers: readonly Layer[]): Layer {
  return (net, input) => {
    let shape = input;
    const built: BuiltLayer[] = [];
    for (const layer of layers) {
      if (typeof layer !== 'function') net.fail(`a layer is ${layer === undefined ? 'undefined' : JSON.stringify(layer)}, not a layer`, 'build layers with the builders passed to build(l): l.dense(10), l.conv(64), ...');
      const b = layer(net, shape);
      built.push(b);
      shape = b.shape;
    }
    const ops = built.every((b) => b.ops) ? built.flatMap((b) => b.ops!) : undefined;
    // A layer with a fused forwardRelu and the ReLU right after it run as one step.
    const steps: ((x: Tensor, c: ForwardContext) => Tensor)[] = [];
    for (let i = 0; i < built.length; i++) {
      const b = built[i]!;
      const next = built[i + 1];
      if (b.forwardRelu && next?.ops?.length === 1 && next.ops[0]!.op === 'relu') {
        steps.push(b.forwardRelu.bind(b));
        i++;
      } else steps.push(b.forward.bind(b));
    }
    const forward = (x: Tensor, c: ForwardContext): Tensor => steps.reduce((h, f) => f(h, c), x);
    // Its last layer's relu(forward + r), where that layer has one (then its last step is that
    // layer alone: only a ReLU is ever fused into the layer before it, and a ReLU has none).
    const last = built.at(-1);
    const forwardAddRelu = last?.forwardAddRelu
      ? (x: Tensor, r: Tensor, c: ForwardContext): Tensor => last.forwardAddRelu!(steps.slice(0, -1).reduce((h, f) => f(h, c), x), r, c)
      : undefined;
    return { shape, ...(ops ? { ops } : {}), forward, ...(forwardAddRelu ? { forwardAddRelu } : {}) };
  };
}

/** Layers whose names are inside `name.` (`block('layer1.0', l.conv(16))` names 'layer1.0.conv1'). */
export function block(name: string, ...layers: readonly Layer[]): Layer {
  return (net, input) => {
    const full = net.layerName('block', name);
    return net.within(full, () => sequential(...layers)(net, input));
  };
}

/**
 * A residual connection: main(x) + shortcut(x). Without a shortcut the input is added as it is,
 * which needs `main` to keep the shape.
 */
export function residual(main: Layer | readonly Layer[], shortcut?: Layer | readonly Layer[]): Layer {
  const asLayer = (l: Layer | readonly Layer[]): Layer => (typeof l === 'function' ? l : sequential(...l));
  return (net, input) => {
    const m = asLayer(main)(net, input);
    const s = shortcut === undefined ? undefined : asLayer(shortcut)(net, input);
    const sc = s?.shape ?? input;
    if (m.shape.length !== sc.length || m.shape.some((d, i) => d !== sc[i])) {
      net.fail(
        `residual: the main path gives [${m.shape.join(', ')}], the shortcut [${sc.join(', ')}]`,
        s ? 'make both paths give the same shape' : 'give a shortcut that changes the shape too, e.g. [l.conv(c, { kernel: 1, stride: 2, bias: false }), l.batchNorm()]',
      );
    }
    // The sum is no single kernel's output (a batch norm after it has no producer).
    net.producedBy.delete(m.shape);
    const forward = (x: Tensor, c: ForwardContext): Tensor => tf().add(m.forward(x, c), s ? s.forward(x, c) : x);
    // Followed by ReLU, where the main path ends with a batch norm: its relu(bn + shortcut) (one op on native).
    const forwardRelu = m.forwardAddRelu ? (x: Tensor, c: ForwardContext): Tensor => m.forwardAddRelu!(x, s ? s.forward(x, c) : x, c) : undefined;
    return { shape: m.shape, forward, ...(forwardRelu ? { forwardRelu } : {}) };
  };
}

export interface BasicBlockOptions {
  /** Stride of the first convolution (and of the projection shortcut); default 1. */
  stride?: number;
  init?: KernelInit;
  name?: string;
}

/**
 * ResNet's basic block (He et al. 2016, as open_lth's CIFAR ResNets): conv3x3(stride)-BN-ReLU-
 * conv3x3-BN plus the shortcut, then ReLU. The shortcut is the identity, or a projection
 * (1x1 conv with the stride, then BN) where the shape changes. Weights: `<name>.conv1`, `.bn1`,
 * `.conv2`, `.bn2`, `.shortcut`, `.shortcut_bn`; convolutions without bias.
 */
export function basicBlock(filters: number, o: BasicBlockOptions = {}): Layer {
  return (net, input) => {
    const stride = o.stride ?? 1;
    const full = net.layerName('block', o.name);
    const cin = image(net, `block '${full}'`, input)[2];
    const init = o.init !== undefined ? { init: o.init } : {};
    const project = stride !== 1 || cin !== filters;
    return net.within(full, () =>
      sequential(
        residual(
          [conv(filters, { stride, bias: false, name: 'conv1', ...init }), batchNorm({ name: 'bn1' }), relu(), conv(filters, { bias: false, name: 'conv2', ...init }), batchNorm({ name: 'bn2' })],
          project ? [conv(filters, { kernel: 1, stride, bias: false, name: 'shortcut', ...init }), batchNorm({ name: 'shortcut_bn' })] : undefined,
        ),
        relu(),
      )(net, input),
    );
  };
}
