/**
 * Masked optimizers: SGD, momentum, Nesterov, Adam, all with (L2, PyTorch-style) weight decay, and
 * AdamW (Loshchilov & Hutter 2019: Adam with decoupled weight decay, PyTorch's `torch.optim.AdamW`,
 * the grokking papers' optimizer): the weight is multiplied by 1 - lr * weightDecay before Adam's
 * step, instead of weightDecay * w being added to the gradient.
 *
 * Invariant: a pruned weight stays exactly zero. Adam's moments and weight decay would otherwise
 * regrow it (the moments of a weight keep their values after its gradient is zeroed, and
 * m / sqrt(v) is not zero). So each step (1) multiplies the gradient by the mask, (2) updates,
 * and (3) multiplies the new weight by the mask again.
 *
 * State is explicit (`Record<string, Tensor>`, exported as a TensorMap) so that it can be saved in
 * a checkpoint; the step number is the training iteration, supplied by the caller.
 */
import type { Tensor } from '@tensorflow/tfjs-core';
import { core } from './tfjs-core.js';
import { PipelineError } from '../errors.js';
import { tf } from './backend.js';
import { simdKernels } from './kernels/index.js';
import { decoupledDecay, OPTIMIZER_KERNEL, registerOptimizerKernels, type OptimizerUpdateAttrs } from './kernels/optimizer.js';

import { NATIVE_OPTIMIZER_TYPES, OPTIMIZER_TYPES, type OptimizerType } from './optimizer-types.js';

export { OPTIMIZER_TYPES, type OptimizerType };

export interface OptimizerConfig {
  type: OptimizerType;
  /** Momentum coefficient for 'momentum' / 'nesterov' (default 0.9). */
  momentum?: number;
  /** Adam and AdamW (defaults 0.9, 0.999, 1e-8). */
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  /** L2 penalty added to the gradient: g + weightDecay * w (default 0); AdamW: the decoupled decay, w * (1 - lr * weightDecay). */
  weightDecay?: number;
}

export function validateOptimizer(cfg: OptimizerConfig): Required<OptimizerConfig> {
  if (!(OPTIMIZER_TYPES as readonly string[]).includes(cfg.type)) {
    throw new PipelineError('PARAM_INVALID', `unknown optimizer '${String(cfg.type)}'`, {
      where: 'optimizer',
      hint: `use one of ${OPTIMIZER_TYPES.join(', ')}`,
    });
  }
  const full: Required<OptimizerConfig> = {
    type: cfg.type,
    momentum: cfg.momentum ?? 0.9,
    beta1: cfg.beta1 ?? 0.9,
    beta2: cfg.beta2 ?? 0.999,
    epsilon: cfg.epsilon ?? 1e-8,
    weightDecay: cfg.weightDecay ?? 0,
  };
  const check = (k: keyof OptimizerConfig, lo: number, hi: number) => {
    const v = full[k] as number;
    if (!(Number.isFinite(v) && v >= lo && v < hi)) {
      throw new PipelineError('PARAM_INVALID', `optimizer ${k} must be in [${lo}, ${hi}), got ${v}`, { where: 'optimizer' });
    }
  };
  check('momentum', 0, 1);
  check('beta1', 0, 1);
  check('beta2', 0, 1);
  check('epsilon', 0, Infinity);
  check('weightDecay', 0, Infinity);
  return full;
}

/** Names of the state tensors an optimizer keeps for parameter `p`. */
export function stateNames(type: OptimizerType, p: string): string[] {
  switch (type) {
    case 'sgd':
      return [];
    case 'momentum':
    case 'nesterov':
      return [`momentum/${p}`];
    case 'adam':
    case 'adamw':
      return [`adam_m/${p}`, `adam_v/${p}`];
  }
}

export interface StepResult {
  params: Record<string, Tensor>;
  state: Record<string, Tensor>;
}

/**
 * One update. `iteration` is 0-based (Adam's bias correction uses iteration + 1). Returns new
 * tensors; the caller disposes the old ones. Missing state starts at zero.
 */
let fusedEnabled = true;

/**
 * Tensors up to this size go through the fused kernel (which saves ~15 kernel dispatches and
 * allocations per parameter); larger ones through the composed SIMD element-wise kernels, which
 * beat the scalar JS loop per element (measured: a 4.2M-element Adam update took 4x longer fused).
 * With our WASM SIMD module loaded, the wasm backend's fused kernel is SIMD too and takes every size,
 * as does the native one (compiled C++).
 */
const FUSED_MAX_SIZE = 16384;

/**
 * Use the fused one-pass update kernel (default) on the wasm and cpu backends, and on the native
 * one with our ops loaded; bitwise the same results as the composed element-wise version on wasm
 * and cpu. For tests and benchmarks.
 */
export function setFusedOptimizer(enabled: boolean): void {
  fusedEnabled = enabled;
}

