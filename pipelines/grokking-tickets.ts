/**
 * Grokking tickets (Minegishi, Iwasawa & Matsuo 2023, "Grokking Tickets: Lottery Tickets Accelerate
 * Grokking"; their code: gouki510/Grokking-Tickets): a network trained on `a + b mod p` with AdamW
 * and weight decay memorizes its training pairs long before it generalizes (grokking, Power et al.
 * 2022). The ticket, the magnitude-pruned mask of the generalized solution rewound to
 * initialisation, generalizes much sooner than the dense network; tickets taken at memorization
 * (or at the transition) do not, nor do the dense network with the ticket's weight norm, random
 * pruning, SNIP or SynFlow at the same density.
 *
 *   npx pipeline run pipelines/grokking-tickets.ts                             # smoke: MLP, a + b mod 23, minutes
 *   npx pipeline run pipelines/grokking-tickets.ts --set profile=mlp           # the MLP on mod 97 (the papers' task)
 *   npx pipeline run pipelines/grokking-tickets.ts --set profile=transformer   # the one-layer transformer on mod 97
 *   npx pipeline run pipelines/grokking-tickets.ts --set density=0.4           # another pruning level: reruns only the pruning and after
 *   npx pipeline table pipelines/grokking-tickets.ts; npx pipeline plot pipelines/grokking-tickets.ts
 *
 * Every run trains full batch (all training pairs each step), as the authors, with training
 * accuracy on the curve (`evalTrain`); the metrics `iterationsToGeneralize` and
 * `iterationsToMemorize` are the first evaluation points at 95% test / training accuracy.
 *
 * Stage ids: `train-dense`; per ticket `ticket[-transition|-memorization]/{phase,prune,rewind,retrain}`;
 * per control `random|snip|synflow/{prune,rewind,retrain}`, `dense-norm-l1|l2/{start,retrain}`
 * (with the all-ones mask `dense-mask`). Replicates: `--replicates seed=0,1,2`.
 */
import { definePipeline, PipelineError, type ArtifactRef } from '../src/index.js';
import {
  checkpointIterations,
  checkpointName,
  GROKKING_IDS,
  GROKKING_PHASES,
  grokkingPhase,
  normMatched,
  prune,
  retrain,
  rewind,
  trainConfigOf,
  trainDenseRun,
  type DenseConfig,
} from '../src/lth/index.js';

interface Profile {
  dense: Omit<DenseConfig, 'initSeed' | 'dataSeed' | 'checkpoints' | 'dataset'>;
  /** The dense run's stored checkpoints: every this many iterations (the phases are picked among them). */
  checkpointEvery: number;
}

/** Every run of a profile: full batch, AdamW with the authors' betas (0.9, 0.98), training accuracy on the curve. */
const grok = { optimizer: 'adamw', beta2: 0.98, evalTrain: true } as const;

/** Full batch: every training pair, p^2 * trainFraction of them. */
const fullBatch = (p: number, trainFraction: number) => Math.floor(p * p * trainFraction);

const PROFILES: Record<string, Profile> = {
  // About a minute on 2 cores: the MLP (128/64) memorizes a + b mod 23 (half the pairs) in ~25
  // full-batch steps and generalizes at ~475 (measured, seed 0, lr 1e-2, weight decay 1).
  smoke: {
    dense: { ...grok, model: 'modular_mlp_23_128_64', data: { modular: { p: 23, op: '+', trainFraction: 0.5 } }, batchSize: fullBatch(23, 0.5), iterations: 800, lr: 1e-2, weightDecay: 1, evalEvery: 25, evalBatchSize: 529 },
    checkpointEvery: 25,
  },
  // The Grokking-Tickets MLP (500/48) on a + b mod 97 with 40% of the pairs: AdamW lr 1e-3, weight decay 1.
  mlp: {
    dense: { ...grok, model: 'modular_mlp_97', data: { modular: { p: 97, op: '+', trainFraction: 0.4 } }, batchSize: fullBatch(97, 0.4), iterations: 10000, lr: 1e-3, weightDecay: 1, evalEvery: 100, evalBatchSize: 9409 },
    checkpointEvery: 500,
  },
  // Nanda et al.'s one-layer transformer (128 wide, 4 heads) on a + b mod 97, 40% of the pairs.
  transformer: {
    dense: { ...grok, model: 'modular_transformer_97', data: { modular: { p: 97, op: '+', trainFraction: 0.4 } }, batchSize: fullBatch(97, 0.4), iterations: 10000, lr: 1e-3, weightDecay: 1, evalEvery: 100, evalBatchSize: 9409 },
    checkpointEvery: 500,
  },
};

