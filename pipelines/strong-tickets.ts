/**
 * Strong lottery tickets vs width: is there, in a random LeNet-style MLP that is never trained, a
 * subnetwork that classifies MNIST, and does it get better as the network gets wider? Edge-popup
 * (Ramanujan et al. 2020) at k = 30/50/70% of each layer kept, with and without binary weights
 * (multi-prize tickets, Diffenderfer & Kailkhura 2021), against the trained dense network of the
 * same width (Frankle & Carbin's LeNet training).
 *
 *   npx pipeline run pipelines/strong-tickets.ts                      # smoke: 1-2 minutes on 2 cores
 *   npx pipeline run pipelines/strong-tickets.ts --set profile=paper  # widths 100-30 .. 3000-1000
 *   npx pipeline table pipelines/strong-tickets.ts --replicates seed=0,1,2
 *
 * Stage ids: `w<w1>_<w2>/train-dense`, `w<w1>_<w2>/k<k%>/edge-popup`, `w<w1>_<w2>/k<k%>/multi-prize`.
 * Data: as lenet-mnist-imp (`--data-dir`, $PIPELINE_DATA_DIR, ../shared/data).
 */
import { definePipeline, PipelineError } from '../src/index.js';
import { datasetInputs, edgePopup, trainDenseRun } from '../src/lth/index.js';

/** k: the fraction of each layer's weights the subnetwork keeps. */
const KS = [0.3, 0.5, 0.7] as const;

const PROFILES = {
  // Two widths an order of magnitude apart, on 10K training images; 250 score updates, 300 dense iterations.
  smoke: {
    widths: [[30, 10], [300, 100]],
    subset: { train: 10000, validation: 1000, test: 2000 },
    dense: { iterations: 300 },
    search: { iterations: 250, batchSize: 100 },
  },
  // The widths of the issue; the dense networks as Frankle & Carbin (Adam 1.2e-3, batch 60, 50K
  // iterations); the scores as Ramanujan et al.'s code (SGD, momentum 0.9, weight decay 5e-4,
  // lr 0.1, cosine; batch 128, 100 epochs: their CIFAR-10 settings, the paper has no MNIST run).
  paper: {
    widths: [[100, 30], [300, 100], [1000, 300], [3000, 1000]],
    subset: undefined,
    dense: { iterations: 50000 },
    search: { iterations: '100ep', batchSize: 128 },
  },
} as const;

export default definePipeline(
  { name: 'strong-tickets', params: { profile: 'smoke', seed: 0 } },
  (p, cfg) => {
    const prof = PROFILES[cfg.profile as keyof typeof PROFILES];
    if (!prof) throw new PipelineError('PARAM_INVALID', `unknown profile '${cfg.profile}'`, { hint: `use one of ${Object.keys(PROFILES).join(', ')}` });
    const seed = Number(cfg.seed);
    const files = datasetInputs(p, 'mnist');
    const data = prof.subset ? { data: { subset: prof.subset } } : {};
    for (const [w1, w2] of prof.widths) {
      const model = `mnist_lenet_${w1}_${w2}`;
      p.scope(`w${w1}_${w2}`, () => {
        trainDenseRun(
          p,
          { model, dataset: 'mnist', ...data, batchSize: 60, iterations: prof.dense.iterations, optimizer: 'adam', lr: 1.2e-3, evalEvery: 100, initSeed: seed, dataSeed: seed, checkpoints: [0] },
          files,
        );
        for (const k of KS) {
          p.scope(`k${Math.round(k * 100)}`, () => {
            for (const binarize of [false, true]) {
              p.stage(
                edgePopup,
                {
                  model,
                  dataset: 'mnist',
                  ...data,
                  density: k,
                  binarize,
                  init: binarize ? 'kaiming-normal' : 'signed-constant',
                  batchSize: prof.search.batchSize,
                  iterations: prof.search.iterations,
                  optimizer: 'momentum',
                  momentum: 0.9,
                  weightDecay: 5e-4,
                  lr: 0.1,
                  schedule: 'cosine',
                  evalEvery: 100,
                  initSeed: seed,
                  dataSeed: seed,
                  files,
                },
                { id: binarize ? 'multi-prize' : 'edge-popup' },
              );
            }
          });
        }
      });
    }
  },
);
