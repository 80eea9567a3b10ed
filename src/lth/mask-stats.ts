/**
 * mask-stats: density per layer and overall for the masks of successive levels, and the Hamming
 * distance between each mask and the previous one (the early-bird signal: it shrinks as the mask
 * settles).
 */
import { z } from 'zod';
import { defineStage } from '../engine/index.js';
import { readMask } from './config.js';
import { densityOf, hammingDistance, type Mask } from './masks.js';

export interface MaskLevelStats {
  level: number;
  density: number;
  remaining: number;
  layers: Record<string, number>;
  /** Positions that differ from the previous level's mask (null for the first). */
  hamming: number | null;
  /** hamming / number of prunable weights. */
  hammingFraction: number | null;
}

export function maskStats(masks: readonly Mask[], firstLevel = 1): MaskLevelStats[] {
  return masks.map((m, i) => {
    const d = densityOf(m);
    const h = i > 0 ? hammingDistance(masks[i - 1]!, m) : null;
    return { level: firstLevel + i, density: d.overall, remaining: d.remaining, layers: d.layers, hamming: h, hammingFraction: h === null ? null : h / d.total };
  });
}

export const maskStatsStage = defineStage({
  name: 'mask-stats',
  description: 'densities per layer and overall, Hamming distances between successive masks',
  params: z.object({ firstLevel: z.number().int().nonnegative().default(1) }),
  inputs: ['masks'],
  outputs: ['stats'],
  isolation: 'inline',
  async run(ctx) {
    const masks: Mask[] = [];
    for (const f of ctx.inputList('masks')) masks.push(await readMask(f));
    const stats = maskStats(masks, ctx.params.firstLevel);
    await ctx.writeJson('stats', stats);
    const last = stats[stats.length - 1];
    return {
      levels: stats.length,
      finalDensity: last?.density ?? 1,
      lastHamming: last?.hamming ?? null,
      density: stats.map((s) => s.density),
      hamming: stats.map((s) => s.hamming),
    };
  },
});
