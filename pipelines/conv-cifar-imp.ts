/**
 * Frankle & Carbin (2019), Conv-2/4/6 on CIFAR-10: iterative magnitude pruning with the paper's
 * settings (Adam, batch 60; Conv-2: lr 2e-4, 20K iterations, conv 10% / fc 20% / output 10% per
 * level; Conv-4: lr 3e-4, 25K iterations, same rates; Conv-6: lr 3e-4, 30K iterations, conv 15%),
 * rewinding to iteration 0, with the random-reinitialisation and random-pruning baselines.
 *
 *   npx pipeline run pipelines/conv-cifar-imp.ts                       # smoke: Conv-2, tiny subsets
 *   npx pipeline run pipelines/conv-cifar-imp.ts --set profile=paper   # the three networks, 20 levels
 *
 * Data: `--data-dir <folder>` holding cifar10/cifar-10-batches-bin/ (or the .tar.gz); else
 * $PIPELINE_DATA_DIR, else ../shared/data, else the loader's download folder. The files' digests,
 * not where they are, enter the stage keys.
 */
import { definePipeline, PipelineError } from '../src/index.js';
import { datasetInputs, imp, trainDenseRun } from '../src/lth/index.js';

const NETWORKS = {
  conv2: { lr: 2e-4, iterations: 20000, conv: 0.1 },
  conv4: { lr: 3e-4, iterations: 25000, conv: 0.1 },
  conv6: { lr: 3e-4, iterations: 30000, conv: 0.15 },
} as const;

const PROFILES = {
  // Minutes on two CPU cores: Conv-2 only, batch 8, 12 iterations, 2 levels, a few hundred images.
  smoke: {
    models: ['conv2'] as const,
    batchSize: 8,
    iterations: 12,
    evalEvery: 6,
    levels: 2,
    randomPruning: false,
    data: { validationSize: 200, subset: { train: 400, validation: 64, test: 64 }, augment: false },
  },
  paper: {
    models: ['conv2', 'conv4', 'conv6'] as const,
    batchSize: 60,
    iterations: undefined,
    evalEvery: 100,
    levels: 20,
    randomPruning: true,
    data: { augment: false },
  },
};

export default definePipeline(
  { name: 'conv-cifar-imp', params: { profile: 'smoke', seed: 0 } },
  (p, cfg) => {
    const prof = PROFILES[cfg.profile as keyof typeof PROFILES];
    if (!prof) throw new PipelineError('PARAM_INVALID', `unknown profile '${cfg.profile}'`, { hint: `use one of ${Object.keys(PROFILES).join(', ')}` });
    const data = datasetInputs(p, 'cifar10');
    for (const model of prof.models) {
      const net = NETWORKS[model];
      p.scope(model, () => {
        const dense = trainDenseRun(
          p,
          {
            model,
            dataset: 'cifar10',
            data: prof.data,
            batchSize: prof.batchSize,
            iterations: prof.iterations ?? net.iterations,
            optimizer: 'adam',
            lr: net.lr,
            evalEvery: prof.evalEvery,
            initSeed: cfg.seed,
            dataSeed: cfg.seed,
            checkpoints: [0],
          },
          data,
        );
        imp(p, {
          dense,
          levels: prof.levels,
          prune: { scope: 'layerwise', rates: { conv: net.conv, fc: 0.2, output: 0.1 } },
          rewindTo: 0,
          reinit: true,
          randomPruning: prof.randomPruning,
          summary: { title: `${model} on CIFAR-10, winning tickets vs baselines (${cfg.profile})` },
        });
      });
    }
  },
);
