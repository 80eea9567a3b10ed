/**
 * The training configuration shared by every stage that trains or evaluates (train-dense, replay,
 * retrain, evaluate-stability): one zod schema, so that the dense run and the retraining of a
 * ticket are configured, validated and keyed the same way. Also: loading the dataset a stage was
 * given, turning the config into the trainer's options, and the provenance every stage records.
 */
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { PipelineError } from '../errors.js';
import { initBackend, type BackendInfo } from '../nn/backend.js';
import { hasDataset, loadDataset, MODULAR_OPS, unknownDatasetMessage, type Dataset } from '../nn/data/index.js';
import { decodeCheckpoint, decodeMask, encodeCheckpoint, encodeMask } from '../nn/safetensors.js';
import { modelNameProblem, type Model } from '../nn/models/index.js';
import { OPTIMIZER_TYPES } from '../nn/optimizer-types.js';
import { DURATION_EXAMPLES, DURATION_PATTERN, parseDuration } from '../nn/schedule.js';
import type { Checkpoint, TrainOptions } from '../nn/train.js';
import { datasetParam, modelParam } from './define.js';
import { writeFileAtomic } from './fsutil.js';
import type { Mask } from './masks.js';
import { DEFAULT_GROK_THRESHOLD, grokkingMetrics, type GrokkingMetrics } from './grokking.js';

export const durationSchema = z.union([z.number().int().nonnegative(), z.string().regex(DURATION_PATTERN, `a duration, ${DURATION_EXAMPLES}`)]);

const positiveInt = z.number().int().positive();

/** A dataset name: built in or registered (src/nn/data/registry.ts); an unknown one is refused with the list of names. */
export const datasetNameSchema = datasetParam(
  z.string().superRefine((name, ctx) => {
    if (!hasDataset(name)) ctx.addIssue({ code: 'custom', message: unknownDatasetMessage(name) });
  }),
);

/**
 * A model name: one a project defined (defineModel), a built-in one, or an open_lth-style
 * parameterized one (src/nn/models/registry.ts); any other is refused saying why and what exists.
 */
export const modelNameSchema = modelParam(
  z.string().superRefine((name, ctx) => {
    const problem = modelNameProblem(name);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }),
);

/** Options of the dataset loader that change the data a stage sees (all enter the key). */
export const dataOptionsSchema = z.object({
  /** Examples held out of the training set for validation (loader default: 5000). */
  validationSize: z.number().int().nonnegative().optional(),
  /** Seed of the validation split and of subsets (loader default 0). */
  splitSeed: z.number().int().optional(),
  /** Keep the first N examples of a split after a seeded shuffle (smoke runs). */
  subset: z.object({ train: positiveInt.optional(), validation: positiveInt.optional(), test: positiveInt.optional() }).optional(),
  /** Data augmentation of training batches (default: the dataset's own, on for CIFAR-10/100). */
  augment: z.boolean().optional(),
  /** Checksum policy for found files (loader default 'official'). */
  verify: z.enum(['official', 'strict', 'none']).optional(),
  /** The synthetic dataset's options. */
  synthetic: z
    .object({
      seed: z.number().int().optional(),
      shape: z.tuple([positiveInt, positiveInt, positiveInt]).optional(),
      numClasses: positiveInt.optional(),
      trainSize: positiveInt.optional(),
      validationSize: z.number().int().nonnegative().optional(),
      testSize: positiveInt.optional(),
      noise: z.number().min(0).max(1).optional(),
    })
    .optional(),
  /** The `modular-addition` dataset's options (src/nn/data/modular.ts checks their ranges). */
  modular: z
    .object({
      p: z.number().int().min(2).max(256).optional(),
      op: z.enum(MODULAR_OPS).optional(),
      trainFraction: z.number().gt(0).lt(1).optional(),
      seed: z.number().int().optional(),
    })
    .optional(),
});

