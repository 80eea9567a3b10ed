/**
 * Elastic lottery tickets (Chen et al. 2021, "The Elastic Lottery Ticket Hypothesis"; their code:
 * VITA-Group/ElasticLTH): a winning ticket of one depth of a ResNet family, stretched into a deeper
 * member (its residual blocks replicated, with their masks and rewound weights) or squeezed into a
 * shallower one (blocks dropped), then retrained there, against the target depth's own IMP ticket
 * and its random-pruning baseline at the same per-layer densities (src/lth/elastic.ts has the
 * block mapping, the authors').
 *
 *   npx pipeline run pipelines/elastic-tickets.ts                      # smoke: Fashion-MNIST, ResNets of 2 and 3 blocks per stage
 *   npx pipeline run pipelines/elastic-tickets.ts --set profile=paper  # CIFAR-10, cifar_resnet_14 / 20 / 32
 *   npx pipeline table pipelines/elastic-tickets.ts; npx pipeline plot pipelines/elastic-tickets.ts
 *
 * Stage ids: per depth `<model>/{train-dense,L<l>/...}` (the `imp` helper's, with `retrain-random`);
 * per ordered pair `<source>-to-<target>/L<l>/{change-depth,retrain}`.
 * Data: Fashion-MNIST files (`--data-dir`, ../shared/data, the loader's folder, or Debian's
 * /usr/share/datasets/fashion-mnist), CIFAR-10 files for `paper`.
 */
import { definePipeline, PipelineError } from '../src/index.js';
import { changeDepthStage, datasetInputs, defineModel, imp, retrain, trainConfigOf, trainDenseRun, type DenseConfig, type ImpResult } from '../src/lth/index.js';
import { ELASTIC_IDS } from '../src/lth/stage-ids.js';

/**
 * A small ResNet for 28x28 grey images, in the CIFAR ResNets' layout (src/nn/models/resnet.ts) at
 * width 8: a 3x3 conv, two stages of `blocks` basic blocks (8 and 16 filters, the second stage's
 * first block at stride 2), global average pooling, the classifier.
 */
export function fashionResnet(blocks: number) {
  return defineModel({
    name: `fashion-resnet-${blocks}`,
    inputShape: [28, 28, 1],
    numClasses: 10,
    build: (l) => [
      l.conv(8, { bias: false }),
      l.batchNorm(),
      l.relu(),
      ...[8, 16].flatMap((c, s) => Array.from({ length: blocks }, (_, i) => l.basicBlock(c, { stride: s > 0 && i === 0 ? 2 : 1, name: `layer${s + 1}.${i}` }))),
      l.globalAvgPool(),
      l.dense(10, { name: 'fc' }),
    ],
  });
}
const FASHION_RESNETS = [fashionResnet(2).name, fashionResnet(3).name];

interface Profile {
  dataset: 'fashion-mnist' | 'cifar10';
  models: readonly string[];
  dense: Omit<DenseConfig, 'initSeed' | 'dataSeed' | 'checkpoints' | 'dataset' | 'model'>;
  levels: number;
  /** Global IMP rate per level (E-LTH prunes 20% of the remaining conv weights globally). */
  rate: number;
  rewindTo: number;
}

const PROFILES: Record<string, Profile> = {
  // About 4 minutes on 2 cores (34 stages): 4K training images, 100 iterations of batch 64, two levels at 50%.
  smoke: {
    dataset: 'fashion-mnist',
    models: FASHION_RESNETS,
    dense: { data: { subset: { train: 4000, validation: 500, test: 1000 } }, batchSize: 64, iterations: 100, optimizer: 'adam', lr: 3e-3, evalEvery: 50 },
    levels: 2,
    rate: 0.5,
    rewindTo: 0,
  },
  // The paper's CIFAR-10 setting (open_lth's cifar_resnet schedule): SGD with momentum, lr 0.1 with
  // steps at 80 and 120 epochs, 160 epochs, global IMP at 20%, rewinding to iteration 2000.
  paper: {
    dataset: 'cifar10',
    models: ['cifar_resnet_14', 'cifar_resnet_20', 'cifar_resnet_32'],
    dense: { batchSize: 128, iterations: '160ep', optimizer: 'momentum', momentum: 0.9, lr: 0.1, milestones: ['80ep', '120ep'], gamma: 0.1, weightDecay: 1e-4, warmup: '2ep', evalEvery: 1000 },
    levels: 10,
    rate: 0.2,
    rewindTo: 2000,
  },
};

export default definePipeline({ name: 'elastic-tickets', params: { profile: 'smoke', seed: 0 } }, (p, cfg) => {
  const prof = PROFILES[cfg.profile as string];
  if (!prof) throw new PipelineError('PARAM_INVALID', `unknown profile '${cfg.profile}'`, { hint: `use one of ${Object.keys(PROFILES).join(', ')}` });
  const seed = Number(cfg.seed);
  const files = datasetInputs(p, prof.dataset);
  const runs = new Map<string, { imp: ImpResult; train: ReturnType<typeof trainConfigOf> }>();
  for (const model of prof.models) {
    p.scope(model, () => {
      const dense = trainDenseRun(p, { ...prof.dense, model, dataset: prof.dataset, initSeed: seed, dataSeed: seed, checkpoints: [prof.rewindTo] }, files);
      const res = imp(p, { dense, levels: prof.levels, prune: { scope: 'global', rate: prof.rate }, rewindTo: prof.rewindTo, randomPruning: { seed: 2000 + seed }, maskStats: false, summary: false });
      runs.set(model, { imp: res, train: trainConfigOf(dense) });
    });
  }
  for (const source of prof.models) {
    for (const target of prof.models) {
      if (source === target) continue;
      p.scope(ELASTIC_IDS.pair(source, target), () => {
        for (const level of runs.get(source)!.imp.levels) {
          p.scope(`L${level.level}`, () => {
            const moved = p.stage(changeDepthStage, { model: source, target, weights: level.start, mask: level.mask }, { id: ELASTIC_IDS.transform });
            p.stage(retrain, { ...runs.get(target)!.train, start: moved.out('checkpoint'), mask: moved.out('mask'), files }, { id: ELASTIC_IDS.retrain });
          });
        }
      });
    }
  }
});
