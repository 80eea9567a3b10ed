/**
 * `defineStage`: a named, typed unit of work. Its params schema validates and keys the params;
 * its `run` (and the project code it calls) is fingerprinted; its inputs are artifacts of other
 * stages, and it writes its outputs as files that become immutable artifacts.
 */
import { z } from 'zod';
import { PipelineError } from '../../errors.js';
import type { JsonValue } from '../../store/index.js';
import { callerSite, formatSite, type CallSite } from './callsite.js';
import type { ParamsSchema } from './params.js';
import { resolveResources, type ResolvedResources, type StageResources } from './resources.js';

export type { StageResources };

export type { JsonValue };
export type Metrics = Record<string, JsonValue>;


export interface StageProgress {
  /** 0..1 */
  fraction?: number;
  message?: string;
}

export interface StageContext<P, I extends string = string, O extends string = string> {
  /** The stage instance id in the pipeline (the first instance that asked for this key). */
  readonly id: string;
  readonly key: string;
  readonly params: P;
  /** Path of the (read-only) artifact bound to input `name`. */
  input(name: I): string;
  /** Paths of the artifacts bound to a list-valued input. */
  inputList(name: I): string[];
  /** Path where the stage must write output `name` (a file). */
  output(name: O): string;
  writeJson(name: O, value: unknown): Promise<void>;
  writeText(name: O, text: string): Promise<void>;
  /** Scratch directory, removed after the stage. */
  readonly workDir: string;
  /** Cores the scheduler counted for this execution (the stage's `resources.cpu`): use this many threads. */
  readonly cpus: number;
  progress(p: StageProgress): void;
  log(message: string): void;
  /** Adds facts to the run's provenance (backend, library versions, ...). */
  provenance(info: Record<string, JsonValue>): void;
  /** Aborted on Ctrl-C: long loops should check it. */
  readonly signal: AbortSignal;
}

export type Isolation = 'process' | 'inline';

export interface StageSpec<P extends ParamsSchema, I extends string, O extends string> {
  name: string;
  description?: string;
  params?: P;
  inputs?: readonly I[];
  /** Output file names, or a function of the params for outputs that depend on them. */
  outputs?: readonly O[] | ((params: z.output<P>) => readonly string[]);
  resources?: StageResources;
  /**
   * 'process' (default): a child process of its own, so that stages run in parallel, a crash
   * stays contained and memory goes back to the system. 'inline': in the scheduler's process,
   * for trivial stages.
   */
  isolation?: Isolation;
  /** Bump to invalidate old results by hand (e.g. after changing a param's default). */
  version?: number;
  /** Returns metrics (JSON), stored as the output `metrics`. */
  run(ctx: StageContext<z.output<P>, I, O>): Promise<Metrics | void> | Metrics | void;
}

export interface StageDefinition<P extends ParamsSchema = ParamsSchema, I extends string = string, O extends string = string> {
  readonly kind: 'stage';
  readonly name: string;
  readonly description: string | undefined;
  readonly schema: P;
  readonly inputs: readonly I[];
  readonly outputs: readonly O[] | ((params: z.output<P>) => readonly string[]);
  readonly resources: ResolvedResources;
  readonly isolation: Isolation;
  readonly version: number;
  readonly run: StageSpec<P, I, O>['run'];
  /** Where `defineStage` was called: the fingerprint starts there, child processes import it. */
  readonly site: CallSite;
}

/** What a stage name may be (it also names run records and queue jobs). */
export const STAGE_NAME = /^[A-Za-z][A-Za-z0-9_.-]*$/;

/** Output name under which a stage's returned metrics are stored. */
export const METRICS_OUTPUT = 'metrics';

const registry = new Map<string, StageDefinition>();

