/**
 * The networks of the Lottery Ticket papers, written with tf ops on explicit, named weights
 * (no tf.layers): a model's weights are a plain `TensorMap`, so masks, rewinding and
 * interpolation are plain data operations.
 *
 * Names: `<layer>.kernel` (prunable: every conv and dense kernel, shortcut convs included),
 * `<layer>.bias`, `<bn>.gamma` / `<bn>.beta` (trainable), `<bn>.running_mean` / `.running_var`
 * (buffers, updated in training mode). Layout is TensorFlow's: conv kernels [kh, kw, in, out],
 * dense kernels [in, out], activations NHWC.
 *
 * Architectures (Frankle & Carbin 2019, Frankle et al. 2020, open_lth):
 * - lenet300100: 784-300-100-10 (MNIST), Gaussian Glorot.
 * - conv2/conv4/conv6: 3x3 convs (64,64,pool | +128,128,pool | +256,256,pool), FC 256-256-10,
 *   Gaussian Glorot (CIFAR-10). Optional dropout after the hidden FC layers.
 * - resnet20: 16, 3x[16,16], 3x[32,32], 3x[64,64], BN, projection (1x1 conv + BN) shortcuts where
 *   the shape changes, global average pool, FC 64-10; He normal (272,474 trainable parameters as
 *   open_lth's cifar_resnet_20).
 * - vgg16/vgg19: CIFAR variants with BN after every conv (no conv bias), 2x2 average pool at the
 *   end, FC 512-10; He normal.
 * Convolutions use symmetric padding 1 (as PyTorch's padding=1), also at stride 2.
 */
import type { Tensor, Tensor2D, Tensor4D } from '@tensorflow/tfjs-core';
import { PipelineError } from '../../errors.js';
import { tf } from '../backend.js';
import { BATCH_NORM_GRAD_KERNEL, BATCH_NORM_KERNEL, fusedBatchNormAvailable, registerBatchNormKernels } from '../kernels/batchnorm.js';
import { Rng, hashInts } from '../rng.js';
import { sizeOf, type WeightMap } from '../tensormap.js';

export type LayerKind = 'conv' | 'fc' | 'output';
export type ParamRole = 'kernel' | 'bias' | 'gamma' | 'beta' | 'running_mean' | 'running_var';
export type InitScheme = 'glorot_normal' | 'he_normal' | 'zeros' | 'ones';

export interface ParamSpec {
  name: string;
  shape: number[];
  role: ParamRole;
  init: InitScheme;
  /** Trainable by the optimizer (false for batch-norm running statistics). */
  trainable: boolean;
}

export interface ForwardOptions {
  /** Training mode: batch statistics in batch norm (and their running averages), dropout on. */
  training: boolean;
  /** Seed of this forward pass's dropout masks (the trainer passes hash(seed, iteration)). */
  dropoutSeed?: number;
}

export interface ForwardResult {
  logits: Tensor2D;
  /** Training mode only: the updated batch-norm running statistics, by name. */
  buffers: Record<string, Tensor>;
}

