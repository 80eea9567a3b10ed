/**
 * What the native TensorFlow backend (tfjs-node's kernels, 4.22.0) lacks for our models.
 *
 * The models pad convolutions explicitly (symmetric 1, as PyTorch's padding=1, also at stride 2,
 * where 'same' would pad 0 above and 1 below instead). tfjs-node's Conv2D passes explicit padding
 * to TensorFlow, but its two gradient kernels reject it ("TF Backend supports only 'valid' and
 * 'same' padding while padding was EXPLICIT"), although TensorFlow's Conv2DBackpropInput and
 * Conv2DBackpropFilter ops take `padding: EXPLICIT` with `explicit_paddings` like Conv2D. The
 * convolution kernels below are tfjs-node's with that attribute passed through: the same TensorFlow ops, so
 * the models stay one definition for every backend.
 *
 * Where explicit padding equals what 'SAME' pads (stride 1, 3x3: 1 on every side), all three
 * convolution kernels ask for SAME: the same numbers, and TensorFlow's oneDNN kernels take a
 * faster path for it (ResNet-20's 16-channel layer, batch 128, 1 thread: filter gradient 20.8 ->
 * 5.7 ms, input gradient 15.3 -> 7.7 ms, forward 12.9 -> 7.7 ms; the whole step: bench/RESULTS.md,
 * with LTH_NATIVE_SAME=0 for the explicit form).
 *
 * ReLU's gradient is dy * step(x) upstream, and Step is 5 TensorFlow ops in tfjs-node (isNaN,
 * where, ones, fill, select: 15.3 ms on a [128,32,32,16] tensor, then 2.4 ms for the product).
 * Here ReLU's gradient runs `LthReluGrad` where the backend has that kernel: TensorFlow's ReluGrad,
 * one op (dy where x > 0, else 0: the same values; a zero's sign may differ, which no sum sees).
 * Other backends keep the upstream formula.
 *
 * With our ops library (src/nn/native/ops/lth_ops.cc, compiled by `pipeline setup native`),
 * training-mode batch norm and the optimizer update are one TensorFlow op each, as on wasm (the
 * LthBatchNorm pair and LthOptimizerUpdate: ./batchnorm.ts and ./optimizer.ts have the contracts)
 * instead of 13 and ~15 element-wise ops; and a fully connected network's whole training step is
 * one op (LthDenseTrainStep: src/nn/native/dense-step.ts). A model's batch norm layer in training
 * is the LthBatchNormTrain pair (./batchnorm.ts): the running averages' update, and a following
 * ReLU or a residual block's sum and ReLU, in the same op (src/nn/models/batchnorm.ts decides
 * from the layer structure). Without the library, the composed versions run.
 */
import { BATCH_NORM_GRAD_KERNEL, BATCH_NORM_KERNEL, BATCH_NORM_TRAIN_GRAD_KERNEL, BATCH_NORM_TRAIN_KERNEL, type BatchNormTrainAttrs } from './batchnorm.js';
import { OPTIMIZER_KERNEL, optimizerOutputCount, type OptimizerUpdateAttrs } from './optimizer.js';
import type { backend_util, KernelFunc, Tensor, TensorInfo } from '@tensorflow/tfjs-core';
import { core } from '../tfjs-core.js';
import { DENSE_STEP_KERNEL, type DenseStepAttrs } from '../native/dense-step.js';

const BACKEND = 'tensorflow';

/** The parts of tfjs-node's NodeJSKernelBackend these kernels use. */
interface NodeBackend {
  binding: { TF_ATTR_INT: number; TF_ATTR_FLOAT: number; TF_ATTR_STRING: number; TF_ATTR_BOOL: number; TF_ATTR_TYPE: number; TF_FLOAT: number };
  executeSingleOutput(name: string, attrs: OpAttr[], inputs: TensorInfo[]): TensorInfo;
  executeMultipleOutputs(name: string, attrs: OpAttr[], inputs: TensorInfo[], numOutputs: number): TensorInfo[];
}
interface OpAttr {
  name: string;
  type: number;
  value: number | number[] | string | boolean;
}
type ConvAttrs = {
  strides: number | [number, number];
  pad: backend_util.ExplicitPadding | 'valid' | 'same' | number;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
};

type Shape4 = [number, number, number, number];

/** `LTH_NATIVE_SAME=0` keeps explicit padding as asked (for comparisons, as LTH_WASM_SIMD=0 does for wasm). */
const ASK_SAME = process.env.LTH_NATIVE_SAME !== '0';

