/**
 * Pipeline-building helpers for lottery-ticket experiments:
 * - `trainDenseRun`: the dense run (train-dense) and what later stages need to know about it;
 * - `weightsAt`: the dense run's weights at iteration k: a stored checkpoint, or a replay-dense
 *   stage resuming from the nearest earlier one (cached per k; the trunk never retrains);
 * - `imp`: L levels of prune -> rewind -> retrain from one dense run, with the random-reinit and
 *   random-pruning baselines, stability, mask statistics and a summary table as options.
 */
import type { ArtifactRef, PipelineBuilder, StageHandle } from '../engine/index.js';
import { PipelineError } from '../errors.js';
import type { TrainConfigInput } from './config.js';
import { evaluateStability } from './evaluate-stability.js';
import { maskStatsStage } from './mask-stats.js';
import { prune } from './prune.js';
import { replayDense } from './replay.js';
import { retrain } from './retrain.js';
import { rewind } from './rewind.js';
import { impSummary } from './summary.js';
import { checkpointIterations, checkpointName, trainDense } from './train-dense.js';
import { IMP_IDS } from './stage-ids.js';

export type DenseConfig = TrainConfigInput & { initSeed?: number; checkpoints?: number[] };

export interface DenseRun {
  handle: StageHandle;
  config: DenseConfig;
  /** Iterations whose checkpoints the dense run stores. */
  checkpoints: number[];
  /** The dataset files (p.file artifacts) the run was given. */
  files: ArtifactRef[];
}

export function trainDenseRun(p: PipelineBuilder, config: DenseConfig, files: ArtifactRef[], opts: { id?: string } = {}): DenseRun {
  const handle = p.stage(trainDense, { ...config, files }, { id: opts.id ?? 'train-dense' });
  return { handle, config, checkpoints: checkpointIterations(config), files };
}

/** The training config of a dense run, without what only train-dense takes. */
export function trainConfigOf(dense: DenseRun): TrainConfigInput {
  const { initSeed: _i, checkpoints: _c, ...rest } = dense.config;
  return rest;
}

/** The dense run's checkpoint at iteration k (replayed from the nearest earlier checkpoint if not stored). */
export function weightsAt(p: PipelineBuilder, dense: DenseRun, k: number, opts: { id?: string } = {}): ArtifactRef {
  if (!(Number.isInteger(k) && k >= 0)) throw new PipelineError('PARAM_INVALID', `rewind iteration ${k} must be a non-negative integer`);
  if (dense.checkpoints.includes(k)) return dense.handle.out(checkpointName(k));
  const k0 = Math.max(...dense.checkpoints.filter((c) => c <= k));
  const replay = p.stage(
    replayDense,
    { ...trainConfigOf(dense), ...(dense.config.initSeed !== undefined ? { initSeed: dense.config.initSeed } : {}), iteration: k, from: dense.handle.out(checkpointName(k0)), files: dense.files },
    { id: opts.id ?? `replay-k${k}` },
  );
  return replay.out('checkpoint');
}

export interface PruneOptions {
  scope?: 'layerwise' | 'global';
  rate?: number;
  rates?: { conv?: number; fc?: number; output?: number };
  keep?: string[];
}

export interface ImpOptions {
  dense: DenseRun;
  levels: number;
  prune: PruneOptions;
  /** k: the iteration the tickets are rewound to (default 0). */
  rewindTo?: number;
  /** 'weights' (default): rewind the weights to k; 'lr': keep the trained weights, replay the schedule from k. */
  rewind?: 'weights' | 'lr';
  /** Overrides of the dense config for retraining (default: the same config). */
  retrain?: Partial<TrainConfigInput>;
  /** A level-1 mask made outside (e.g. shared by a sweep over k); default: pruned here. */
  firstMask?: ArtifactRef;
  /** Random-reinitialisation baseline (seed of the fresh initialisation, default 1000 + initSeed). */
  reinit?: boolean | { seed: number };
  /** Random-pruning baseline: random masks with the ticket's per-layer densities. */
  randomPruning?: boolean | { seed: number };
  /** evaluate-stability per level. */
  stability?: boolean | { points?: number; dataSeedB?: number };
  maskStats?: boolean;
  summary?: boolean | { title: string };
}