export const MODEL_NAMES = ['lenet300100', 'conv2', 'conv4', 'conv6', 'resnet20', 'vgg16', 'vgg19'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

export interface ModelOptions {
  /** Initialisation seed (default 0). */
  seed?: number;
  /** Dropout rate after hidden FC layers (lenet/conv only; default 0). */
  dropout?: number;
}

export interface Model {
  name: ModelName;
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
  /** The output layer's kernel, e.g. 'fc3.kernel' (pruned at a lower rate in the papers). */
  outputLayer: string;
  /** Kind of each prunable weight. */
  layerKinds: Record<string, LayerKind>;
  /** The seeded initial weights (default: the seed given to createModel). */
  init(seed?: number): WeightMap;
  /** Logits for a batch `x` [N, ...inputShape]. Call inside a tf.tidy / gradient function. */
  forward(w: Record<string, Tensor>, x: Tensor, opts: ForwardOptions): ForwardResult;
}

const BN_EPS = 1e-5;
const BN_MOMENTUM = 0.1; // PyTorch's convention: running = (1 - m) * running + m * batch

class Builder {
  params: ParamSpec[] = [];
  kinds: Record<string, LayerKind> = {};
  conv(name: string, k: number, cin: number, cout: number, init: InitScheme, bias: boolean): void {
    this.params.push({ name: `${name}.kernel`, shape: [k, k, cin, cout], role: 'kernel', init, trainable: true });
    if (bias) this.params.push({ name: `${name}.bias`, shape: [cout], role: 'bias', init: 'zeros', trainable: true });
    this.kinds[`${name}.kernel`] = 'conv';
  }
  dense(name: string, cin: number, cout: number, init: InitScheme, kind: LayerKind): void {
    this.params.push({ name: `${name}.kernel`, shape: [cin, cout], role: 'kernel', init, trainable: true });
    this.params.push({ name: `${name}.bias`, shape: [cout], role: 'bias', init: 'zeros', trainable: true });
    this.kinds[`${name}.kernel`] = kind;
  }
  bn(name: string, c: number): void {
    this.params.push({ name: `${name}.gamma`, shape: [c], role: 'gamma', init: 'ones', trainable: true });
    this.params.push({ name: `${name}.beta`, shape: [c], role: 'beta', init: 'zeros', trainable: true });
    this.params.push({ name: `${name}.running_mean`, shape: [c], role: 'running_mean', init: 'zeros', trainable: false });
    this.params.push({ name: `${name}.running_var`, shape: [c], role: 'running_var', init: 'ones', trainable: false });
  }
}

function strHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Fan-in / fan-out as Keras and PyTorch compute them (receptive field times channels). */
function fans(shape: number[]): [number, number] {
  if (shape.length === 2) return [shape[0]!, shape[1]!];
  const rf = shape.slice(0, -2).reduce((a, b) => a * b, 1);
  return [rf * shape[shape.length - 2]!, rf * shape[shape.length - 1]!];
}

function initTensor(p: ParamSpec, seed: number): Float32Array {
  const n = sizeOf(p.shape);
  const out = new Float32Array(n);
  if (p.init === 'zeros') return out;
  if (p.init === 'ones') return out.fill(1);
  const [fanIn, fanOut] = fans(p.shape);
  const rng = new Rng(hashInts(seed, strHash(p.name)));
  if (p.init === 'glorot_normal') {
    // Keras glorot_normal: truncated normal (2 sd), sd corrected so the variance is 2/(in+out).
    const sd = Math.sqrt(2 / (fanIn + fanOut)) / 0.8796256610342398;
    for (let i = 0; i < n; i++) out[i] = rng.truncatedNormal() * sd;
  } else {
    // He (Kaiming) normal, fan-in mode, as torch.nn.init.kaiming_normal_.
    const sd = Math.sqrt(2 / fanIn);
    for (let i = 0; i < n; i++) out[i] = rng.normal() * sd;
  }
  return out;
}

type Fwd = (w: Record<string, Tensor>, x: Tensor, opts: ForwardOptions, buffers: Record<string, Tensor>) => Tensor2D;

function get(w: Record<string, Tensor>, name: string): Tensor {
  const t = w[name];
  if (!t) throw new PipelineError('INTERNAL', `forward: weight '${name}' missing`, { where: 'src/nn/models' });
  return t;
}

const PAD1: [[number, number], [number, number], [number, number], [number, number]] = [
  [0, 0],
  [1, 1],
  [1, 1],
  [0, 0],
];

function conv3(w: Record<string, Tensor>, x: Tensor, name: string, stride = 1): Tensor4D {
  return tf().conv2d(x as Tensor4D, get(w, `${name}.kernel`) as Tensor4D, stride, PAD1);
}

function batchNorm(w: Record<string, Tensor>, x: Tensor, name: string, opts: ForwardOptions, buffers: Record<string, Tensor>): Tensor {
  const t = tf();
  const gamma = get(w, `${name}.gamma`);
  const beta = get(w, `${name}.beta`);
  if (!opts.training) {
    const scale = t.mul(gamma, t.rsqrt(t.add(get(w, `${name}.running_var`), BN_EPS)));
    const shift = t.sub(beta, t.mul(get(w, `${name}.running_mean`), scale));
    return t.add(t.mul(x, scale), shift);
  }
  const { y, mean, variance } = batchNormTrain(x, gamma, beta);
  const n = x.size / x.shape[x.rank - 1]!;
  const rm = get(w, `${name}.running_mean`);
  const rv = get(w, `${name}.running_var`);
  buffers[`${name}.running_mean`] = t.add(t.mul(rm, 1 - BN_MOMENTUM), t.mul(mean, BN_MOMENTUM));
  buffers[`${name}.running_var`] = t.add(t.mul(rv, 1 - BN_MOMENTUM), t.mul(variance, (BN_MOMENTUM * n) / (n - 1)));
  mean.dispose();
  variance.dispose();
  return y;
}

/**
 * Training-mode batch norm over every axis but the last, with its gradient written out by hand
 * (dbeta = sum dy, dgamma = rstd * sum(dy * xc), dx = a * dy + b * xc + c with per-channel a, b, c):
 * 13 full-size kernels for forward and backward, against ~40 when autodiff goes through
 * `moments` and the broadcasts. Returns the batch mean and (biased) variance as well, which the
 * caller must dispose.
 */
export function batchNormTrain(x: Tensor, gamma: Tensor, beta: Tensor): { y: Tensor; mean: Tensor; variance: Tensor } {
  const t = tf();
  if (fusedBatchNormAvailable(t.getBackend(), x.shape)) return fusedBatchNormTrain(x, gamma, beta);
  const axes = [...Array(x.rank - 1).keys()];
  const count = x.size / x.shape[x.rank - 1]!;
  let mean: Tensor | undefined;
  let variance: Tensor | undefined;
  const op = t.customGrad((...args: unknown[]) => {
    const [xi, g, bt, save] = args as [Tensor, Tensor, Tensor, (ts: Tensor[]) => void];
    const m = t.mean(xi, axes);
    const xc = t.sub(xi, m);
    const v = t.mean(t.square(xc), axes);
    const rstd = t.rsqrt(t.add(v, BN_EPS));
    const value = t.add(t.mul(xc, t.mul(rstd, g)), bt);
    mean = t.keep(m);
    variance = t.keep(v);
    save([xc, rstd, g]);
    return {
      value,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [sxc, srstd, sg] = saved as [Tensor, Tensor, Tensor];
        const dbeta = t.sum(dy, axes);
        const dgamma = t.mul(t.sum(t.mul(dy, sxc), axes), srstd);
        const a = t.mul(sg, srstd);
        const bc = t.mul(a, t.mul(srstd, t.mul(dgamma, -1 / count)));
        const c = t.mul(a, t.mul(dbeta, -1 / count));
        const dx = t.add(t.add(t.mul(dy, a), t.mul(sxc, bc)), c);
        return [dx, dgamma, dbeta];
      },
    };
  });
  const y = op(x, gamma, beta);
  return { y, mean: mean!, variance: variance! };
}