/**
 * The geometry of a convolution; explicit padding that equals SAME's becomes SAME (see the
 * header), everything else stays as asked.
 */
function convInfo(xShape: Shape4, filterShape: Shape4, a: ConvAttrs, dilations: number | [number, number] = 1): backend_util.Conv2DInfo {
  const format = core().backend_util.convertConv2DDataFormat(a.dataFormat);
  const info = core().backend_util.computeConv2DInfo(xShape, filterShape, a.strides, dilations, a.pad, a.dimRoundingMode, false, format);
  if (info.padInfo.type !== 'EXPLICIT' || !ASK_SAME) return info;
  const same = core().backend_util.computeConv2DInfo(xShape, filterShape, a.strides, dilations, 'same', a.dimRoundingMode, false, format);
  const p = info.padInfo;
  const q = same.padInfo;
  return p.top === q.top && p.bottom === q.bottom && p.left === q.left && p.right === q.right ? same : info;
}

/** The attributes of TensorFlow's convolution ops for a convolution's geometry. */
function convOpAttrs(b: NodeBackend, info: backend_util.Conv2DInfo): OpAttr[] {
  const nhwc = info.dataFormat === 'channelsLast';
  const { type, top, bottom, left, right } = info.padInfo;
  const attrs: OpAttr[] = [
    { name: 'T', type: b.binding.TF_ATTR_TYPE, value: b.binding.TF_FLOAT },
    { name: 'strides', type: b.binding.TF_ATTR_INT, value: [1, info.strideHeight, info.strideWidth, 1] },
    { name: 'padding', type: b.binding.TF_ATTR_STRING, value: type },
    { name: 'data_format', type: b.binding.TF_ATTR_STRING, value: nhwc ? 'NHWC' : 'NCHW' },
    { name: 'use_cudnn_on_gpu', type: b.binding.TF_ATTR_BOOL, value: true },
    { name: 'dilations', type: b.binding.TF_ATTR_INT, value: [1, info.dilationHeight, info.dilationWidth, 1] },
  ];
  if (type === 'EXPLICIT') {
    const hw = [top, bottom, left, right];
    attrs.push({ name: 'explicit_paddings', type: b.binding.TF_ATTR_INT, value: nhwc ? [0, 0, ...hw, 0, 0] : [0, 0, 0, 0, ...hw] });
  }
  return attrs;
}

/** Runs a gradient op whose first or second input is a shape (given as an int32 vector). */
function withSizes(b: NodeBackend, op: string, attrs: OpAttr[], sizes: number[], inputs: (s: TensorInfo) => TensorInfo[]): TensorInfo {
  const s = core().tensor1d(sizes, 'int32');
  try {
    return b.executeSingleOutput(op, attrs, inputs(s));
  } finally {
    s.dispose();
  }
}

const conv2D: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, filter } = inputs as { x: TensorInfo; filter: TensorInfo };
  const a = attrs as unknown as ConvAttrs & { dilations: number | [number, number] };
  const info = convInfo(x.shape as Shape4, filter.shape as Shape4, a, a.dilations);
  const b = backend as unknown as NodeBackend;
  return b.executeSingleOutput('Conv2D', convOpAttrs(b, info), [x, filter]);
};

const conv2DBackpropInput: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const a = attrs as unknown as ConvAttrs & { inputShape: Shape4 };
  const info = convInfo(a.inputShape, filter.shape as Shape4, a);
  const b = backend as unknown as NodeBackend;
  return withSizes(b, 'Conv2DBackpropInput', convOpAttrs(b, info), info.inShape, (s) => [s, filter, dy]);
};

const conv2DBackpropFilter: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const a = attrs as unknown as ConvAttrs & { filterShape: Shape4 };
  const info = convInfo(x.shape as Shape4, a.filterShape, a);
  const b = backend as unknown as NodeBackend;
  return withSizes(b, 'Conv2DBackpropFilter', convOpAttrs(b, info), info.filterShape, (s) => [x, s, dy]);
};

const RELU_GRAD_KERNEL = 'LthReluGrad';

const reluGrad: KernelFunc = ({ inputs, backend }) => {
  const { dy, x } = inputs as { dy: TensorInfo; x: TensorInfo };
  const b = backend as unknown as NodeBackend;
  return b.executeSingleOutput('ReluGrad', [{ name: 'T', type: b.binding.TF_ATTR_TYPE, value: b.binding.TF_FLOAT }], [dy, x]);
};