export function defineStage<P extends ParamsSchema = z.ZodObject<{}>, const I extends string = never, const O extends string = string>(
  spec: StageSpec<P, I, O>,
): StageDefinition<P, I, O> {
  const site = callerSite();
  if (!site) throw new PipelineError('INTERNAL', `defineStage('${spec.name}'): cannot tell which file defines it`);
  if (!STAGE_NAME.test(spec.name)) {
    throw new PipelineError('PIPELINE_INVALID', `stage name '${spec.name}' must start with a letter and use only letters, digits, '_', '.', '-'`, { where: formatSite(site) });
  }
  const previous = registry.get(spec.name);
  if (previous && previous.site.file !== site.file) {
    throw new PipelineError('PIPELINE_INVALID', `two stages are named '${spec.name}'`, {
      where: formatSite(site),
      hint: `the other is defined at ${formatSite(previous.site)}; stage names must be unique`,
    });
  }
  const schema = (spec.params ?? z.object({})) as P;
  const clash = (spec.inputs ?? []).filter((i) => i in (schema.shape as Record<string, unknown>));
  if (clash.length > 0) {
    // p.stage() takes params and inputs in one object: a shared name would silently be an input.
    throw new PipelineError('PIPELINE_INVALID', `stage '${spec.name}': ${clash.map((c) => `'${c}'`).join(', ')} is both an input and a param`, {
      where: formatSite(site),
      hint: 'rename the input or the param',
    });
  }
  const outputs = spec.outputs ?? [];
  if (Array.isArray(outputs)) {
    const problem = outputNamesProblem(outputs);
    if (problem) throw new PipelineError('PIPELINE_INVALID', `stage '${spec.name}': ${problem}`, { where: formatSite(site), hint: OUTPUT_NAME_HINT });
  }
  const def: StageDefinition<P, I, O> = {
    kind: 'stage',
    name: spec.name,
    description: spec.description,
    schema,
    inputs: spec.inputs ?? [],
    outputs,
    resources: resolveResources(spec.resources, `stage '${spec.name}'`, formatSite(site)),
    isolation: spec.isolation ?? 'process',
    version: spec.version ?? 0,
    run: spec.run,
    site,
  };
  registry.set(spec.name, def as unknown as StageDefinition);
  return def;
}

export function lookupStage(name: string): StageDefinition | undefined {
  return registry.get(name);
}

/** The output names of a stage instance with these params (checked by `outputNamesProblem` where they are made). */
export function outputsOf(def: StageDefinition, params: unknown): readonly string[] {
  return typeof def.outputs === 'function' ? def.outputs(params as never) : def.outputs;
}

/**
 * An output name is a plain file name: it becomes a file in the stage's output folder, and a name
 * taken from a param (`--set w.name=../../x`) must not become a path out of it. 255 bytes is the
 * usual file-name limit.
 */
export function outputNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string' || name === '') return `output name ${JSON.stringify(name) ?? String(name)} is not a non-empty string`;
  const shown = JSON.stringify(name);
  if (name === '.' || name === '..') return `output name ${shown} is not a file name`;
  if (/[/\\]/.test(name)) return `output name ${shown} contains a path separator`;
  if (/[\u0000-\u001f\u007f]/.test(name)) return `output name ${shown} contains a control character`;
  if (Buffer.byteLength(name) > 255) return `output name ${shown.slice(0, 40)}... is longer than 255 bytes`;
  if (name === METRICS_OUTPUT) return `the output name '${METRICS_OUTPUT}' is reserved for returned metrics`;
  return undefined;
}

/** The first problem of a list of output names (each a plain file name, no two alike), if any. */
export function outputNamesProblem(names: unknown): string | undefined {
  if (!Array.isArray(names)) return 'the outputs are not a list of names';
  for (const n of names) {
    const problem = outputNameProblem(n);
    if (problem) return problem;
  }
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  return dup === undefined ? undefined : `output name ${JSON.stringify(dup)} is declared twice`;
}

export const OUTPUT_NAME_HINT = "output names become file names in the stage's output folder: use a plain name such as 'model.safetensors' (no '/', '\\', '..' or control characters)";
