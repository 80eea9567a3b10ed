/**
 * A first experiment: iterative magnitude pruning (Frankle & Carbin, 2019) of LeNet-300-100 on
 * MNIST, small enough to finish in well under a minute on two cores. Two levels each prune 60% of the
 * remaining hidden-layer weights (30% of the output layer's) and retrain from the original
 * initialisation, against the same mask with fresh random weights.
 *
 *   npx pipeline run pipelines/example.ts       # runs what is not cached yet
 *   npx pipeline status pipelines/example.ts    # what is stale, and why
 *   npx pipeline show pipelines/example.ts      # the summary table's numbers
 *   npx pipeline report pipelines/example.ts    # tables and figures in one HTML file
 *
 * Edit a number below and run again: only the stages that depend on it run.
 */
import { definePipeline } from 'lth-pipeline';
import { datasetInputs, imp, trainDenseRun } from 'lth-pipeline/lth';

// The tables and figures of an `imp` pipeline (`pipeline table`, `plot`, `report`).
export { impReport as report } from 'lth-pipeline/report';

export default definePipeline({ name: 'example', params: { seed: 0 } }, (p, cfg) => {
  // The MNIST files: from --data-dir, else ../shared/data, else downloaded once. Their digests,
  // not where they are, enter every stage's key.
  const data = datasetInputs(p, 'mnist');
  const dense = trainDenseRun(
    p,
    {
      model: 'lenet300100',
      dataset: 'mnist',
      data: { subset: { train: 5000, validation: 1000, test: 2000 } },
      batchSize: 60,
      iterations: 150,
      optimizer: 'adam',
      lr: 1.2e-3,
      evalEvery: 50,
      initSeed: cfg.seed,
      dataSeed: cfg.seed,
      checkpoints: [0],
    },
    data,
  );
  imp(p, {
    dense,
    levels: 2,
    prune: { scope: 'layerwise', rates: { fc: 0.6, output: 0.3 } },
    rewindTo: 0,
    reinit: true,
    summary: { title: 'LeNet-300-100 on MNIST: winning tickets vs random reinitialisation' },
  });
});
