/**
 * One training step: the loss of a batch, its gradients and the masked optimizer update, either
 * composed of tfjs ops (every backend) or, for a fully connected network on the native backend,
 * as one op of ours (./native/dense-step.ts: the same function, ~3x less time on LeNet-300-100).
 */
import type { Scalar, Tensor } from '@tensorflow/tfjs-core';
import { tf } from './backend.js';
import type { Model } from './models/index.js';
import { nativeDenseStep } from './native/dense-step.js';
import { optimizerStep, type OptimizerConfig } from './optim.js';

export function disposeMap(m: Record<string, Tensor>): void {
  for (const v of Object.values(m)) v.dispose();
}

/** Mean softmax cross-entropy of logits against int labels (also the score trainer's loss, src/lth/supermask.ts). */
export function crossEntropy(logits: Tensor, labels: Tensor, numClasses: number): Tensor {
  const t = tf();
  const oneHot = t.oneHot(labels as never, numClasses);
  return t.neg(t.mean(t.sum(t.mul(oneHot, t.logSoftmax(logits)), 1)));
}

export function batchTensor(model: Model, x: Float32Array, n: number): Tensor {
  return tf().tensor(x, [n, ...model.inputShape], 'float32');
}

/** What a step reads and replaces: the trainable weights, the buffers (batch-norm statistics) and the optimizer state. */
export interface StepTensors {
  params: Record<string, Tensor>;
  buffers: Record<string, Tensor>;
  state: Record<string, Tensor>;
}

export interface StepInput {
  x: Float32Array;
  labels: Int32Array;
  lr: number;
  iteration: number;
  dropoutSeed: number;
}

/**
 * The step function for a model, optimizer and L1 penalty on the batch-norm scales (`scales`:
 * their names; lambda * sign(gamma) added to their gradients, the Early-Bird search's network
 * slimming term). It disposes the tensors it replaces and returns the new ones with the loss.
 */
export function makeTrainStep(model: Model, opt: Required<OptimizerConfig>, masks: Record<string, Tensor>, scales: readonly string[], bnL1: number): (s: StepTensors, b: StepInput) => StepTensors & { loss: number } {
  const t = tf();
  // The one-op step computes no L1 term: a penalty keeps the composed step.
  const fused = scales.length === 0 ? nativeDenseStep(model, opt) : undefined;
  if (fused) {
    return (s, b) => {
      const r = fused(s.params, s.state, masks, b.x, b.labels, b.lr, b.iteration);
      disposeMap(s.params);
      disposeMap(s.state);
      return { params: r.params, state: r.state, buffers: s.buffers, loss: r.loss };
    };
  }
  const names = model.trainable;
  return (s, b) => {
    const newBuffers: Record<string, Tensor> = {};
    const { value, grads } = t.tidy(() => {
      const x = batchTensor(model, b.x, b.labels.length);
      const y = t.tensor1d(b.labels, 'int32');
      const f = (...ps: Tensor[]) => {
        const w: Record<string, Tensor> = { ...s.buffers };
        names.forEach((n, i) => (w[n] = ps[i]!));
        const out = model.forward(w, x, { training: true, dropoutSeed: b.dropoutSeed });
        for (const [k, v] of Object.entries(out.buffers)) newBuffers[k] = t.keep(v);
        return crossEntropy(out.logits, y, model.numClasses) as Scalar;
      };
      return t.valueAndGrads(f)(names.map((n) => s.params[n]!));
    });
    const gradMap: Record<string, Tensor> = {};
    names.forEach((n, i) => (gradMap[n] = grads[i]!));
    for (const n of scales) {
      const g = gradMap[n]!;
      gradMap[n] = t.tidy(() => t.add(g, t.mul(t.sign(s.params[n]!), bnL1)));
      g.dispose();
    }
    const step = optimizerStep(opt, s.params, gradMap, s.state, masks, b.lr, b.iteration);
    const loss = value.dataSync()[0]!;
    value.dispose();
    disposeMap(gradMap);
    disposeMap(s.params);
    disposeMap(s.state);
    let buffers = s.buffers;
    if (Object.keys(newBuffers).length > 0) {
      for (const k of Object.keys(newBuffers)) buffers[k]!.dispose();
      buffers = { ...buffers, ...newBuffers };
    }
    return { params: step.params, state: step.state, buffers, loss };
  };
}
