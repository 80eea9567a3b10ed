/**
 * Early-Bird tickets (You et al. 2020) against IMP tickets of the same density: LeNet-300-100 on
 * MNIST (and ResNet-20 on CIFAR-10 in the paper profile). One dense run tracks, at every
 * evaluation point, the mask pruning would draw at each target density and its normalized Hamming
 * distance to the previous one, and stops once the last 5 distances are below `stopEpsilon` for
 * every density. LeNet (no batch norm): magnitude pruning of the weights, at the densities of the
 * IMP levels. ResNet-20: as the paper, channel pruning by batch-norm scale (network slimming: the
 * dense run with the L1 penalty 1e-4 on the scales, channels kept by |gamma| over all batch norms)
 * with 30%, 50% and 70% of the channels pruned (the paper's p), compared with IMP in the
 * accuracy-vs-weights figure. The EB ticket at `epsilon` is drawn from that record and
 * retrained (from the EB weights, the schedule resuming at the EB iteration; `--set
 * rewind=init`: from iteration 0; `rewind=reinit`: a fresh initialisation resuming at the EB
 * iteration, as the authors' retraining script). IMP (global magnitude pruning, `rate` per level, rewinding to
 * iteration 0) gives the tickets of the same densities: level l has (1 - rate)^l of the weights.
 *
 *   npx pipeline run pipelines/early-bird.ts                          # smoke: ~1-2 minutes on 2 cores
 *   npx pipeline run pipelines/early-bird.ts --set epsilon=0.2        # only the EB tickets and their retraining rerun
 *   npx pipeline run pipelines/early-bird.ts --set profile=paper
 *   npx pipeline table pipelines/early-bird.ts; npx pipeline plot pipelines/early-bird.ts
 *
 * `epsilon` enters only the keys of the ticket stages (and what follows them): the tracking stage
 * stops at `stopEpsilon` (default: the paper's 0.1) and keeps the weights of every point that can
 * be an EB point for a larger epsilon. A smaller epsilon than `stopEpsilon` needs `--set
 * stopEpsilon=...` too (which reruns the tracking).
 */
import { definePipeline, PipelineError } from '../src/index.js';
import { datasetInputs, EARLY_BIRD_IDS, EB_BN_L1, earlyBirdTicket, earlyBirdTrack, imp, retrain, trainConfigOf, trainDenseRun, type DenseConfig } from '../src/lth/index.js';

interface Experiment {
  /** Scope of the experiment's stage ids. */
  name: string;
  dataset: 'mnist' | 'cifar10';
  train: Omit<DenseConfig, 'initSeed' | 'dataSeed' | 'dataset'>;
  /** IMP: global magnitude pruning of `rate` of the remaining weights per level. */
  rate: number;
  levels: number;
  /** Levels whose density the EB ticket is drawn at (default: every level). */
  ebLevels?: number[];
  /**
   * Channel pruning by batch-norm scale instead (the paper's, for a network with batch norm): the
   * shares of the batch-norm channels the EB tickets keep (EB<i> for the i-th; no IMP level pairs with them).
   */
  channels?: number[];
  /**
   * Iterations between the masks the tracking compares (its evaluation points; default the
   * training's `evalEvery`). The paper compares them once per epoch.
   */
  maskEvery?: number;
}

const LENET = { model: 'lenet300100', batchSize: 60, optimizer: 'adam', lr: 1.2e-3 } as const;

