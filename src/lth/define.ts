/**
 * A project's own networks and datasets, for pipelines: `defineModel` and `defineDataset`
 * register them (src/nn's registries) under a name that every stage's `model` / `dataset` param
 * then accepts, and record where they were defined, so that:
 * - their code is keyed like any project code: the statement that defines one (and what it
 *   references) enters the code fingerprint of the stage instances that name it, and editing it
 *   reruns those and nothing else;
 * - the stage processes and queue workers import the defining module first, so the name is
 *   known there too (src/engine/definition/named-code.ts).
 * Call them at the top level of the pipeline file or of a module it imports: a module imported
 * again defines them again.
 */
import { formatSite, namedCodeParam, recordNamedCode } from '../engine/index.js';
import { isPipelineError, PipelineError } from '../errors.js';
import { registerDataset, type ArraysSource, type FilesSource } from '../nn/data/index.js';
import { registerModel, type ModelDefinition } from '../nn/models/index.js';

/** The kinds of named code this layer registers (what `namedCodeParam` marks in stage params). */
export const MODEL_CODE = 'model';
export const DATASET_CODE = 'dataset';

/** Where the caller of a define function is (for messages), and that file. */
function definedAt(kind: string, name: unknown): { where: string | undefined; file: string | undefined } {
  const site = recordNamedCode(kind, String(name)).sites()[0];
  return { where: formatSite(site), file: site?.file };
}

/**
 * Registers a network written with the layer builders (`l.conv`, `l.dense`, `l.batchNorm`,
 * `l.maxPool`, `l.basicBlock`, `l.dropout`, ...), e.g.
 *
 * ```ts
 * export const mlp = defineModel({
 *   name: 'mlp-500-250',
 *   inputShape: [28, 28, 1],
 *   numClasses: 10,
 *   build: (l) => [l.flatten(), l.dense(500), l.relu(), l.dense(250), l.relu(), l.dense(10)],
 * });
 * p.stage(trainDense, { model: mlp.name, ... });
 * ```
 *
 * Its layers are built once here: a shape mistake is a PIPELINE_INVALID error at this line.
 */
export function defineModel<const D extends ModelDefinition>(definition: D): D {
  const { where, file } = definedAt(MODEL_CODE, definition?.name);
  registerModel(definition, { ...(where ? { where } : {}), ...(file ? { file } : {}) });
  return definition;
}

/** A source whose `kind` may be left out (told by `load` or `format`). */
type KindOptional<S extends { kind: string }> = Omit<S, 'kind'> & { readonly kind?: S['kind'] };

/** A dataset of the project's own: in-memory arrays (`load`), or a folder of files in IDX or CIFAR binary layout (`format`, `dir`). */
export type DatasetDefinition = { readonly name: string } & (KindOptional<ArraysSource> | KindOptional<FilesSource>);

/**
 * Registers a dataset: `defineDataset({ name, load: () => ({ shape, numClasses, train, test }) })`
 * for arrays (uint8 or float32 images, NHWC, with labels; `load` runs in every stage process that
 * reads the dataset), or `defineDataset({ name, format: 'idx' | 'cifar10' | 'cifar100', dir })` for
 * files. See src/nn/data/registry.ts for the options (normalisation, augmentation, splits).
 */
export function defineDataset<const D extends DatasetDefinition>(definition: D): D {
  const { where } = definedAt(DATASET_CODE, definition?.name);
  const { name, ...source } = definition as DatasetDefinition;
  try {
    if ('load' in source) registerDataset(name, { ...source, kind: 'arrays' });
    else registerDataset(name, { ...source, kind: 'files' });
  } catch (e) {
    if (isPipelineError(e) && where) throw new PipelineError(e.code, e.message, { where, ...(e.hint ? { hint: e.hint } : {}), cause: e });
    throw e;
  }
  return definition;
}

/** Marks a stage param's schema as holding a model name (its registered code enters the stage's fingerprint). */
export function modelParam<S extends Parameters<typeof namedCodeParam>[1]>(schema: S): S {
  return namedCodeParam(MODEL_CODE, schema);
}

/** Marks a stage param's schema as holding a dataset name. */
export function datasetParam<S extends Parameters<typeof namedCodeParam>[1]>(schema: S): S {
  return namedCodeParam(DATASET_CODE, schema);
}