/**
 * The same on a backend's fused pair: 5 passes, not 13 (src/nn/kernels/batchnorm.ts on wasm; our
 * TensorFlow ops on native, src/nn/native/ops/lth_ops.cc).
 */
function fusedBatchNormTrain(x: Tensor, gamma: Tensor, beta: Tensor): { y: Tensor; mean: Tensor; variance: Tensor } {
  const t = tf();
  registerBatchNormKernels();
  let mean: Tensor | undefined;
  let variance: Tensor | undefined;
  const op = t.customGrad((...args: unknown[]) => {
    const [xi, g, bt, save] = args as [Tensor, Tensor, Tensor, (ts: Tensor[]) => void];
    const [value, m, v, ...forGrad] = t.engine().runKernel(BATCH_NORM_KERNEL, { x: xi, gamma: g, beta: bt }, { epsilon: BN_EPS }) as Tensor[];
    mean = t.keep(m!);
    variance = t.keep(v!);
    save([xi, g, ...forGrad]);
    return {
      value: value!,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [sx, sg, ...s] = saved as Tensor[];
        const inputs: Record<string, Tensor> = { dy, x: sx!, gamma: sg! };
        s.forEach((e, i) => (inputs[`s${i}`] = e));
        return t.engine().runKernel(BATCH_NORM_GRAD_KERNEL, inputs, { epsilon: BN_EPS }) as Tensor[];
      },
    };
  });
  const y = op(x, gamma, beta);
  return { y, mean: mean!, variance: variance! };
}

function dense(w: Record<string, Tensor>, x: Tensor, name: string): Tensor2D {
  const t = tf();
  return t.add(t.matMul(x as Tensor2D, get(w, `${name}.kernel`) as Tensor2D), get(w, `${name}.bias`)) as Tensor2D;
}

