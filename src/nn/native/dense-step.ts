/**
 * A whole training step of a fully connected network as one TensorFlow op of ours
 * (`LthDenseTrainStep`, ./ops/lth_ops.cc), on the native backend.
 *
 * A LeNet-300-100 step composed of tfjs ops is ~80 of them (8 matrix products, the loss and its
 * gradient, bias and ReLU gradients, the optimizer update per tensor), and on the native backend
 * most of its time was the dispatch of each (tfjs-core's engine, the binding, TensorFlow's eager
 * runtime; bench/RESULTS.md). The op computes the same function: the forward pass of the model's
 * layers, the mean softmax cross-entropy, its gradient, and the masked update of every parameter
 * with the loops of `LthOptimizerUpdate` (the same code). Float32 throughout; the matrix products
 * are Eigen's, not oneDNN's, so the results agree with the composed step's to float rounding
 * (test/nn/native.test.ts), and are the same bits from run to run.
 *
 * Chosen from the model's layer structure (`Model.layerOps`: the network is [flatten] dense
 * (relu dense)*, no dropout, no buffers), never from its name; any other network, and the other
 * backends, run the composed step. `LTH_NATIVE_DENSE_STEP=0` turns it off (for comparisons).
 */
import type { Tensor } from '@tensorflow/tfjs-core';
import { tf } from '../backend.js';
import type { Model } from '../models/index.js';
import { stateNames, type OptimizerConfig, type StepResult } from '../optim.js';
import { NATIVE_OPTIMIZER_TYPES } from '../optimizer-types.js';
import { core } from '../tfjs-core.js';

/** The tfjs kernel that runs the op (src/nn/kernels/native.ts registers it with our ops). */
export const DENSE_STEP_KERNEL = 'LthDenseTrainStep';

/** Its attributes: per parameter the op's flags (./ops/lth_ops.cc), the number of outputs after the loss, the optimizer. */
export interface DenseStepAttrs {
  params: number[];
  outputs: number;
  type: OptimizerConfig['type'];
  weightDecay: number;
  momentum: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

/** One step: new parameters and optimizer state (new tensors; the caller disposes the old ones) and the batch's loss. */
export type DenseTrainStep = (
  params: Record<string, Tensor>,
  state: Record<string, Tensor>,
  masks: Record<string, Tensor>,
  x: Float32Array,
  labels: Int32Array,
  lr: number,
  iteration: number,
) => StepResult & { loss: number };

/** The dense layers' parameters in order (kernel, then its bias), when the network is [flatten] dense (relu dense)*. */
export function denseChain(model: Model): string[] | undefined {
  const ops = model.layerOps;
  if (!ops || model.buffers.length > 0) return undefined;
  let i = 0;
  while (ops[i]?.op === 'flatten') i++;
  const names: string[] = [];
  for (;;) {
    const d = ops[i++];
    if (d?.op !== 'dense') return undefined;
    names.push(d.kernel, ...(d.bias ? [d.bias] : []));
    if (i === ops.length) break;
    if (ops[i++]?.op !== 'relu') return undefined;
  }
  const trainable = [...model.trainable].sort();
  return names.length === trainable.length && [...names].sort().every((n, k) => n === trainable[k]) ? names : undefined;
}

/**
 * The one-op step for this model and optimizer, when the native backend with our ops is active
 * and the network is a chain of dense layers; otherwise undefined (train() composes the step).
 */
export function nativeDenseStep(model: Model, cfg: Required<OptimizerConfig>): DenseTrainStep | undefined {
  const t = tf();
  if (process.env.LTH_NATIVE_DENSE_STEP === '0' || t.getBackend() !== 'tensorflow' || !core().getKernel(DENSE_STEP_KERNEL, 'tensorflow')) return undefined;
  if (!NATIVE_OPTIMIZER_TYPES.includes(cfg.type)) return undefined;
  const names = denseChain(model);
  if (!names) return undefined;
  const kernels = new Set(model.layerOps!.flatMap((o) => (o.op === 'dense' ? [o.kernel] : [])));
  const inputSize = model.inputShape.reduce((a, b) => a * b, 1);
  return (params, state, masks, x, labels, lr, iteration) => {
    const batch = labels.length;
    const step = iteration + 1;
    const bc1 = 1 - Math.pow(cfg.beta1, step);
    const bc2 = 1 - Math.pow(cfg.beta2, step);
    const inputs: Record<string, Tensor> = {
      x: t.tensor2d(x, [batch, inputSize], 'float32'),
      labels: t.tensor1d(labels, 'int32'),
      hyper: t.tensor1d([lr, lr / bc1, bc2], 'float32'),
    };
    const flags: number[] = [];
    let n = 0;
    const keys = names.map((name) => stateNames(cfg.type, name));
    names.forEach((name, i) => {
      const [k1, k2] = keys[i]!;
      const s1 = k1 === undefined ? undefined : state[k1];
      const s2 = k2 === undefined ? undefined : state[k2];
      const m = masks[name];
      flags.push((kernels.has(name) ? 1 : 0) | (m ? 2 : 0) | (s1 ? 4 : 0) | (s2 ? 8 : 0));
      for (const v of [params[name]!, m, s1, s2]) if (v) inputs[`t${n++}`] = v;
    });
    const outsPer = 1 + keys[0]!.length;
    const attrs: DenseStepAttrs = { params: flags, outputs: names.length * outsPer, type: cfg.type, weightDecay: cfg.weightDecay, momentum: cfg.momentum, beta1: cfg.beta1, beta2: cfg.beta2, epsilon: cfg.epsilon };
    let outs: Tensor[];
    try {
      outs = t.engine().runKernel(DENSE_STEP_KERNEL, inputs as never, attrs as never) as Tensor[];
    } finally {
      inputs.x!.dispose();
      inputs.labels!.dispose();
      inputs.hyper!.dispose();
    }
    const loss = outs[0]!.dataSync()[0]!;
    outs[0]!.dispose();
    const newParams: Record<string, Tensor> = {};
    const newState: Record<string, Tensor> = {};
    names.forEach((name, i) => {
      newParams[name] = outs[1 + i * outsPer]!;
      keys[i]!.forEach((k, j) => (newState[k] = outs[2 + i * outsPer + j]!));
    });
    return { params: newParams, state: newState, loss };
  };
}
