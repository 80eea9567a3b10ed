/**
 * `definePipeline`: a function that builds a DAG of stage instances. Artifacts of one stage are
 * the inputs of the next; sweeps are loops (or `p.sweep`) over parameter grids; pipeline-level
 * params are overridable from the command line with `--set key=value`.
 */
import { isAbsolute, resolve, dirname } from 'node:path';
import type { z } from 'zod';
import { PipelineError } from '../../errors.js';
import { checkIdSegment } from './stage-id.js';
import { callerSite, formatSite, lazyCallerSite, type CallSite } from './callsite.js';
import { validateParams, type ParamsSchema, type ValidatedParams } from './params.js';
import { METRICS_OUTPUT, OUTPUT_NAME_HINT, outputNamesProblem, outputsOf, type StageDefinition } from './stage.js';
import { projectRoot } from './project.js';

/** An artifact: one output file of a stage instance, or a file outside the pipeline. */
export type ArtifactRef =
  | { readonly kind: 'output'; readonly stageId: string; readonly output: string; readonly site: CallSite | undefined }
  | { readonly kind: 'file'; readonly path: string; readonly site: CallSite | undefined; readonly check?: FileCheck };

/**
 * A check of an external input file (`p.file(path, { check })`), run while the plan is made,
 * before anything runs; a file that fails it stops the run with the check's error. It runs once
 * per (check id, path, content digest): a passed check is remembered in the cache's meta folder.
 */
export interface FileCheck {
  /** Names the check and everything it depends on besides the file (e.g. `dataset-file:v1:idx:10`). */
  readonly id: string;
  /** Resolves when the file is usable; else throws a PipelineError (a user error, exit 2). */
  run(path: string): Promise<void>;
}

export type InputBinding = ArtifactRef | readonly ArtifactRef[];

export interface StageHandle<O extends string = string> {
  readonly id: string;
  readonly stage: string;
  /** The artifact `name` of this stage instance. */
  out(name: O | typeof METRICS_OUTPUT): ArtifactRef;
}

export interface StageNode {
  readonly id: string;
  readonly def: StageDefinition;
  readonly params: ValidatedParams;
  readonly inputs: Readonly<Record<string, InputBinding>>;
  readonly outputs: readonly string[];
  readonly site: CallSite | undefined;
}

/**
 * A stage without params has the input type of an empty zod object, an index signature of
 * `never` that would make every input binding `never` too: it takes no params instead.
 */
type ParamsInput<P extends ParamsSchema> = string extends keyof z.input<P> ? {} : z.input<P>;

export type StageArgs<P extends ParamsSchema, I extends string> = ParamsInput<P> & { [K in I]: InputBinding };

export interface StageOptions {
  /** The instance id (default: the stage name), prefixed by the enclosing scopes. */
  id?: string;
}

export interface PipelineBuilder {
  stage<P extends ParamsSchema, I extends string, O extends string>(def: StageDefinition<P, I, O>, args: StageArgs<P, I>, opts?: StageOptions): StageHandle<O>;
  /** A file outside the cache (a dataset, a config): its content digest enters the keys; `check` vets it before anything runs. */
  file(path: string, opts?: { check?: FileCheck }): ArtifactRef;
  /** A reference to an output of a stage instance by id, resolved after the whole graph is built. */
  ref(stageId: string, output: string): ArtifactRef;
  /** Runs `body` with every stage id prefixed by `name/`. */
  scope<T>(name: string, body: () => T): T;
  /** Calls `body` once per point of the grid's cartesian product, each in a scope `k:v,k2:v2`. */
  sweep<G extends Record<string, readonly unknown[]>>(grid: G, body: (point: { [K in keyof G]: G[K][number] }) => void): void;
  /** Something the user should know about the pipeline as built (shown by `status` and `run`). */
  note(message: string): void;
  /**
   * The project's root folder, found from the pipeline file: the nearest folder above it with a
   * `pipeline.config.yaml`, else with a `package.json`. The cache and the lock file live there.
   */
  readonly projectRoot: string;
}

export type PipelineParams = Record<string, unknown>;

export interface PipelineSpec<C extends PipelineParams> {
  name: string;
  description?: string;
  /** Defaults of the pipeline-level params (`--set key=value` overrides them). */
  params?: C;
}

export interface PipelineDefinition<C extends PipelineParams = PipelineParams> {
  readonly kind: 'pipeline';
  readonly name: string;
  readonly description: string | undefined;
  readonly params: C;
  readonly build: (p: PipelineBuilder, cfg: C) => void;
  readonly site: CallSite | undefined;
}