/** ReLU's gradient: the backend's `LthReluGrad` where it has one, else upstream's dy * step(x). */
function registerReluGradient(): void {
  core().registerGradient({
    kernelName: 'Relu',
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => {
      const [x] = saved as [Tensor];
      const g = dy as Tensor;
      const t = core();
      return { x: () => (t.getKernel(RELU_GRAD_KERNEL, t.getBackend()) ? (t.engine().runKernel(RELU_GRAD_KERNEL, { dy: g, x }) as Tensor) : t.mul(g, t.cast(t.step(x), 'float32'))) };
    },
  });
}

/** Our LthBatchNorm op: y, mean, biased variance, then the saved mean and rstd that its gradient takes. */
const batchNorm: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, gamma, beta } = inputs as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
  const b = backend as unknown as NodeBackend;
  const epsilon: OpAttr = { name: 'epsilon', type: b.binding.TF_ATTR_FLOAT, value: (attrs as { epsilon: number }).epsilon };
  return b.executeMultipleOutputs(BATCH_NORM_KERNEL, [epsilon], [x, gamma, beta], 5);
};

const batchNormGrad: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, x, gamma, s0, s1 } = inputs as Record<'dy' | 'x' | 'gamma' | 's0' | 's1', TensorInfo>;
  const b = backend as unknown as NodeBackend;
  const epsilon: OpAttr = { name: 'epsilon', type: b.binding.TF_ATTR_FLOAT, value: (attrs as { epsilon: number }).epsilon };
  return b.executeMultipleOutputs(BATCH_NORM_GRAD_KERNEL, [epsilon], [dy, x, gamma, s0, s1], 3);
};

/**
 * Our LthBatchNormTrain op (./batchnorm.ts has the contract): y, the updated running mean and
 * variance, the saved mean and rstd. Attributes that are the same from step to step (the batch
 * size's varM aside), so TensorFlow builds one kernel per layer shape.
 */
const batchNormTrain: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, gamma, beta, runningMean, runningVar, residual } = inputs as Record<'x' | 'gamma' | 'beta' | 'runningMean' | 'runningVar', TensorInfo> & { residual?: TensorInfo };
  const a = attrs as unknown as BatchNormTrainAttrs;
  const b = backend as unknown as NodeBackend;
  const num = (name: string, value: number): OpAttr => ({ name, type: b.binding.TF_ATTR_FLOAT, value });
  return b.executeMultipleOutputs(
    BATCH_NORM_TRAIN_KERNEL,
    [
      num('epsilon', a.epsilon), num('keep', a.keep), num('m', a.m), num('var_m', a.varM),
      { name: 'relu', type: b.binding.TF_ATTR_BOOL, value: a.relu },
      { name: 'N', type: b.binding.TF_ATTR_INT, value: residual ? 1 : 0 },
    ],
    [x, gamma, beta, runningMean, runningVar, ...(residual ? [residual] : [])],
    5,
  );
};

/** Its gradient: dx, dgamma, dbeta, and with the forward op's output y given (a residual input), that input's gradient. */
const batchNormTrainGrad: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, x, gamma, beta, s0, s1, y } = inputs as Record<'dy' | 'x' | 'gamma' | 'beta' | 's0' | 's1', TensorInfo> & { y?: TensorInfo };
  const b = backend as unknown as NodeBackend;
  const relu: OpAttr = { name: 'relu', type: b.binding.TF_ATTR_BOOL, value: (attrs as { relu: boolean }).relu };
  const n: OpAttr = { name: 'N', type: b.binding.TF_ATTR_INT, value: y ? 1 : 0 };
  return b.executeMultipleOutputs(BATCH_NORM_TRAIN_GRAD_KERNEL, [relu, n], [dy, x, gamma, beta, s0, s1, ...(y ? [y] : [])], y ? 4 : 3);
};

