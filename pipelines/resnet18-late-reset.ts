/**
 * Late resetting / rewinding (Frankle et al. 2019 "Stabilizing the LTH", 2020 "Linear mode
 * connectivity"): ResNet-20 on CIFAR-10, SGD with momentum 0.9, global magnitude pruning of 20%
 * per level; the tickets are rewound to iteration k for k in {0, 100, 500, 2000}, and for each k
 * evaluate-stability measures the error barrier between two copies trained from the rewound
 * weights with different data orders. The dense run (the trunk, with checkpoints at the rewind
 * candidates) and the level-1 mask are shared by the sweep; a k that is not a stored checkpoint is
 * replayed from the nearest earlier one by a cached stage of its own.
 *
 * (The file keeps the name the design uses; the network is the CIFAR ResNet-20 of the papers.)
 *
 *   npx pipeline run pipelines/resnet18-late-reset.ts                      # smoke
 *   npx pipeline run pipelines/resnet18-late-reset.ts --set ks=[0,3]       # another k: only its branch runs
 *   npx pipeline run pipelines/resnet18-late-reset.ts --set profile=paper
 */
import { definePipeline, PipelineError } from '../src/index.js';
import { datasetInputs, imp, prune, trainDenseRun } from '../src/lth/index.js';

const PROFILES = {
  // Minutes on two CPU cores: 12 iterations of batch 8, k in {0, 4}, one level, 10 path points.
  smoke: {
    ks: [0, 4],
    checkpoints: [0, 2, 4, 8],
    levels: 1,
    points: 10,
    train: {
      batchSize: 8,
      iterations: 12,
      lr: 0.05,
      milestones: [8],
      weightDecay: 1e-4,
      evalEvery: 6,
      data: { validationSize: 200, subset: { train: 400, validation: 48, test: 48 } },
    },
  },
  // Frankle et al. 2020, Table 1: 63K iterations of batch 128, lr 0.1 dropped 10x at 32K and 48K,
  // weight decay 1e-4, standard augmentation; 8 levels (16.8% of the weights remain); 30 points.
  paper: {
    ks: [0, 100, 500, 2000],
    checkpoints: [0, 100, 200, 500, 1000, 2000],
    levels: 8,
    points: 30,
    train: { batchSize: 128, iterations: 63000, lr: 0.1, milestones: [32000, 48000], weightDecay: 1e-4, evalEvery: 1000, data: {} },
  },
};

export default definePipeline(
  { name: 'resnet18-late-reset', params: { profile: 'smoke', seed: 0, ks: [] as number[] } },
  (p, cfg) => {
    const prof = PROFILES[cfg.profile as keyof typeof PROFILES];
    if (!prof) throw new PipelineError('PARAM_INVALID', `unknown profile '${cfg.profile}'`, { hint: `use one of ${Object.keys(PROFILES).join(', ')}` });
    const ks = cfg.ks.length > 0 ? cfg.ks : prof.ks;
    const data = datasetInputs(p, 'cifar10');
    const dense = trainDenseRun(
      p,
      { model: 'resnet20', dataset: 'cifar10', optimizer: 'momentum', momentum: 0.9, initSeed: cfg.seed, dataSeed: cfg.seed, checkpoints: prof.checkpoints, ...prof.train },
      data,
    );
    // Level 1 is pruned from the dense solution: one mask for every k.
    const mask1 = p.stage(prune, { model: 'resnet20', scope: 'global', rate: 0.2, level: 1, weights: dense.handle.out('final'), mask: [], like: [], files: [] }, { id: 'L1-mask' });
    for (const k of ks) {
      p.scope(`k${k}`, () =>
        imp(p, {
          dense,
          levels: prof.levels,
          prune: { scope: 'global', rate: 0.2 },
          firstMask: mask1.out('mask'),
          rewindTo: k,
          stability: { points: prof.points },
          maskStats: prof.levels > 1,
          summary: { title: `ResNet-20 on CIFAR-10, rewound to iteration ${k} (${cfg.profile})` },
        }),
      );
    }
  },
);
