/**
 * Layers over sequences of tokens, for networks on algorithmic data (src/nn/data/modular.ts): the
 * token and position embeddings, layer norm, multi-head self-attention, and the reductions of a
 * sequence to one vector. A sequence activation has the
 * shape [T, d] (one example: T tokens of d features); `dense` applies to each token of one.
 *
 * An embedding's table is a prunable kernel `<layer>.kernel` of shape [vocab, dim]: the lookup of
 * token i is row i, which is a dense layer on the one-hot token (so pruning, rewinding and the
 * at-init methods see an ordinary [in, out] kernel). PyTorch's `nn.Embedding.weight` has the same
 * (vocab, dim) layout: the network lists its embeddings (`NetworkBuilder.embeddings`) so that the
 * export (src/nn/torch-format.ts) writes them as they are, where a dense kernel is transposed.
 */
import type { Tensor, Tensor2D, Tensor3D } from '@tensorflow/tfjs-core';
import { tf } from '../backend.js';
import { sizeOf } from '../tensormap.js';
import type { KernelInit } from './init.js';
import type { Layer, Shape } from './layers.js';

export interface EmbeddingOptions {
  init?: KernelInit;
  name?: string;
}

/**
 * Token embedding: an input of T token ids (any shape of T values: the modular dataset's [1, 2, 1]
 * examples, or [T]), each an integer in 0..vocab-1 stored as a float, -> [T, dim].
 */
export function embedding(vocab: number, dim: number, o: EmbeddingOptions = {}): Layer {
  return (net, input) => {
    const name = net.layerName('embed', o.name);
    const what = `embedding '${name}'`;
    for (const [k, v] of [['vocab', vocab], ['dim', dim]] as const) if (!(Number.isInteger(v) && v > 0)) net.fail(`${what}: ${k} must be a positive integer, got ${JSON.stringify(v)}`);
    const T = sizeOf(input);
    net.kernel(name, [vocab, dim], 'fc', o.init);
    net.embeddings.push(name);
    const shape: Shape = [T, dim];
    net.producedBy.set(shape, `${name}.kernel`);
    return {
      shape,
      forward: (x, c) => {
        const t = tf();
        const n = x.shape[0]!;
        const ids = t.cast(t.reshape(x, [n * T]), 'int32');
        return t.reshape(t.gather(c.weight(`${name}.kernel`), ids), [n, T, dim]);
      },
    };
  };
}

function sequence(net: Parameters<Layer>[0], what: string, input: Shape): [number, number] {
  if (input.length !== 2) net.fail(`${what} needs a sequence input [tokens, features], got [${input.join(', ')}]`, 'put an embedding before it');
  return input as [number, number];
}

/** The sum over the tokens: [T, d] -> [d] (the grokking MLP's combination of its two operands). */
export function sumTokens(): Layer {
  return (net, input) => {
    const [, d] = sequence(net, 'sumTokens', input);
    return { shape: [d], forward: (x: Tensor) => tf().sum(x, 1) };
  };
}

/** The last token's features: [T, d] -> [d] (a transformer's prediction is read at the last position). */
export function lastToken(): Layer {
  return (net, input) => {
    const [T, d] = sequence(net, 'lastToken', input);
    return { shape: [d], forward: (x: Tensor) => tf().reshape(tf().slice(x, [0, T - 1, 0], [x.shape[0]!, 1, d]), [x.shape[0]!, d]) };
  };
}

/**
 * Learned position embedding: [T, d] -> [T, d] plus the table's row for each position (a prunable
 * [T, d] kernel; PyTorch: `nn.Embedding(T, d)` looked up at `arange(T)`).
 */
export function positionEmbedding(o: EmbeddingOptions = {}): Layer {
  return (net, input) => {
    const name = net.layerName('pos_embed', o.name);
    const [T, d] = sequence(net, `position embedding '${name}'`, input);
    net.kernel(name, [T, d], 'fc', o.init);
    net.embeddings.push(name);
    return { shape: input, forward: (x, c) => tf().add(x, c.weight(`${name}.kernel`)) };
  };
}

