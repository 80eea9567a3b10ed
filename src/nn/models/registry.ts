/**
 * The model registry: from a name to a network. The one home of the model vocabulary: stage params
 * (src/lth) validate names with {@link modelNameProblem}, stages build with {@link createModel}.
 *
 * A name is, in this order:
 * - a network a project registered ({@link registerModel}; the public `defineModel` wraps it);
 * - one of {@link MODEL_NAMES}, the networks of the Lottery Ticket papers this project had first;
 * - a parameterized name in open_lth's spelling ({@link MODEL_FAMILIES}): `mnist_lenet_300_100`,
 *   `cifar_conv_6`, `cifar_resnet_56_32`, `cifar_vgg_11`; and the grokking papers' networks on
 *   modular arithmetic, `modular_mlp_97`, `modular_transformer_113` (./grokking.ts).
 * `lenet300100`, `conv2/4/6` and `resnet20` are the same networks, with the same weights, as
 * `mnist_lenet_300_100`, `cifar_conv_2/4/6` and `cifar_resnet_20`; `vgg16`/`vgg19` differ from
 * `cifar_vgg_16`/`cifar_vgg_19` (no conv bias: ./vgg.ts).
 */
import { PipelineError } from '../../errors.js';
import { convNet, CIFAR_CONV } from './conv.js';
import type { ModelFamily } from './family.js';
import { MODULAR_MLP, MODULAR_TRANSFORMER } from './grokking.js';
import { lenet, MNIST_LENET } from './lenet.js';
import { buildModel, type Model, type ModelDefinition, type ModelOptions } from './model.js';
import { cifarResnet, CIFAR_RESNET } from './resnet.js';
import { vgg, CIFAR_VGG } from './vgg.js';

export const MODEL_NAMES = ['lenet300100', 'conv2', 'conv4', 'conv6', 'resnet20', 'vgg16', 'vgg19'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

const BUILTIN: Readonly<Record<ModelName, () => ModelDefinition>> = {
  lenet300100: () => lenet('lenet300100', [300, 100]),
  conv2: () => convNet('conv2', 2),
  conv4: () => convNet('conv4', 4),
  conv6: () => convNet('conv6', 6),
  resnet20: () => cifarResnet('resnet20', 20),
  vgg16: () => vgg('vgg16', 16, { convBias: false }),
  vgg19: () => vgg('vgg19', 19, { convBias: false }),
};

/** The parameterized names, in open_lth's spelling. */
export const MODEL_FAMILIES: readonly ModelFamily[] = [MNIST_LENET, CIFAR_CONV, CIFAR_RESNET, CIFAR_VGG, MODULAR_MLP, MODULAR_TRANSFORMER];

/** Where a registered model was defined: `where` for messages (`file:line`), `file` to tell two definitions apart. */
export interface ModelSource {
  where?: string;
  file?: string;
}

const registered = new Map<string, { definition: ModelDefinition; source: ModelSource }>();

const NAME = /^[A-Za-z][A-Za-z0-9_.-]*$/;

function isBuiltin(name: string): name is ModelName {
  return Object.hasOwn(BUILTIN, name);
}

function familyOf(name: string): ModelFamily | undefined {
  return MODEL_FAMILIES.find((f) => name.startsWith(f.prefix));
}

/**
 * Registers a project's network under its name. Built-in names and names of the built-in
 * families are taken; defining a name again from the same file replaces it (a module imported
 * again), from another file is an error. The network is built once here, so a definition whose
 * layers do not fit is reported where it is made.
 * @throws PipelineError PIPELINE_INVALID
 */
export function registerModel(definition: ModelDefinition, source: ModelSource = {}): void {
  const where = source.where;
  const fail = (message: string, hint?: string): never => {
    throw new PipelineError('PIPELINE_INVALID', message, { ...(where ? { where } : {}), ...(hint ? { hint } : {}) });
  };
  const name: unknown = definition?.name;
  if (typeof name !== 'string' || !NAME.test(name)) fail(`model name ${JSON.stringify(name)} must start with a letter and use only letters, digits, '_', '.', '-'`);
  const n = name as string;
  if (isBuiltin(n)) fail(`'${n}' is a built-in model and cannot be redefined`, 'give your model another name');
  const family = familyOf(n);
  if (family) fail(`model names starting with '${family.prefix}' are the built-in ${family.pattern}`, 'give your model another name');
  if (typeof definition.build !== 'function') fail(`model '${n}' needs a build(l) function that returns its layers`);
  const previous = registered.get(n);
  if (previous && previous.source.file !== source.file) {
    fail(`two models are named '${n}'`, `the other is defined at ${previous.source.where ?? previous.source.file ?? '?'}; model names must be unique`);
  }
  buildModel(definition, {}, where);
  registered.set(n, { definition, source });
}

/** Forgets a registered model (tests). */
export function unregisterModel(name: string): boolean {
  return registered.delete(name);
}

/** The networks of a name, or why there is none. */
function lookup(name: string): { definition: ModelDefinition; where?: string } | { problem: string } {
  const own = registered.get(name);
  if (own) return { definition: own.definition, ...(own.source.where ? { where: own.source.where } : {}) };
  if (isBuiltin(name)) return { definition: BUILTIN[name]() };
  const family = familyOf(name);
  if (family) {
    const parsed = family.parse(name);
    return 'problem' in parsed ? { problem: `model '${name}' is not a valid ${family.pattern}: ${parsed.problem}` } : { definition: parsed };
  }
  return { problem: unknownModelMessage(name) };
}

/** "unknown model 'x'" with what exists: the one message for every caller. */
export function unknownModelMessage(name: unknown): string {
  const own = [...registered.keys()];
  return (
    `unknown model ${JSON.stringify(name)}: the models are ${[...MODEL_NAMES, ...own].join(', ')}, ` +
    `and by name ${MODEL_FAMILIES.map((f) => f.pattern).join(', ')}; ` +
    'define your own with defineModel({ name, inputShape, numClasses, build }) at the top level of the pipeline file or a module it imports'
  );
}

/** Why `name` names no model (unknown, or a family's name with invalid parameters); undefined if it names one. */
export function modelNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return `a model name is a string, got ${JSON.stringify(name)}`;
  const found = lookup(name);
  return 'problem' in found ? found.problem : undefined;
}

/** Build a model by name. Throws PARAM_INVALID for an unknown name or bad option. */
export function createModel(name: string, opts: ModelOptions = {}): Model {
  const found = lookup(name);
  if ('problem' in found) throw new PipelineError('PARAM_INVALID', found.problem, { where: `model ${name}` });
  return buildModel(found.definition, opts, found.where);
}
