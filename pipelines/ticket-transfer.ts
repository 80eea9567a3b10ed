/**
 * Ticket transfer (Morcos et al. 2019, "One ticket to win them all"), on LeNet-300-100: are the
 * winning tickets found under one training configuration winning tickets under another?
 * - Across datasets: IMP on Fashion-MNIST and on MNIST (same input shape, 10 classes); at every
 *   level, on MNIST: the MNIST ticket, the Fashion-MNIST ticket transferred (its mask and its
 *   rewind weights, trained on MNIST), the Fashion-MNIST mask on a fresh initialisation (random
 *   reinit), and random pruning (a random mask with the ticket's per-layer densities).
 * - Across optimizers: the MNIST tickets found with Adam retrained with SGD with momentum, against
 *   the tickets IMP finds with SGD with momentum itself (the paper's comparison: a transferred
 *   ticket against the ticket generated with the target optimizer), its Adam mask on a fresh
 *   initialisation, and random pruning under SGD with momentum.
 * A transferred ticket keeps the source's mask and weights bitwise; everything else is the target's
 * (data, optimizer, schedule, budget), with a fresh optimizer state (see src/lth/transfer.ts).
 * Tickets are rewound to the weights after one epoch (late resetting, as Morcos et al. use): the
 * transferred weights are then the source's, trained on the source's data with the source's
 * optimizer, not an initialisation the target could have drawn itself. The three dense runs have
 * their own init seeds.
 *
 *   npx pipeline run pipelines/ticket-transfer.ts                      # smoke: ~2 minutes on 2 cores
 *   npx pipeline run pipelines/ticket-transfer.ts --set profile=paper  # 50K iterations, 18 levels
 *   npx pipeline table pipelines/ticket-transfer.ts; npx pipeline plot pipelines/ticket-transfer.ts
 *
 * Data: MNIST and Fashion-MNIST files (`--data-dir <folder>` holding `mnist/` and `fashion-mnist/`,
 * else ../shared/data, the loader's folder, and Debian's /usr/share/datasets).
 */
import { definePipeline, PipelineError } from '../src/index.js';
import { datasetInputs, imp, trainDenseRun, transferTickets, type DenseConfig } from '../src/lth/index.js';
import { TICKET_TRANSFER_SCOPES as S } from '../src/report/ticket-transfer-report.js';

const PROFILES = {
  // 3K training images, 200 iterations of batch 60 (4 epochs), tickets rewound to iteration 50
  // (1 epoch), 2 levels pruning 50% of the remaining fc weights per level (25% of the output
  // layer's): 25.1% of the weights left. 45 stages, 24 of them short trainings.
  smoke: { iterations: 200, rewindTo: 50, levels: 2, fc: 0.5, output: 0.25, evalEvery: 50, subset: { train: 3000, validation: 500, test: 1000 } },
  // Frankle & Carbin (2019) for LeNet-300-100: Adam 1.2e-3, batch 60, 50K iterations, 20% of the fc
  // weights per level (10% of the output layer's), 18 levels (1.9% left); validation every 100.
  // Late resetting to one epoch: floor(55,000 / 60) = 916 iterations (5,000 of the 60,000 training
  // images are held out for validation).
  paper: { iterations: 50000, rewindTo: 916, levels: 18, fc: 0.2, output: 0.1, evalEvery: 100, subset: undefined },
} as const;

// The source optimizer: Frankle & Carbin's for LeNet-300-100. The target: SGD with momentum 0.9 at
// lr 0.01 (open_lth's LeNet-300-100 trains with plain SGD at lr 0.1: the same step size in the long run).
const ADAM = { optimizer: 'adam', lr: 1.2e-3 } as const;
const MOMENTUM = { optimizer: 'momentum', momentum: 0.9, lr: 0.01 } as const;

export default definePipeline(
  { name: 'ticket-transfer', params: { profile: 'smoke', seed: 0 } },
  (p, cfg) => {
    const prof = PROFILES[cfg.profile as keyof typeof PROFILES];
    if (!prof) throw new PipelineError('PARAM_INVALID', `unknown profile '${cfg.profile}'`, { hint: `use one of ${Object.keys(PROFILES).join(', ')}` });
    const seed = Number(cfg.seed);
    const files = { mnist: datasetInputs(p, 'mnist'), 'fashion-mnist': datasetInputs(p, 'fashion-mnist') };
    const common = {
      model: 'lenet300100',
      ...(prof.subset ? { data: { subset: prof.subset } } : {}),
      batchSize: 60,
      iterations: prof.iterations,
      evalEvery: prof.evalEvery,
      dataSeed: seed,
      checkpoints: [0, prof.rewindTo],
    };
    // A dense run and its IMP tickets (rewound to one epoch), in a scope of its own.
    const ticketsOf = (scope: string, config: DenseConfig & { dataset: keyof typeof files }, randomPruning: boolean) =>
      p.scope(scope, () => {
        const dense = trainDenseRun(p, config, files[config.dataset]);
        const found = imp(p, {
          dense,
          levels: prof.levels,
          prune: { scope: 'layerwise', rates: { fc: prof.fc, output: prof.output } },
          rewindTo: prof.rewindTo,
          randomPruning,
          maskStats: false,
          summary: false,
        });
        return { dense, found };
      });
    const mnist = ticketsOf(S.target, { ...common, ...ADAM, dataset: 'mnist', initSeed: seed }, true);
    const fashion = ticketsOf(S.sourceDataset, { ...common, ...ADAM, dataset: 'fashion-mnist', initSeed: seed + 1 }, false);
    const momentum = ticketsOf(S.targetOptimizer, { ...common, ...MOMENTUM, dataset: 'mnist', initSeed: seed + 2 }, true);
    p.scope(S.datasetTransfer, () => transferTickets(p, { source: fashion.found, rewindTo: prof.rewindTo, target: mnist.dense, reinit: true }));
    p.scope(S.optimizerTransfer, () => transferTickets(p, { source: mnist.found, rewindTo: prof.rewindTo, target: momentum.dense, reinit: true }));
  },
);
