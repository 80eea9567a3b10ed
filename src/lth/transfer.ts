/**
 * Ticket transfer (Morcos et al. 2019, "One ticket to win them all: generalizing lottery ticket
 * initializations across datasets and optimizers"): the winning tickets an IMP run found under
 * one training configuration (dataset, optimizer) retrained under another. A ticket is its mask
 * and its rewind weights (the source run's weights at k, under the mask): both are taken from the
 * source bitwise; the data, the optimizer and its hyperparameters, the schedule and the budget
 * are the target's, and the optimizer state starts fresh (rewind drops it; retrain refuses a start
 * that carries another run's state). Baseline: the transferred mask on a fresh random
 * initialisation (random reinit); random pruning is the target's own (`imp`'s randomPruning).
 *
 * Made of the existing stages: retrain (its `start` and `mask` from the source, its params and
 * `files` from the target) and rewind (mode 'reinit').
 */
import type { ArtifactRef, PipelineBuilder, StageHandle } from '../engine/index.js';
import { PipelineError } from '../errors.js';
import type { TrainConfigInput } from './config.js';
import { trainConfigOf, type DenseRun, type ImpResult } from './imp.js';
import { retrain } from './retrain.js';
import { rewind } from './rewind.js';
import { TRANSFER_IDS } from './stage-ids.js';

export { TRANSFER_IDS } from './stage-ids.js';


export interface TransferOptions {
  /** The IMP run that found the tickets: each level's mask and rewound checkpoint. */
  source: ImpResult;
  /** The rewind iteration k of the source's tickets (the retraining resumes the target's schedule at k). */
  rewindTo: number;
  /** The target's dense run: its training config (dataset, optimizer, ...) and dataset files. */
  target: DenseRun;
  /** Overrides of the target's config for retraining. */
  retrain?: Partial<TrainConfigInput>;
  /** Random-reinit baseline with the transferred mask (seed of the fresh initialisation, default 1000 + the target's initSeed). */
  reinit?: boolean | { seed: number };
}

export interface TransferLevel {
  level: number;
  /** The source's mask and rewound checkpoint (the ticket). */
  mask: ArtifactRef;
  start: ArtifactRef;
  ticket: StageHandle;
  reinit?: StageHandle;
}

/** Per source level (in scopes `L<level>`): the source ticket retrained under the target's config, and the baseline. */
export function transferTickets(p: PipelineBuilder, o: TransferOptions): TransferLevel[] {
  if (!(Number.isInteger(o.rewindTo) && o.rewindTo >= 0)) throw new PipelineError('PARAM_INVALID', `transfer: rewind iteration ${o.rewindTo} must be a non-negative integer`);
  const cfg: TrainConfigInput = { ...trainConfigOf(o.target), ...o.retrain };
  const reinitSeed = typeof o.reinit === 'object' ? o.reinit.seed : 1000 + (o.target.config.initSeed ?? 0);
  return o.source.levels.map((src) =>
    p.scope(`L${src.level}`, (): TransferLevel => {
      const ticket = p.stage(retrain, { ...cfg, start: src.start, mask: src.mask, files: o.target.files }, { id: TRANSFER_IDS.ticket });
      const out: TransferLevel = { level: src.level, mask: src.mask, start: src.start, ticket };
      if (o.reinit) {
        // rewind 'reinit' reads only the metadata of `weights` (the model); the weights are model.init(seed) under the mask.
        const s = p.stage(rewind, { model: cfg.model, mode: 'reinit', seed: reinitSeed, iteration: o.rewindTo, weights: src.start, mask: src.mask }, { id: TRANSFER_IDS.reinitStart }).out('checkpoint');
        out.reinit = p.stage(retrain, { ...cfg, start: s, mask: src.mask, files: o.target.files }, { id: TRANSFER_IDS.reinit });
      }
      return out;
    }),
  );
}