/**
 * Layer norm over the features of each token (PyTorch's `nn.LayerNorm(d)`, eps 1e-5, biased
 * variance): a scale and a shift per feature, stored as `<layer>.gamma` / `.beta` (exported as
 * `weight` / `bias`). Not a batch norm: no running statistics, the same in training and evaluation.
 */
export function layerNorm(o: { name?: string } = {}): Layer {
  return (net, input) => {
    const name = net.layerName('ln', o.name);
    if (input.length === 0) net.fail(`layer norm '${name}' needs an input with features`);
    const d = input[input.length - 1]!;
    net.scaleShift(name, d);
    const axis = input.length; // the last axis of the batch [N, ...input]
    return {
      shape: input,
      forward: (x, c) => {
        const t = tf();
        const { mean, variance } = t.moments(x, axis, true);
        const y = t.mul(t.sub(x, mean), t.rsqrt(t.add(variance, LAYER_NORM_EPS)));
        return t.add(t.mul(y, c.weight(`${name}.gamma`)), c.weight(`${name}.beta`));
      },
    };
  };
}

/** PyTorch's default `nn.LayerNorm` epsilon. */
export const LAYER_NORM_EPS = 1e-5;

export interface AttentionOptions {
  /** Each position attends to itself and the positions before it only (default true: the grokking transformers'). */
  causal?: boolean;
  init?: KernelInit;
  name?: string;
}

/**
 * Multi-head self-attention on a sequence [T, d] -> [T, d], without biases (as the grokking
 * papers' transformers), as PyTorch's `nn.MultiheadAttention(d, heads, bias=False,
 * batch_first=True)`: `<name>.in_proj.kernel` [d, 3d] (queries, keys, values side by side, each
 * split into `heads` heads of d / heads features in order) and `<name>.out_proj.kernel` [d, d],
 * both prunable; exported as the module's `in_proj_weight` and `out_proj.weight`. Scores are
 * q k^T / sqrt(d / heads); a causal mask gives the later positions a score of -1e9 (a weight of
 * exactly 0 after the softmax, as PyTorch's -inf).
 */
export function selfAttention(heads: number, o: AttentionOptions = {}): Layer {
  return (net, input) => {
    const name = net.layerName('attn', o.name);
    const what = `attention '${name}'`;
    const [T, d] = sequence(net, what, input);
    if (!(Number.isInteger(heads) && heads > 0 && d % heads === 0)) net.fail(`${what}: ${JSON.stringify(heads)} heads do not divide ${d} features`);
    const dh = d / heads;
    const causal = o.causal ?? true;
    net.kernel(`${name}.in_proj`, [d, 3 * d], 'fc', o.init);
    net.kernel(`${name}.out_proj`, [d, d], 'fc', o.init);
    const mask = causal ? Float32Array.from({ length: T * T }, (_, k) => (k % T > Math.floor(k / T) ? -1e9 : 0)) : undefined;
    return {
      shape: input,
      forward: (x, c) => {
        const t = tf();
        const n = x.shape[0]!;
        const qkv = t.matMul(t.reshape(x, [n * T, d]), c.weight(`${name}.in_proj.kernel`) as Tensor2D);
        // [N*T, 3d] -> [3, N, heads, T, dh] -> three [N*heads, T, dh]
        const parts = t.transpose(t.reshape(qkv, [n, T, 3, heads, dh]), [2, 0, 3, 1, 4]);
        const [q, k, v] = t.unstack(parts, 0).map((p) => t.reshape(p, [n * heads, T, dh]) as Tensor3D);
        let scores = t.mul(t.matMul(q!, k!, false, true), 1 / Math.sqrt(dh));
        if (mask) scores = t.add(scores, t.tensor(mask, [T, T]));
        const z = t.matMul(t.softmax(scores), v!); // [N*heads, T, dh]
        const merged = t.reshape(t.transpose(t.reshape(z, [n, heads, T, dh]), [0, 2, 1, 3]), [n * T, d]);
        return t.reshape(t.matMul(merged as Tensor2D, c.weight(`${name}.out_proj.kernel`) as Tensor2D), [n, T, d]);
      },
    };
  };
}