export interface ImpLevel {
  level: number;
  mask: ArtifactRef;
  start: ArtifactRef;
  ticket: StageHandle;
  reinit?: StageHandle;
  random?: StageHandle;
  stability?: StageHandle;
}

export interface ImpResult {
  levels: ImpLevel[];
  maskStats?: StageHandle;
  summary?: StageHandle;
}

export function imp(p: PipelineBuilder, o: ImpOptions): ImpResult {
  if (!(Number.isInteger(o.levels) && o.levels >= 1)) throw new PipelineError('PARAM_INVALID', `imp: levels must be a positive integer, got ${o.levels}`);
  const { dense } = o;
  const k = o.rewindTo ?? 0;
  const model = dense.config.model;
  const cfg: TrainConfigInput = { ...trainConfigOf(dense), ...o.retrain };
  const wk = weightsAt(p, dense, k);
  const denseFinal = dense.handle.out('final');
  const reinitSeed = typeof o.reinit === 'object' ? o.reinit.seed : 1000 + (dense.config.initSeed ?? 0);
  const randomSeed = typeof o.randomPruning === 'object' ? o.randomPruning.seed : 2000;
  const levels: ImpLevel[] = [];
  let prevWeights = denseFinal;
  let prevMask: ArtifactRef | undefined;
  for (let l = 1; l <= o.levels; l++) {
    const level = p.scope(`L${l}`, (): ImpLevel => {
      const mask =
        l === 1 && o.firstMask
          ? o.firstMask
          : p.stage(prune, { model, ...o.prune, level: l, weights: prevWeights, mask: prevMask ? [prevMask] : [], like: [], files: [] }, { id: 'prune' }).out('mask');
      const start = p
        .stage(rewind, { model, mode: o.rewind === 'lr' ? 'lr' : 'weights', iteration: k, weights: o.rewind === 'lr' ? prevWeights : wk, mask }, { id: 'rewind' })
        .out('checkpoint');
      const ticket = p.stage(retrain, { ...cfg, start, mask, files: dense.files }, { id: IMP_IDS.ticket });
      const out: ImpLevel = { level: l, mask, start, ticket };
      if (o.reinit) {
        const s = p.stage(rewind, { model, mode: 'reinit', seed: reinitSeed, iteration: k, weights: wk, mask }, { id: 'reinit' }).out('checkpoint');
        out.reinit = p.stage(retrain, { ...cfg, start: s, mask, files: dense.files }, { id: IMP_IDS.reinit });
      }
      if (o.randomPruning) {
        const rm = p.stage(prune, { model, method: 'random', seed: randomSeed + l, level: l, weights: wk, mask: [], like: [mask], files: [] }, { id: 'random-mask' }).out('mask');
        const s = p.stage(rewind, { model, iteration: k, weights: wk, mask: rm }, { id: 'rewind-random' }).out('checkpoint');
        out.random = p.stage(retrain, { ...cfg, start: s, mask: rm, files: dense.files }, { id: IMP_IDS.random });
      }
      if (o.stability) {
        const so = typeof o.stability === 'object' ? o.stability : {};
        out.stability = p.stage(
          evaluateStability,
          {
            ...cfg,
            ...(so.points !== undefined ? { points: so.points } : {}),
            ...(so.dataSeedB !== undefined ? { dataSeedB: so.dataSeedB } : {}),
            start,
            mask,
            files: dense.files,
            trained: [ticket.out('final')],
            dense: [denseFinal],
          },
          { id: 'stability' },
        );
      }
      return out;
    });
    levels.push(level);
    prevWeights = level.ticket.out('final');
    prevMask = level.mask;
  }
  const result: ImpResult = { levels };
  if (o.maskStats ?? true) result.maskStats = p.stage(maskStatsStage, { masks: levels.map((l) => l.mask) }, { id: 'mask-stats' });
  if (o.summary ?? true) {
    result.summary = p.stage(
      impSummary,
      {
        ...(typeof o.summary === 'object' ? { title: o.summary.title } : {}),
        dense: [dense.handle.out('metrics')],
        tickets: levels.map((l) => l.ticket.out('metrics')),
        reinit: levels.flatMap((l) => (l.reinit ? [l.reinit.out('metrics')] : [])),
        random: levels.flatMap((l) => (l.random ? [l.random.out('metrics')] : [])),
      },
      { id: 'summary' },
    );
  }
  return result;
}