export const trainConfigShape = {
  model: modelNameSchema,
  /** Rate of the network's dropout layers (after the hidden FC layers of LeNet / Conv-2/4/6). */
  dropout: z.number().min(0).lt(1).default(0),
  dataset: datasetNameSchema,
  data: dataOptionsSchema.default({}),
  batchSize: positiveInt,
  /** Total training length of the dense run (a retrained ticket resumes at k and stops here too). */
  iterations: durationSchema,
  optimizer: z.enum(OPTIMIZER_TYPES),
  momentum: z.number().min(0).lt(1).optional(),
  /** Adam / AdamW's second-moment decay (default 0.999; the grokking papers 0.98). */
  beta2: z.number().min(0).lt(1).optional(),
  weightDecay: z.number().nonnegative().default(0),
  lr: z.number().positive(),
  warmup: durationSchema.default(0),
  milestones: z.array(durationSchema).default([]),
  gamma: z.number().positive().default(0.1),
  /** Seed of data order, augmentation and dropout. */
  dataSeed: z.number().int().nonnegative().default(0),
  /** Validation every N iterations (the curve and the early-stopping iteration); 0: never. */
  evalEvery: z.number().int().nonnegative().default(100),
  evalBatchSize: positiveInt.default(500),
  /**
   * Also evaluate the whole training split at every evaluation point: curves of training and
   * validation accuracy, and the metrics iterationsToMemorize / iterationsToGeneralize (./grokking.ts).
   */
  evalTrain: z.boolean().default(false),
  /** The accuracy at which a run counts as memorized (training split) or generalized (evaluated split). */
  grokThreshold: z.number().gt(0).max(1).default(DEFAULT_GROK_THRESHOLD),
  /**
   * L1 penalty on the batch-norm scales (network slimming; src/nn/train.ts adds lambda * sign(gamma)
   * to their gradients). 0: none. The Early-Bird authors keep it when they retrain a channel ticket
   * (RICE-EIC/Early-Bird-Tickets scripts/standard-train/retrain_continue.sh: --sparsity-regularization).
   */
  bnL1: z.number().nonnegative().default(0),
};

export const trainConfigSchema = z.object(trainConfigShape);
export type TrainConfig = z.output<typeof trainConfigSchema>;
/** What a pipeline writes (defaults may be left out). */
export type TrainConfigInput = z.input<typeof trainConfigSchema>;

/**
 * Loads the dataset from the files a stage was given (`p.file()` inputs: their content digests are
 * in the key). No files: the loader's own lookup (PIPELINE_DATA_DIR, default data dir, download).
 */
export async function loadData(cfg: Pick<TrainConfig, 'dataset' | 'data'>, files: readonly string[], log?: (line: string) => void): Promise<Dataset> {
  let path: string | undefined;
  if (files.length === 1 && files[0]!.endsWith('.tar.gz')) path = files[0];
  else if (files.length > 0) path = dirname(files[0]!);
  const d = cfg.data;
  return loadDataset(cfg.dataset, {
    ...(path ? { path, download: false } : {}),
    ...(d.verify ? { verify: d.verify } : {}),
    ...(d.splitSeed !== undefined ? { splitSeed: d.splitSeed } : {}),
    ...(d.validationSize !== undefined ? { validationSize: d.validationSize } : {}),
    ...(d.subset ? { subset: d.subset } : {}),
    ...(d.augment !== undefined ? { augment: d.augment } : {}),
    ...(d.synthetic ? { synthetic: d.synthetic } : {}),
    ...(d.modular ? { modular: d.modular } : {}),
    ...(log ? { log } : {}),
    progress: false,
  });
}

/** Iterations of the config's budget on this dataset. */
export function budgetOf(cfg: TrainConfig, data: Dataset): number {
  return parseDuration(cfg.iterations, Math.floor(data.size('train') / cfg.batchSize), 'iterations');
}

/** Everything of the trainer's options that the config fixes. */
export function trainOptionsOf(
  cfg: TrainConfig,
  model: Model,
  data: Dataset,
  report?: { progress(p: { fraction?: number; message?: string }): void },
): Omit<TrainOptions, 'weights'> {
  const budget = budgetOf(cfg, data);
  return {
    model,
    data,
    batchSize: cfg.batchSize,
    budget: cfg.iterations,
    optimizer: { type: cfg.optimizer, ...(cfg.momentum !== undefined ? { momentum: cfg.momentum } : {}), ...(cfg.beta2 !== undefined ? { beta2: cfg.beta2 } : {}), weightDecay: cfg.weightDecay },
    schedule: { lr: cfg.lr, warmup: cfg.warmup, milestones: cfg.milestones, gamma: cfg.gamma },
    dataSeed: cfg.dataSeed,
    augment: data.augmentation !== undefined, // the loader applied the stage's choice, else the dataset's default
    evalEvery: cfg.evalEvery,
    evalSplit: 'validation',
    ...(cfg.evalTrain ? { evalTrain: true } : {}),
    evalBatchSize: cfg.evalBatchSize,
    ...(cfg.bnL1 > 0 ? { bnL1: cfg.bnL1 } : {}),
    progressEvery: 10,
    ...(report
      ? {
          onProgress: (p) =>
            report.progress({ fraction: budget ? p.iteration / budget : 1, message: `it ${p.iteration}/${budget} loss ${p.loss.toFixed(4)} ${p.itPerSec.toFixed(1)} it/s` }),
        }
      : {}),
  };
}