const PROFILES: Record<string, Experiment[]> = {
  // 10K MNIST training images, 500 iterations (3 epochs); masks compared every 50 iterations (the
  // paper compares them once per epoch); IMP at 50% per level: 50%, 25% and 12.5% of the weights
  // remaining. The distances at 50% start above 0.1: its EB point is at iteration 300.
  smoke: [
    {
      name: 'lenet',
      dataset: 'mnist',
      train: { ...LENET, iterations: 500, evalEvery: 50, data: { subset: { train: 10000, validation: 1000, test: 2000 } }, checkpoints: [0] },
      rate: 0.5,
      levels: 3,
    },
  ],
  // LeNet-300-100 as Frankle & Carbin (50K iterations, evaluation every 100) with global pruning of
  // 20% per level to 10.7% (10 levels), masks compared once per epoch (55K training images / 60 =
  // 916 iterations); ResNet-20 on CIFAR-10 as the EB paper trains its CIFAR networks (SGD momentum
  // 0.9, lr 0.1 divided by 10 at 50% and 75% of 160 epochs, weight decay 1e-4, batch 256: 45K
  // training images, 175 iterations per epoch), evaluated and masks compared once per epoch; EB
  // tickets by batch-norm channel with p = 30%, 50%, 70% of the channels pruned (the paper's
  // ratios; their search scripts train with the L1 penalty on the scales, the stage's default),
  // IMP (20% per level, 10 levels to 10.7%) beside them.
  paper: [
    {
      name: 'lenet',
      dataset: 'mnist',
      train: { ...LENET, iterations: 50000, evalEvery: 100, checkpoints: [0] },
      rate: 0.2,
      levels: 10,
      maskEvery: 916,
    },
    {
      name: 'resnet20',
      dataset: 'cifar10',
      train: {
        model: 'resnet20',
        batchSize: 256,
        optimizer: 'momentum',
        momentum: 0.9,
        lr: 0.1,
        weightDecay: 1e-4,
        iterations: '160ep',
        milestones: ['80ep', '120ep'],
        evalEvery: 175,
        checkpoints: [0],
      },
      rate: 0.2,
      levels: 10,
      channels: [0.7, 0.5, 0.3],
    },
  ],
};

export default definePipeline(
  { name: 'early-bird', params: { profile: 'smoke', seed: 0, epsilon: 0.1, stopEpsilon: 0.1, rewind: 'early-bird' as 'early-bird' | 'init' | 'reinit' } },
  (p, cfg) => {
    const experiments = PROFILES[cfg.profile];
    if (!experiments) throw new PipelineError('PARAM_INVALID', `unknown profile '${cfg.profile}'`, { hint: `use one of ${Object.keys(PROFILES).join(', ')}` });
    for (const ex of experiments) {
      p.scope(ex.name, () => {
        const files = datasetInputs(p, ex.dataset);
        const dense = trainDenseRun(p, { ...ex.train, dataset: ex.dataset, initSeed: cfg.seed, dataSeed: cfg.seed }, files);
        imp(p, { dense, levels: ex.levels, prune: { scope: 'global', rate: ex.rate }, rewindTo: 0, maskStats: false, summary: false });
        const ebLevels = ex.channels ? ex.channels.map((_, i) => i + 1) : (ex.ebLevels ?? Array.from({ length: ex.levels }, (_, i) => i + 1));
        // Level l of IMP keeps round((1 - rate)^l * total) weights: the EB ticket of level l is drawn at that density.
        const densityAt = (l: number) => (ex.channels ? ex.channels[l - 1]! : Number(((1 - ex.rate) ** l).toPrecision(12)));
        const track = p.stage(
          earlyBirdTrack,
          // The tracked run is the dense run (same seeds and schedule: evaluation points do not change
          // training), with channels the L1 penalty on the scales (the stage's default, 1e-4) on top.
          {
            ...trainConfigOf(dense),
            evalEvery: ex.maskEvery ?? ex.train.evalEvery,
            initSeed: cfg.seed,
            densities: ebLevels.map(densityAt),
            ...(ex.channels ? { granularity: 'channels' as const } : { scope: 'global' as const }),
            stopEpsilon: cfg.stopEpsilon,
            files,
          },
          { id: EARLY_BIRD_IDS.track },
        );
        for (const l of ebLevels) {
          p.scope(`EB${l}`, () => {
            const ticket = p.stage(
              earlyBirdTicket,
              { model: ex.train.model, density: densityAt(l), epsilon: cfg.epsilon, rewind: cfg.rewind, distances: track.out('distances'), weights: track.out('weights'), init: track.out('init') },
              { id: EARLY_BIRD_IDS.ticket },
            );
            // A channel ticket retrains with the search's L1 penalty on the scales, as the authors'
            // retrain_continue.sh (--sparsity-regularization, its default 1e-4).
            const l1 = ex.channels ? { bnL1: EB_BN_L1 } : {};
            p.stage(retrain, { ...trainConfigOf(dense), ...l1, start: ticket.out('start'), mask: ticket.out('mask'), files }, { id: EARLY_BIRD_IDS.retrain });
          });
        }
      });
    }
  },
);