/** Our LthOptimizerUpdate op, with the attributes the wasm kernel's loops take (./optimizer.ts). */
const optimizerUpdate: KernelFunc = ({ inputs, backend, attrs }) => {
  const { p, g, mask, s1, s2 } = inputs as { p: TensorInfo; g: TensorInfo; mask?: TensorInfo; s1?: TensorInfo; s2?: TensorInfo };
  const a = attrs as unknown as OptimizerUpdateAttrs;
  const b = backend as unknown as NodeBackend;
  const extra = [mask, s1, s2].filter((t): t is TensorInfo => t !== undefined);
  const outputs = optimizerOutputCount(a.type);
  const int = (name: string, value: number): OpAttr => ({ name, type: b.binding.TF_ATTR_INT, value });
  const flag = (name: string, value: boolean): OpAttr => ({ name, type: b.binding.TF_ATTR_BOOL, value });
  const num = (name: string, value: number): OpAttr => ({ name, type: b.binding.TF_ATTR_FLOAT, value });
  // What changes from step to step is an input, not attributes: TensorFlow's eager runtime would
  // build (and keep) a kernel for every new set of attribute values (ops/lth_ops.cc, Hyper).
  const hyper = core().tensor1d([a.lr, a.lr / a.bc1, a.bc2], 'float32');
  try {
    return b.executeMultipleOutputs(OPTIMIZER_KERNEL, [
      int('N', extra.length), int('M', outputs),
      { name: 'kind', type: b.binding.TF_ATTR_STRING, value: a.type },
      flag('has_mask', mask !== undefined), flag('has_s1', s1 !== undefined), flag('has_s2', s2 !== undefined),
      num('wd', a.weightDecay > 0 ? a.weightDecay : 0), num('momentum', a.momentum),
      num('b1', a.beta1), num('b2', a.beta2), num('c1', 1 - a.beta1), num('c2', 1 - a.beta2), num('eps', a.epsilon),
    ], [p, g, hyper, ...extra], outputs);
  } finally {
    hyper.dispose();
  }
};

/**
 * Our LthDenseTrainStep op (src/nn/native/dense-step.ts): inputs x, labels, hyper, then t0, t1, ...
 * in order; outputs the loss and `outputs` tensors.
 */
const denseTrainStep: KernelFunc = ({ inputs, backend, attrs }) => {
  const a = attrs as unknown as DenseStepAttrs;
  const b = backend as unknown as NodeBackend;
  const named = inputs as Record<string, TensorInfo>;
  const list: TensorInfo[] = [];
  for (let i = 0; named[`t${i}`]; i++) list.push(named[`t${i}`]!);
  const num = (name: string, value: number): OpAttr => ({ name, type: b.binding.TF_ATTR_FLOAT, value });
  return b.executeMultipleOutputs(DENSE_STEP_KERNEL, [
    { name: 'N', type: b.binding.TF_ATTR_INT, value: list.length },
    { name: 'M', type: b.binding.TF_ATTR_INT, value: a.outputs },
    { name: 'params', type: b.binding.TF_ATTR_INT, value: a.params },
    { name: 'kind', type: b.binding.TF_ATTR_STRING, value: a.type },
    num('wd', a.weightDecay > 0 ? a.weightDecay : 0), num('momentum', a.momentum),
    num('b1', a.beta1), num('b2', a.beta2), num('c1', 1 - a.beta1), num('c2', 1 - a.beta2), num('eps', a.epsilon),
  ], [named.x!, named.labels!, named.hyper!, ...list], 1 + a.outputs);
};

const KERNELS: Record<string, KernelFunc> = {
  Conv2D: conv2D,
  Conv2DBackpropInput: conv2DBackpropInput,
  Conv2DBackpropFilter: conv2DBackpropFilter,
  [RELU_GRAD_KERNEL]: reluGrad,
};

/** The kernels that run our ops (src/nn/native/ops/lth_ops.cc), registered when the library is loaded. */
const OPS_KERNELS: Record<string, KernelFunc> = {
  [BATCH_NORM_KERNEL]: batchNorm,
  [BATCH_NORM_GRAD_KERNEL]: batchNormGrad,
  [BATCH_NORM_TRAIN_KERNEL]: batchNormTrain,
  [BATCH_NORM_TRAIN_GRAD_KERNEL]: batchNormTrainGrad,
  [OPTIMIZER_KERNEL]: optimizerUpdate,
  [DENSE_STEP_KERNEL]: denseTrainStep,
};

let registered = false;

/**
 * Replaces tfjs-node's kernels above, and adds those of our ops when their library is loaded
 * (idempotent; call once the package has loaded).
 */
export function registerNativeKernels(withOps: boolean): void {
  if (registered) return;
  for (const [kernelName, kernelFunc] of Object.entries({ ...KERNELS, ...(withOps ? OPS_KERNELS : {}) })) {
    if (core().getKernel(kernelName, BACKEND)) core().unregisterKernel(kernelName, BACKEND);
    core().registerKernel({ kernelName, backendName: BACKEND, kernelFunc });
  }
  registerReluGradient();
  registered = true;
}
