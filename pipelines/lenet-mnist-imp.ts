/**
 * Frankle & Carbin (2019), LeNet-300-100 on MNIST: iterative magnitude pruning, layerwise, 20% of
 * the remaining fc weights per level and 10% of the output layer's, rewinding to iteration 0;
 * winning tickets against the random-reinitialisation baseline at every level.
 *
 *   npx pipeline run pipelines/lenet-mnist-imp.ts                      # smoke: 1-2 minutes on 2 cores
 *   npx pipeline run pipelines/lenet-mnist-imp.ts --set profile=paper  # 50K iterations, 18 levels (1.9%)
 *   npx pipeline show pipelines/lenet-mnist-imp.ts                     # the summary table's numbers
 *
 * Data: `--data-dir <folder>` (else $PIPELINE_DATA_DIR, else ../shared/data, else the loader's
 * download folder); the MNIST files' digests, not where they are, are part of every stage key.
 */
import { definePipeline, PipelineError } from '../src/index.js';
import { datasetInputs, imp, trainDenseRun } from '../src/lth/index.js';

const PROFILES = {
  // Small but meaningful: 10K training images, 200 iterations per training, 3 levels pruning 60% of
  // the remaining fc weights per level (30% of the output layer's): 6.5% of the weights left.
  smoke: { iterations: 200, levels: 3, fc: 0.6, output: 0.3, subset: { train: 10000, validation: 1000, test: 2000 }, randomPruning: false },
  // The paper: 50K iterations, 20% per level (output 10%), 18 levels: 1.9% of the weights remain.
  paper: { iterations: 50000, levels: 18, fc: 0.2, output: 0.1, subset: undefined, randomPruning: true },
} as const;

export default definePipeline(
  { name: 'lenet-mnist-imp', params: { profile: 'smoke', seed: 0 } },
  (p, cfg) => {
    const prof = PROFILES[cfg.profile as keyof typeof PROFILES];
    if (!prof) throw new PipelineError('PARAM_INVALID', `unknown profile '${cfg.profile}'`, { hint: `use one of ${Object.keys(PROFILES).join(', ')}` });
    const data = datasetInputs(p, 'mnist');
    const dense = trainDenseRun(
      p,
      {
        model: 'lenet300100',
        dataset: 'mnist',
        ...(prof.subset ? { data: { subset: prof.subset } } : {}),
        batchSize: 60,
        iterations: prof.iterations,
        optimizer: 'adam',
        lr: 1.2e-3,
        evalEvery: 100,
        initSeed: cfg.seed,
        dataSeed: cfg.seed,
        checkpoints: [0],
      },
      data,
    );
    imp(p, {
      dense,
      levels: prof.levels,
      prune: { scope: 'layerwise', rates: { fc: prof.fc, output: prof.output } },
      rewindTo: 0,
      reinit: true,
      randomPruning: prof.randomPruning,
      summary: { title: `LeNet-300-100 on MNIST, winning tickets vs random reinitialisation (${cfg.profile})` },
    });
  },
);