export default definePipeline({ name: 'grokking-tickets', params: { profile: 'smoke', seed: 0, density: 0.6 } }, (p, cfg) => {
  const prof = PROFILES[cfg.profile as string];
  if (!prof) throw new PipelineError('PARAM_INVALID', `unknown profile '${cfg.profile}'`, { hint: `use one of ${Object.keys(PROFILES).join(', ')}` });
  const seed = Number(cfg.seed);
  const density = Number(cfg.density);
  if (!(density > 0 && density <= 1)) throw new PipelineError('PARAM_INVALID', `density ${cfg.density} must be in (0, 1]: the fraction of weights the tickets keep`);
  const budget = Number(prof.dense.iterations);
  const checkpoints = Array.from({ length: Math.floor(budget / prof.checkpointEvery) + 1 }, (_, i) => i * prof.checkpointEvery);
  // The modular data is generated from its params (no files); the split seed follows the run's seed.
  const data = { modular: { ...prof.dense.data!.modular, seed } };
  const dense = trainDenseRun(p, { ...prof.dense, data, dataset: 'modular-addition', initSeed: seed, dataSeed: seed, checkpoints }, []);
  const model = prof.dense.model;
  const train = trainConfigOf(dense);
  const init = dense.handle.out('ck-0');
  const stored = checkpointIterations(dense.config).map((k) => dense.handle.out(checkpointName(k)));

  /** Retrains `mask` from `start` (the initial weights unless given). */
  const trainFrom = (mask: ArtifactRef, start?: ArtifactRef) => {
    const from = start ?? p.stage(rewind, { model, iteration: 0, weights: init, mask }, { id: 'rewind' }).out('checkpoint');
    return p.stage(retrain, { ...train, start: from, mask, files: [] }, { id: GROKKING_IDS.retrain });
  };
  const pruneAt = (weights: ArtifactRef, how: Record<string, unknown>) =>
    p.stage(prune, { model, scope: 'global', density, seed, weights, mask: [], like: [], files: [], ...how }, { id: 'prune' }).out('mask');

  // The tickets: magnitude pruning (global, as the authors) of the dense run at each phase.
  let ticket: ArtifactRef | undefined;
  for (const phase of [...GROKKING_PHASES].reverse()) {
    p.scope(GROKKING_IDS.tickets[phase], () => {
      const at = p.stage(grokkingPhase, { model, phase, threshold: train.grokThreshold ?? 0.95, curve: dense.handle.out('curve'), checkpoints: stored }, { id: 'phase' }).out('checkpoint');
      const mask = pruneAt(at, { method: 'magnitude' });
      if (phase === 'generalization') ticket = mask;
      trainFrom(mask);
    });
  }

  // Controls at the ticket's density: random pruning with its per-layer densities, SNIP and SynFlow at initialisation.
  const c = GROKKING_IDS.controls;
  p.scope(c.random, () => trainFrom(pruneAt(init, { method: 'random', scope: 'layerwise', like: ticket! })));
  p.scope(c.snip, () => trainFrom(pruneAt(init, { method: 'snip', dataset: 'modular-addition', data })));
  p.scope(c.synflow, () => trainFrom(pruneAt(init, { method: 'synflow' })));
  // The dense network at initialisation scaled to the ticket's L1 / L2 norm (no pruning: the all-ones mask).
  const all = p.stage(prune, { model, scope: 'global', density: 1, weights: init, mask: [], like: [], files: [] }, { id: 'dense-mask' }).out('mask');
  for (const [id, norm] of [[c.normL1, 'l1'], [c.normL2, 'l2']] as const) {
    p.scope(id, () => trainFrom(all, p.stage(normMatched, { model, norm, weights: init, mask: ticket! }, { id: 'start' }).out('checkpoint')));
  }
});