export function definePipeline<C extends PipelineParams = {}>(spec: PipelineSpec<C>, build: (p: PipelineBuilder, cfg: C) => void): PipelineDefinition<C> {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(spec.name)) {
    throw new PipelineError('PIPELINE_INVALID', `pipeline name '${spec.name}' must use only letters, digits, '_', '.', '-'`, { where: formatSite(callerSite()) });
  }
  return { kind: 'pipeline', name: spec.name, description: spec.description, params: (spec.params ?? {}) as C, build, site: callerSite() };
}

export function isPipelineDefinition(x: unknown): x is PipelineDefinition {
  return typeof x === 'object' && x !== null && (x as { kind?: unknown }).kind === 'pipeline';
}

/** A `--set` override of one stage instance's param, applied while the graph is built. */
export interface StageOverride {
  stageId: string;
  param: string;
  apply(def: StageDefinition, current: Record<string, unknown>): Record<string, unknown>;
  used: boolean;
}

/** Sites of what the user adds: a library helper's frames are passed over (see callsite.ts). */
const USER_CODE = { userCode: true } as const;

/** Collects stage instances while the user's build function runs. */
export class GraphBuilder implements PipelineBuilder {
  readonly nodes = new Map<string, StageNode>();
  readonly notes: string[] = [];
  private readonly scopes: string[] = [];
  /** `scopes` joined, each followed by '/': the prefix of an id made now. */
  private prefix = '';
  private root: string | undefined;

  constructor(
    private readonly pipelineFile: string,
    private readonly overrides: readonly StageOverride[] = [],
  ) {}

  stage<P extends ParamsSchema, I extends string, O extends string>(def: StageDefinition<P, I, O>, args: StageArgs<P, I>, opts: StageOptions = {}): StageHandle<O> {
    const site = lazyCallerSite(USER_CODE);
    const where = (): string | undefined => formatSite(site());
    if (!def || (def as { kind?: unknown }).kind !== 'stage') {
      throw new PipelineError('PIPELINE_INVALID', 'p.stage() takes a stage made with defineStage() as its first argument', { where: where() });
    }
    const localId = opts.id ?? def.name;
    checkIdSegment(localId, 'stage id', where);
    const id = this.prefix + String(localId);
    const existing = this.nodes.get(id);
    if (existing) {
      throw new PipelineError('DUPLICATE_ID', `two stage instances have the id '${id}'`, {
        where: where(),
        hint: `the first is at ${formatSite(existing.site) ?? '(unknown)'}; give one of them another id: p.stage(${def.name}, {...}, { id: '...' })`,
      });
    }
    // No Set of input names, id joined or message label made per call (the prefix is kept by
    // scope(); checkBinding words its message only when it throws): ~2 ms of CPU for 1,000 stages.
    const inputs: Record<string, InputBinding> = {};
    let params: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(args as Record<string, unknown>)) {
      if (def.inputs.includes(k as I)) inputs[k] = checkBinding(v, id, k, where);
      else params[k] = v;
    }
    const missing = def.inputs.filter((k) => !(k in inputs));
    if (missing.length > 0) {
      throw new PipelineError('INPUT_MISSING', `${id}: input ${missing.map((k) => `'${k}'`).join(', ')} of stage '${def.name}' is not bound`, {
        where: where(),
        hint: `pass an artifact, e.g. { ${missing[0]}: upstream.out('name') }`,
      });
    }
    for (const o of this.overrides) {
      if (o.stageId === id) {
        params = o.apply(def as unknown as StageDefinition, params);
        o.used = true;
      }
    }
    const validated = validateParams(def.schema, params, `stage '${id}' (${def.name})`, where);
    let outputs: readonly string[];
    try {
      outputs = outputsOf(def as unknown as StageDefinition, validated.effective);
    } catch (e) {
      throw new PipelineError('PIPELINE_INVALID', `${id}: computing the outputs of '${def.name}' failed: ${(e as Error).message}`, { where: where(), cause: e });
    }
    // Names that a function of the params derives are checked here, once, before anything runs
    // (declared lists were checked by defineStage).
    const outputsProblem = typeof def.outputs === 'function' ? outputNamesProblem(outputs) : undefined;
    if (outputsProblem) {
      throw new PipelineError('PARAM_INVALID', `stage '${id}' (${def.name}): ${outputsProblem}, made from its params`, {
        where: where() ?? `stage ${id}`,
        hint: `${OUTPUT_NAME_HINT}; fix the param that names it (in the pipeline file or --set ${id}.<param>=...)`,
      });
    }
    this.nodes.set(id, new Instance(id, def as unknown as StageDefinition, validated, inputs, [...outputs, METRICS_OUTPUT], site));
    return {
      id,
      stage: def.name,
      out: (name) => {
        const outSite = lazyCallerSite(USER_CODE);
        if (!outputs.includes(name) && name !== METRICS_OUTPUT) {
          throw new PipelineError('INPUT_MISSING', `stage '${id}' (${def.name}) has no output '${name}'`, {
            where: formatSite(outSite()),
            hint: `its outputs: ${[...outputs, METRICS_OUTPUT].join(', ')}`,
          });
        }
        return new OutputRef(id, name, outSite);
      },
    };
  }

  file(path: string, opts: { check?: FileCheck } = {}): ArtifactRef {
    const abs = isAbsolute(path) ? path : resolve(dirname(this.pipelineFile), path);
    const ref = new FileRef(abs, lazyCallerSite(USER_CODE));
    // Not enumerable, as `site`: a ref stays plain data wherever it is serialised.
    if (opts.check) Object.defineProperty(ref, 'check', { value: opts.check, enumerable: false });
    return ref;
  }

  ref(stageId: string, output: string): ArtifactRef {
    return new OutputRef(stageId, output, lazyCallerSite(USER_CODE));
  }

  scope<T>(name: string, body: () => T): T {
    checkIdSegment(name, 'scope name', () => formatSite(lazyCallerSite(USER_CODE)()));
    this.scopes.push(name);
    this.prefix = `${this.scopes.join('/')}/`;
    try {
      return body();
    } finally {
      this.scopes.pop();
      this.prefix = this.scopes.length === 0 ? '' : `${this.scopes.join('/')}/`;
    }
  }

  note(message: string): void {
    if (!this.notes.includes(message)) this.notes.push(message);
  }

  get projectRoot(): string {
    return (this.root ??= projectRoot(dirname(this.pipelineFile)));
  }

  sweep<G extends Record<string, readonly unknown[]>>(grid: G, body: (point: { [K in keyof G]: G[K][number] }) => void): void {
    const keys = Object.keys(grid);
    const points: Array<Record<string, unknown>> = [{}];
    for (const k of keys) {
      const next: Array<Record<string, unknown>> = [];
      for (const pt of points) for (const v of grid[k]!) next.push({ ...pt, [k]: v });
      points.splice(0, points.length, ...next);
    }
    for (const pt of points) {
      const name = keys.map((k) => `${k}:${typeof pt[k] === 'object' ? JSON.stringify(pt[k]) : String(pt[k])}`).join(',');
      this.scope(name, () => body(pt as { [K in keyof G]: G[K][number] }));
    }
  }
}