export function optimizerStep(
  cfg: Required<OptimizerConfig>,
  params: Record<string, Tensor>,
  grads: Record<string, Tensor>,
  state: Record<string, Tensor>,
  masks: Record<string, Tensor>,
  lr: number,
  iteration: number,
): StepResult {
  const t = tf();
  const be = t.getBackend();
  const fusedHere = be === 'wasm' || be === 'cpu' || (core().getKernel(OPTIMIZER_KERNEL, be) !== undefined && NATIVE_OPTIMIZER_TYPES.includes(cfg.type));
  if (fusedEnabled && fusedHere) return fusedStep(cfg, params, grads, state, masks, lr, iteration);
  const decoupled = cfg.type === 'adamw' && cfg.weightDecay > 0;
  const decay = decoupledDecay(lr, cfg.weightDecay);
  return t.tidy(() => {
    const newParams: Record<string, Tensor> = {};
    const newState: Record<string, Tensor> = {};
    for (const name of Object.keys(grads).sort()) {
      const p = params[name]!;
      const m = masks[name];
      let g = grads[name]!;
      if (m) g = t.mul(g, m);
      if (cfg.weightDecay > 0 && cfg.type !== 'adamw') g = t.add(g, t.mul(p, cfg.weightDecay));
      let upd: Tensor;
      switch (cfg.type) {
        case 'sgd':
          upd = t.mul(g, lr);
          break;
        case 'momentum':
        case 'nesterov': {
          const key = `momentum/${name}`;
          const prev = state[key];
          // clone: g may be the caller's gradient tensor, which the caller disposes.
          const buf = prev ? t.add(t.mul(prev, cfg.momentum), g) : t.clone(g);
          newState[key] = buf;
          upd = cfg.type === 'momentum' ? t.mul(buf, lr) : t.mul(t.add(g, t.mul(buf, cfg.momentum)), lr);
          break;
        }
        case 'adam':
        case 'adamw': {
          const mk = `adam_m/${name}`;
          const vk = `adam_v/${name}`;
          const pm = state[mk];
          const pv = state[vk];
          const mNew = pm ? t.add(t.mul(pm, cfg.beta1), t.mul(g, 1 - cfg.beta1)) : t.mul(g, 1 - cfg.beta1);
          const g2 = t.square(g);
          const vNew = pv ? t.add(t.mul(pv, cfg.beta2), t.mul(g2, 1 - cfg.beta2)) : t.mul(g2, 1 - cfg.beta2);
          newState[mk] = mNew;
          newState[vk] = vNew;
          const step = iteration + 1;
          const bc1 = 1 - Math.pow(cfg.beta1, step);
          const bc2 = 1 - Math.pow(cfg.beta2, step);
          const denom = t.add(t.sqrt(t.div(vNew, bc2)), cfg.epsilon);
          upd = t.div(t.mul(mNew, lr / bc1), denom);
          break;
        }
      }
      let np = t.sub(decoupled ? t.mul(p, decay) : p, upd);
      if (m) np = t.mul(np, m);
      newParams[name] = np;
    }
    return { params: newParams, state: newState };
  });
}

/** One `LthOptimizerUpdate` kernel per parameter (see src/nn/kernels/optimizer.ts). */
function fusedStep(
  cfg: Required<OptimizerConfig>,
  params: Record<string, Tensor>,
  grads: Record<string, Tensor>,
  state: Record<string, Tensor>,
  masks: Record<string, Tensor>,
  lr: number,
  iteration: number,
): StepResult {
  registerOptimizerKernels();
  const t = tf();
  const step = iteration + 1;
  const attrs: OptimizerUpdateAttrs = {
    type: cfg.type,
    lr,
    weightDecay: cfg.weightDecay,
    momentum: cfg.momentum,
    beta1: cfg.beta1,
    beta2: cfg.beta2,
    epsilon: cfg.epsilon,
    bc1: 1 - Math.pow(cfg.beta1, step),
    bc2: 1 - Math.pow(cfg.beta2, step),
  };
  const newParams: Record<string, Tensor> = {};
  const newState: Record<string, Tensor> = {};
  const big: string[] = [];
  for (const name of Object.keys(grads).sort()) {
    if (grads[name]!.size > FUSED_MAX_SIZE && t.getBackend() !== 'tensorflow' && !(t.getBackend() === 'wasm' && simdKernels())) {
      big.push(name);
      continue;
    }
    const inputs: Record<string, Tensor> = { p: params[name]!, g: grads[name]! };
    const m = masks[name];
    if (m) inputs.mask = m;
    const keys = stateNames(cfg.type, name);
    keys.forEach((k, i) => {
      const s = state[k];
      if (s) inputs[i === 0 ? 's1' : 's2'] = s;
    });
    const outs = t.engine().runKernel(OPTIMIZER_KERNEL, inputs, attrs as unknown as Record<string, number>) as Tensor[];
    newParams[name] = outs[0]!;
    keys.forEach((k, i) => (newState[k] = outs[i + 1]!));
  }
  if (big.length > 0) {
    // Large tensors: the composed SIMD kernels beat a scalar JS loop (bitwise the same result).
    const pick = <T>(m: Record<string, T>, keys: string[]) => Object.fromEntries(keys.filter((k) => k in m).map((k) => [k, m[k]!]));
    const stateKeys = big.flatMap((n) => stateNames(cfg.type, n));
    fusedEnabled = false;
    try {
      const r = optimizerStep(cfg, pick(params, big), pick(grads, big), pick(state, stateKeys), pick(masks, big), lr, iteration);
      Object.assign(newParams, r.params);
      Object.assign(newState, r.state);
    } finally {
      fusedEnabled = true;
    }
  }
  return { params: newParams, state: newState };
}
