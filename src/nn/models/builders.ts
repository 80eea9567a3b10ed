/**
 * The layer builders as `build(l)` of a model definition receives them: the image and dense
 * layers (./layers.ts) and the token layers (./token-layers.ts).
 */
import { avgPool, basicBlock, batchNorm, block, conv, dense, dropout, flatten, globalAvgPool, maxPool, relu, residual, sequential } from './layers.js';
import { embedding, lastToken, layerNorm, positionEmbedding, selfAttention, sumTokens } from './token-layers.js';

export const layers = {
  conv,
  dense,
  batchNorm,
  relu,
  maxPool,
  avgPool,
  globalAvgPool,
  flatten,
  dropout,
  sequential,
  block,
  residual,
  basicBlock,
  embedding,
  positionEmbedding,
  layerNorm,
  selfAttention,
  sumTokens,
  lastToken,
} as const;
export type LayerBuilders = typeof layers;