/**
 * A call site worked out only if an error message asks for it, through a getter on the prototype:
 * stage instances and refs are classes of this, not object literals with a getter of their own
 * (V8 keeps such a literal's properties in a dictionary and gives each object its own map: slow to
 * make and megamorphic wherever nodes and refs are read; ~5 and ~6 ms of CPU in building a
 * 1,000-stage sweep). Their own properties stay their plain data (a ref's `kind` first).
 */
abstract class LazySite {
  readonly #site: () => CallSite | undefined;

  constructor(site: () => CallSite | undefined) {
    this.#site = site;
  }

  get site(): CallSite | undefined {
    return this.#site();
  }
}

class Instance extends LazySite implements StageNode {
  constructor(
    readonly id: string,
    readonly def: StageDefinition,
    readonly params: ValidatedParams,
    readonly inputs: Readonly<Record<string, InputBinding>>,
    readonly outputs: readonly string[],
    site: () => CallSite | undefined,
  ) {
    super(site);
  }
}

class OutputRef extends LazySite {
  readonly kind = 'output';
  readonly stageId: string;
  readonly output: string;

  constructor(stageId: string, output: string, site: () => CallSite | undefined) {
    super(site);
    this.stageId = stageId;
    this.output = output;
  }
}

class FileRef extends LazySite {
  readonly kind = 'file';
  readonly path: string;
  declare readonly check?: FileCheck;

  constructor(path: string, site: () => CallSite | undefined) {
    super(site);
    this.path = path;
  }
}

const isRef = (x: unknown): x is ArtifactRef =>
  typeof x === 'object' && x !== null && ((x as ArtifactRef).kind === 'output' || (x as ArtifactRef).kind === 'file');

function checkBinding(v: unknown, id: string, input: string, where: () => string | undefined): InputBinding {
  if (isRef(v)) return v;
  if (Array.isArray(v) && v.every(isRef)) return v;
  throw new PipelineError('PIPELINE_INVALID', `${id}: input '${input}' must be an artifact (stage.out('name'), p.file(path) or p.ref(id, output)) or a list of them`, { where: where() });
}
