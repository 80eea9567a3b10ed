/**
 * change-depth: an elastic ticket (./elastic.ts): the start checkpoint (rewound weights) and the
 * mask of a ticket of one ResNet depth, stretched or squeezed into another depth of the family.
 * The checkpoint keeps its iteration (the retraining resumes there) with an empty optimizer state.
 */
import { z } from 'zod';
import { defineStage } from '../engine/index.js';
import { PipelineError } from '../errors.js';
import { createModel } from '../nn/models/index.js';
import { derivedMeta, modelNameSchema, readMask, readModelCheckpoint, writeCheckpoint, writeMask } from './config.js';
import { blockMapping, changeDepth, mappingString, resnetLayout } from './elastic.js';
import { completeMask, densityOf, layerInfoOf } from './masks.js';

export const changeDepthStage = defineStage({
  name: 'change-depth',
  description: 'stretch or squeeze a ResNet ticket (weights and mask) into another depth (E-LTH)',
  params: z.object({ model: modelNameSchema, target: modelNameSchema }),
  inputs: ['weights', 'mask'],
  outputs: ['checkpoint', 'mask'],
  isolation: 'inline',
  async run(ctx) {
    const p = ctx.params;
    const where = `stage ${ctx.id}`;
    const source = createModel(p.model);
    const target = createModel(p.target);
    const from = resnetLayout(source.params.map((q) => q.name), `${where} (${p.model})`);
    const to = resnetLayout(target.params.map((q) => q.name), `${where} (${p.target})`);
    if (from.stages.join() !== to.stages.join()) throw new PipelineError('PARAM_INVALID', `${p.model} has stages ${from.stages.join(', ')}, ${p.target} ${to.stages.join(', ')}`, { where });
    const ck = await readModelCheckpoint(ctx.input('weights'), p.model, where);
    const mask = completeMask(layerInfoOf(source), await readMask(ctx.input('mask')), where);
    const weights = changeDepth(ck.weights, from.blocks, to.blocks, target.params.map((q) => q.name), where);
    for (const q of target.params) {
      const w = weights[q.name]!;
      if (w.shape.join() !== q.shape.join()) throw new PipelineError('PARAM_INVALID', `${q.name}: [${w.shape}] from ${p.model}, [${q.shape}] in ${p.target}`, { where, hint: 'stretch and squeeze between members of one ResNet family (same widths)' });
    }
    const targetMask = completeMask(layerInfoOf(target), changeDepth(mask, from.blocks, to.blocks, target.prunable, where), where);
    await writeCheckpoint(ctx.output('checkpoint'), { iteration: ck.iteration, weights, optimizer: {}, curve: [], pendingLoss: [0, 0] }, derivedMeta(ck.metadata, { model: p.target, elasticFrom: p.model }));
    await writeMask(ctx.output('mask'), targetMask, { model: p.target, method: 'elastic', from: p.model });
    const d = densityOf(targetMask);
    return { from: from.blocks, to: to.blocks, mapping: mappingString(blockMapping(from.blocks, to.blocks)), iteration: ck.iteration, density: d.overall, sourceDensity: densityOf(mask).overall, layers: d.layers };
  },
});