function dropout(x: Tensor, rate: number, opts: ForwardOptions, layer: number): Tensor {
  if (!opts.training || rate <= 0) return x;
  if (opts.dropoutSeed === undefined) {
    throw new PipelineError('INTERNAL', 'dropout in training mode needs a dropoutSeed', { where: 'src/nn/models' });
  }
  return tf().dropout(x, rate, undefined, hashInts(opts.dropoutSeed, layer));
}

function lenet(b: Builder, dropoutRate: number): Fwd {
  b.dense('fc1', 784, 300, 'glorot_normal', 'fc');
  b.dense('fc2', 300, 100, 'glorot_normal', 'fc');
  b.dense('fc3', 100, 10, 'glorot_normal', 'output');
  return (w, x, opts) => {
    const t = tf();
    let h: Tensor = t.reshape(x, [x.shape[0]!, 784]);
    h = dropout(t.relu(dense(w, h, 'fc1')), dropoutRate, opts, 1);
    h = dropout(t.relu(dense(w, h, 'fc2')), dropoutRate, opts, 2);
    return dense(w, h, 'fc3');
  };
}

function convNet(b: Builder, blocks: number, dropoutRate: number): Fwd {
  const widths = [64, 128, 256].slice(0, blocks);
  let cin = 3;
  let li = 0;
  for (const c of widths) {
    b.conv(`conv${++li}`, 3, cin, c, 'glorot_normal', true);
    b.conv(`conv${++li}`, 3, c, c, 'glorot_normal', true);
    cin = c;
  }
  const side = 32 >> blocks;
  const flat = side * side * cin;
  b.dense('fc1', flat, 256, 'glorot_normal', 'fc');
  b.dense('fc2', 256, 256, 'glorot_normal', 'fc');
  b.dense('fc3', 256, 10, 'glorot_normal', 'output');
  return (w, x, opts) => {
    const t = tf();
    let h = x as Tensor4D;
    for (let i = 1; i <= 2 * blocks; i++) {
      h = t.relu(t.add(conv3(w, h, `conv${i}`), get(w, `conv${i}.bias`))) as Tensor4D;
      if (i % 2 === 0) h = t.maxPool(h, 2, 2, 'valid');
    }
    let f: Tensor = t.reshape(h, [h.shape[0], flat]);
    f = dropout(t.relu(dense(w, f, 'fc1')), dropoutRate, opts, 1);
    f = dropout(t.relu(dense(w, f, 'fc2')), dropoutRate, opts, 2);
    return dense(w, f, 'fc3');
  };
}

function resnet20(b: Builder): Fwd {
  b.conv('conv1', 3, 3, 16, 'he_normal', false);
  b.bn('bn1', 16);
  const blocks: Array<{ name: string; cin: number; cout: number; stride: number }> = [];
  let cin = 16;
  [16, 32, 64].forEach((c, s) => {
    for (let i = 0; i < 3; i++) {
      const name = `layer${s + 1}.${i}`;
      const stride = s > 0 && i === 0 ? 2 : 1;
      b.conv(`${name}.conv1`, 3, cin, c, 'he_normal', false);
      b.bn(`${name}.bn1`, c);
      b.conv(`${name}.conv2`, 3, c, c, 'he_normal', false);
      b.bn(`${name}.bn2`, c);
      if (stride !== 1 || cin !== c) {
        b.conv(`${name}.shortcut`, 1, cin, c, 'he_normal', false);
        b.bn(`${name}.shortcut_bn`, c);
      }
      blocks.push({ name, cin, cout: c, stride });
      cin = c;
    }
  });
  b.dense('fc', 64, 10, 'he_normal', 'output');
  return (w, x, opts, buf) => {
    const t = tf();
    let h = t.relu(batchNorm(w, conv3(w, x, 'conv1'), 'bn1', opts, buf));
    for (const bl of blocks) {
      let y = t.relu(batchNorm(w, conv3(w, h, `${bl.name}.conv1`, bl.stride), `${bl.name}.bn1`, opts, buf));
      y = batchNorm(w, conv3(w, y, `${bl.name}.conv2`), `${bl.name}.bn2`, opts, buf);
      let sc = h;
      if (bl.stride !== 1 || bl.cin !== bl.cout) {
        const p = t.conv2d(h as Tensor4D, get(w, `${bl.name}.shortcut.kernel`) as Tensor4D, bl.stride, 'valid');
        sc = batchNorm(w, p, `${bl.name}.shortcut_bn`, opts, buf);
      }
      h = t.relu(t.add(y, sc));
    }
    const pooled = t.mean(h, [1, 2]);
    return dense(w, pooled, 'fc');
  };
}

