/**
 * The grokking papers' networks on `a op b mod p` (src/nn/data/modular.ts: examples are the two
 * operand tokens):
 * - `modular_mlp_<p>[_<dEmb>_<dHidden>]`: gouki510/Grokking-Tickets' `OnlyMLP` with no hidden
 *   layers (defaults 500 and 48, its config.py): a token embedding shared by both operands, summed,
 *   a projection to dHidden, ReLU, a projection back to dEmb, the unembedding to p logits; no
 *   biases. `inproj` of each token then the sum (theirs) equals the sum then `inproj` (ours: one
 *   product instead of two). He normal initialisation (theirs: normal with sd 1/sqrt(fan-in)).
 *   Weights `embed` (`nn.Embedding(p, dEmb)`), `inproj`, `outproj`, `unembed` (`nn.Linear`, bias=False).
 * - `modular_transformer_<p>[_<d>_<heads>_<layers>]`: the transformer of Nanda et al. 2023 and
 *   Grokking-Tickets (defaults 128, 4, 1: Nanda's): token and position embeddings, then per layer
 *   x + attn(x) (causal, no biases) and x + mlp(x) (d -> 4d -> d with ReLU, no biases), no layer
 *   norm (their use_ln=False), the unembedding read at the last position. Grokking-Tickets leaves
 *   the position embedding out (commented out in its model.py); Nanda's has it, as ours.
 *   Weights `embed`, `pos_embed` (`nn.Embedding`), `blocks.<i>.attn` (`nn.MultiheadAttention`,
 *   bias=False, batch_first=True), `blocks.<i>.mlp_in`, `blocks.<i>.mlp_out`, `unembed` (`nn.Linear`, bias=False).
 */
import { positiveParts, type ModelFamily } from './family.js';
import type { ModelDefinition } from './model.js';
import { MODULAR_SHAPE } from '../data/modular.js';

export function modularMlp(name: string, p: number, dEmb = 500, dHidden = 48): ModelDefinition {
  return {
    name,
    inputShape: [...MODULAR_SHAPE],
    numClasses: p,
    init: 'he_normal',
    build: (l) => [
      l.embedding(p, dEmb, { name: 'embed' }),
      l.sumTokens(),
      l.dense(dHidden, { bias: false, name: 'inproj' }),
      l.relu(),
      l.dense(dEmb, { bias: false, name: 'outproj' }),
      l.dense(p, { bias: false, name: 'unembed' }),
    ],
  };
}

export const MODULAR_MLP: ModelFamily = {
  prefix: 'modular_mlp_',
  pattern: 'modular_mlp_<p>[_<dEmb>_<dHidden>]',
  parse(name) {
    const parts = positiveParts(name, 'modular_mlp_');
    if (!parts || (parts.length !== 1 && parts.length !== 3)) return { problem: 'the modulus (and the embedding and hidden widths, if given) must be positive integers, e.g. modular_mlp_97 or modular_mlp_97_500_48' };
    const [p, dEmb, dHidden] = parts as [number, number | undefined, number | undefined];
    if (p < 2 || p > 256) return { problem: `the modulus is the number of classes: 2..256, got ${p}` };
    return modularMlp(name, p, dEmb, dHidden);
  },
};

export function modularTransformer(name: string, p: number, d = 128, heads = 4, depth = 1): ModelDefinition {
  return {
    name,
    inputShape: [...MODULAR_SHAPE],
    numClasses: p,
    init: 'glorot_normal',
    build: (l) => [
      l.embedding(p, d, { name: 'embed' }),
      l.positionEmbedding({ name: 'pos_embed' }),
      ...Array.from({ length: depth }, (_, i) =>
        l.block(
          `blocks.${i}`,
          l.residual([l.selfAttention(heads, { name: 'attn' })]),
          l.residual([l.dense(4 * d, { bias: false, name: 'mlp_in' }), l.relu(), l.dense(d, { bias: false, name: 'mlp_out' })]),
        ),
      ),
      l.lastToken(),
      l.dense(p, { bias: false, name: 'unembed' }),
    ],
  };
}

export const MODULAR_TRANSFORMER: ModelFamily = {
  prefix: 'modular_transformer_',
  pattern: 'modular_transformer_<p>[_<d>_<heads>_<layers>]',
  parse(name) {
    const parts = positiveParts(name, 'modular_transformer_');
    if (!parts || (parts.length !== 1 && parts.length !== 4)) return { problem: 'the modulus (and the width, heads and layers, if given) must be positive integers, e.g. modular_transformer_113 or modular_transformer_113_128_4_1' };
    const [p, d, heads, depth] = parts as [number, number | undefined, number | undefined, number | undefined];
    if (p < 2 || p > 256) return { problem: `the modulus is the number of classes: 2..256, got ${p}` };
    if (d !== undefined && d % heads! !== 0) return { problem: `${heads} heads do not divide the width ${d}` };
    return modularTransformer(name, p, d, heads, depth);
  },
};