/** The backend of a stage process, on as many threads as the scheduler counted for the stage. */
export async function stageBackend(ctx: { cpus: number; provenance(info: Record<string, string | number | boolean | null | Record<string, string>>): void }): Promise<BackendInfo> {
  const info = await initBackend('auto', { threads: ctx.cpus });
  ctx.provenance({ backend: info.name, threads: info.threads, versions: { ...info.versions, node: process.versions.node } });
  return info;
}

/** The dataset of a stage, from its `files` input; what was loaded goes into the run's provenance. */
export async function loadStageData(
  ctx: { inputList(name: 'files'): string[]; log(line: string): void; provenance(info: Record<string, Record<string, number | string>>): void },
  cfg: Pick<TrainConfig, 'dataset' | 'data'>,
): Promise<Dataset> {
  const data = await loadData(cfg, ctx.inputList('files'), (l) => ctx.log(l));
  ctx.provenance({ data: describeData(data) });
  return data;
}

export function describeData(data: Dataset): Record<string, number | string> {
  return { dataset: data.name, source: data.source, train: data.size('train'), validation: data.size('validation'), test: data.size('test') };
}

/** The grokking measures of a run trained with `evalTrain` (none otherwise: the metrics of other runs stay as they were). */
export function grokkingMetricsOf(cfg: Pick<TrainConfig, 'evalTrain' | 'grokThreshold'>, curve: Parameters<typeof grokkingMetrics>[0]): GrokkingMetrics | Record<string, never> {
  return cfg.evalTrain ? grokkingMetrics(curve, cfg.grokThreshold) : {};
}

// ---- artifacts -----------------------------------------------------------------------------

export async function readCheckpoint(path: string): Promise<Checkpoint & { metadata: Record<string, string> }> {
  return decodeCheckpoint(new Uint8Array(await readFile(path)), path);
}

export async function writeCheckpoint(path: string, ck: Checkpoint, metadata: Record<string, string>): Promise<void> {
  await writeFileAtomic(path, encodeCheckpoint(ck, metadata));
}

export async function readMask(path: string): Promise<Mask> {
  return decodeMask(new Uint8Array(await readFile(path)), path).mask;
}

export async function writeMask(path: string, mask: Mask, metadata: Record<string, string> = {}): Promise<void> {
  await writeFileAtomic(path, encodeMask(mask, metadata));
}

/** The optional single artifact of a list-bound input (`[]` = none). */
export function optionalInput(paths: readonly string[], name: string, where: string): string | undefined {
  if (paths.length > 1) throw new PipelineError('PARAM_INVALID', `input '${name}' takes at most one artifact, got ${paths.length}`, { where });
  return paths[0];
}

/**
 * The metadata of a checkpoint carried into one made from it (rewound, transformed, picked), with
 * `extra`: without the fields encodeCheckpoint writes itself (format, iteration, curve, pending loss).
 */
export function derivedMeta(meta: Record<string, string>, extra: Record<string, string> = {}): Record<string, string> {
  const out: Record<string, string> = { ...meta, ...extra };
  for (const k of ['format', 'iteration', 'curve', 'pending_loss']) delete out[k];
  return out;
}

/** Metadata of checkpoints written by a config: what a later stage checks before using it. */
export function checkpointMeta(cfg: TrainConfig, extra: Record<string, string | number> = {}): Record<string, string> {
  // The optimizer too: a ticket transferred to another optimizer (Morcos et al. 2019) says where it came from.
  const out: Record<string, string> = { model: cfg.model, dataset: cfg.dataset, optimizer: cfg.optimizer, dataSeed: String(cfg.dataSeed) };
  for (const [k, v] of Object.entries(extra)) out[k] = String(v);
  return out;
}

/** Throws if a checkpoint was written for another model. */
/** A checkpoint input of a stage, checked to be of the model the stage is configured for. */
export async function readModelCheckpoint(path: string, model: string, where: string): Promise<Checkpoint & { metadata: Record<string, string> }> {
  const ck = await readCheckpoint(path);
  checkModel(ck.metadata, model, where);
  return ck;
}

export function checkModel(meta: Record<string, string>, model: string, where: string): void {
  if (meta.model !== undefined && meta.model !== model) {
    throw new PipelineError('PARAM_INVALID', `the checkpoint is of model '${meta.model}', the stage is configured for '${model}'`, { where });
  }
}