const VGG_CFG: Record<'vgg16' | 'vgg19', Array<number | 'M'>> = {
  vgg16: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512],
  vgg19: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M', 512, 512, 512, 512],
};

function vgg(b: Builder, cfg: Array<number | 'M'>): Fwd {
  let cin = 3;
  let li = 0;
  const plan: Array<number | 'M'> = [];
  for (const c of cfg) {
    if (c === 'M') {
      plan.push('M');
      continue;
    }
    li++;
    b.conv(`conv${li}`, 3, cin, c, 'he_normal', false);
    b.bn(`bn${li}`, c);
    plan.push(li);
    cin = c;
  }
  b.dense('fc', 512, 10, 'he_normal', 'output');
  return (w, x, opts, buf) => {
    const t = tf();
    let h = x as Tensor4D;
    for (const step of plan) {
      if (step === 'M') h = t.maxPool(h, 2, 2, 'valid');
      else h = t.relu(batchNorm(w, conv3(w, h, `conv${step}`), `bn${step}`, opts, buf)) as Tensor4D;
    }
    h = t.avgPool(h, 2, 2, 'valid');
    return dense(w, t.reshape(h, [h.shape[0], 512]), 'fc');
  };
}

/** Build a model by name. Throws PARAM_INVALID for an unknown name or bad option. */
export function createModel(name: string, opts: ModelOptions = {}): Model {
  if (!(MODEL_NAMES as readonly string[]).includes(name)) {
    throw new PipelineError('PARAM_INVALID', `unknown model '${name}'`, { hint: `use one of ${MODEL_NAMES.join(', ')}` });
  }
  const modelName = name as ModelName;
  const seed = opts.seed ?? 0;
  const rate = opts.dropout ?? 0;
  if (!(rate >= 0 && rate < 1)) {
    throw new PipelineError('PARAM_INVALID', `dropout must be in [0, 1), got ${rate}`, { where: `model ${name}` });
  }
  if (rate > 0 && !['lenet300100', 'conv2', 'conv4', 'conv6'].includes(name)) {
    throw new PipelineError('PARAM_INVALID', `model ${name} has no dropout layers`, { where: `model ${name}` });
  }
  const b = new Builder();
  let fwd: Fwd;
  let outputLayer: string;
  switch (modelName) {
    case 'lenet300100':
      fwd = lenet(b, rate);
      outputLayer = 'fc3.kernel';
      break;
    case 'conv2':
    case 'conv4':
    case 'conv6':
      fwd = convNet(b, Number(name.slice(4)) / 2, rate);
      outputLayer = 'fc3.kernel';
      break;
    case 'resnet20':
      fwd = resnet20(b);
      outputLayer = 'fc.kernel';
      break;
    case 'vgg16':
    case 'vgg19':
      fwd = vgg(b, VGG_CFG[modelName]);
      outputLayer = 'fc.kernel';
      break;
  }
  const params = b.params;
  return {
    name: modelName,
    inputShape: modelName === 'lenet300100' ? [28, 28, 1] : [32, 32, 3],
    numClasses: 10,
    params,
    trainable: params.filter((p) => p.trainable).map((p) => p.name),
    buffers: params.filter((p) => !p.trainable).map((p) => p.name),
    prunable: params.filter((p) => p.role === 'kernel').map((p) => p.name),
    outputLayer,
    layerKinds: { ...b.kinds },
    init(s = seed) {
      const out: WeightMap = {};
      for (const p of params) out[p.name] = { shape: [...p.shape], data: initTensor(p, s) };
      return out;
    },
    forward(w, x, fo) {
      const buffers: Record<string, Tensor> = {};
      const logits = fwd(w, x, fo, buffers);
      return { logits, buffers };
    },
  };
}

/** Number of elements of the named parameters (all of them by default). */
export function countParams(model: Model, names: readonly string[] = model.params.map((p) => p.name)): number {
  const set = new Set(names);
  return model.params.filter((p) => set.has(p.name)).reduce((a, p) => a + sizeOf(p.shape), 0);
}
