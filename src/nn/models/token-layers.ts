/**
 * Layers over sequences of tokens, for networks on algorithmic data (src/nn/data/modular.ts): the
 * token embedding, and the reductions of a sequence to one vector. A sequence activation has the
 * shape [T, d] (one example: T tokens of d features); `dense` applies to each token of one.
 *
 * An embedding's table is a prunable kernel `<layer>.kernel` of shape [vocab, dim]: the lookup of
 * token i is row i, which is a dense layer on the one-hot token (so pruning, rewinding and the
 * at-init methods see an ordinary [in, out] kernel). PyTorch's `nn.Embedding.weight` has the same
 * (vocab, dim) layout: the network lists its embeddings (`NetworkBuilder.embeddings`) so that the
 * export (src/nn/torch-format.ts) writes them as they are, where a dense kernel is transposed.
 */
import type { Tensor } from '@tensorflow/tfjs-core';
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
