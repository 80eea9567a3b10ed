/**
 * Planning without running: for every stage instance, its key (when its inputs are known), whether
 * the run cache holds that key, and, when it must run, why - in words, by comparing with what the
 * lock file recorded last time. `status`, `show` and `run --dry-run` are views of this.
 */
import { PipelineError } from '../../errors.js';
import type { LockPipeline, LockStage, RunRecord, Store } from '../../store/index.js';
import { canonicalJson, deepEqual } from '../definition/canonical.js';
import { formatSite } from '../definition/callsite.js';
import { namedCodeOf } from '../definition/named-code.js';
import type { Fingerprinter } from './fingerprint.js';
import { runFileCheck } from './file-checks.js';
import { stageKey, type InputDigests } from './key.js';
import { refsOf, type LoadedPipeline } from './load.js';
import type { ArtifactRef, StageNode } from '../definition/pipeline.js';

export type StageState =
  /** The lock file records this key and the cache has its results. */
  | 'up-to-date'
  /** Not what the lock file records, but the run cache has it: restored without running. */
  | 'cached'
  /** Must run. */
  | 'stale';

export interface StagePlan {
  readonly node: StageNode;
  readonly fingerprint: string;
  /** Known when every input is known: external files, or upstream stages whose key is cached. */
  readonly inputs: InputDigests | undefined;
  readonly key: string | undefined;
  readonly record: RunRecord | undefined;
  readonly lock: LockStage | undefined;
  readonly state: StageState;
  readonly reasons: readonly string[];
}

export interface PipelinePlan {
  readonly pipeline: LoadedPipeline;
  readonly stages: ReadonlyMap<string, StagePlan>;
  /** Pipeline-level params that differ from the lock file's, in words (`param 'ks' changed: [] -> [0,3]`). */
  readonly paramChanges: readonly string[];
  /** Stage instances the lock file records that the pipeline no longer has (their results stay in the run cache). */
  readonly removed: readonly string[];
}

type OutputRef = Extract<ArtifactRef, { kind: 'output' }>;
type FileRef = Extract<ArtifactRef, { kind: 'file' }>;

/** Whether a stage reads an external file (`p.file`), whose digest takes I/O. */
export function readsFiles(node: StageNode): boolean {
  // (Without wrapping each single binding in an array: this runs for every stage of a plan.)
  for (const binding of Object.values(node.inputs)) {
    if (!Array.isArray(binding)) {
      if ((binding as ArtifactRef).kind !== 'output') return true;
    } else for (const ref of binding as readonly ArtifactRef[]) if (ref.kind !== 'output') return true;
  }
  return false;
}

/** A stage's input digests, given each artifact's; undefined while one is unknown. */
function inputDigestsOf(node: StageNode, digestOf: (ref: ArtifactRef) => string | undefined): InputDigests | undefined {
  const digests: InputDigests = {};
  let complete = true;
  for (const name of Object.keys(node.inputs)) {
    const binding = node.inputs[name]!;
    if (Array.isArray(binding)) {
      const list: string[] = [];
      for (const ref of binding as readonly ArtifactRef[]) {
        const d = digestOf(ref);
        if (d === undefined) complete = false;
        else list.push(d);
      }
      digests[name] = list;
    } else {
      const d = digestOf(binding as ArtifactRef);
      if (d === undefined) complete = false;
      else digests[name] = d;
    }
  }
  return complete ? digests : undefined;
}

/**
 * Digests of one stage's inputs, given how to find an upstream output's digest. Every external
 * file is checked first (it must exist, and pass its check), in the order of the bindings; an
 * upstream output's digest is known without waiting (a fully cached 1,000-stage run awaited
 * ~1,500 known digests one by one).
 */
export async function resolveInputs(node: StageNode, store: Store, outputDigest: (ref: OutputRef) => string | undefined): Promise<InputDigests | undefined> {
  const files = new Map<FileRef, string>();
  if (readsFiles(node)) {
    for (const binding of Object.values(node.inputs)) {
      for (const ref of (Array.isArray(binding) ? binding : [binding]) as readonly ArtifactRef[]) {
        if (ref.kind === 'file' && !files.has(ref)) files.set(ref, await fileDigest(node, ref, store));
      }
    }
  }
  return inputDigestsOf(node, (ref) => (ref.kind === 'output' ? outputDigest(ref) : files.get(ref)));
}

async function fileDigest(node: StageNode, ref: FileRef, store: Store): Promise<string> {
  const d = await store.fileDigests.digest(ref.path);
  if (d === undefined) {
    throw new PipelineError('INPUT_MISSING', `stage '${node.id}': input file ${ref.path} does not exist`, {
      where: formatSite(ref.site) ?? `stage ${node.id}`,
      hint: 'create the file or fix the path given to p.file()',
    });
  }
  if (ref.check) await runFileCheck(ref.path, d, ref.check, store);
  return d;
}

export function keyOf(node: StageNode, fingerprint: string, inputs: InputDigests): string {
  return stageKey({ stage: node.def.name, code: fingerprint, params: node.params.keyed, inputs });
}

/**
 * A cached record made with other effective params than asked for. Defaults are left out of the
 * key so that adding a param with a default keeps old results; this catches the other case, a
 * changed default value, which must not reuse results made with the old one.
 */
export function defaultDrift(node: StageNode, record: RunRecord): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(node.params.effective)) {
    if (k in record.params && !deepEqual(record.params[k], v)) {
      out.push(`the default of param '${k}' changed: ${show(record.params[k])} -> ${show(v)}`);
    }
  }
  return out;
}

/** A stage instance as far as its inputs are known: its key, and the run cache's usable result. */
export interface ResolvedInstance {
  readonly inputs: InputDigests | undefined;
  readonly key: string | undefined;
  /** The cached result, unless made under other default param values (then `drift` says which). */
  readonly record: RunRecord | undefined;
  readonly drift: readonly string[];
}

/**
 * The one path from a stage instance to its key and cached result, for planning (`status`, `show`,
 * `--dry-run`) and for running alike.
 */
export async function resolveInstance(
  node: StageNode,
  fingerprint: string,
  store: Store,
  outputDigest: (ref: Extract<ArtifactRef, { kind: 'output' }>) => string | undefined,
): Promise<ResolvedInstance> {
  return instanceOf(node, fingerprint, store, await resolveInputs(node, store, outputDigest));
}

/**
 * `resolveInstance` without waiting, for a stage that reads no external file (its inputs are
 * upstream outputs, whose digests are known): undefined for one that does, which resolveInstance
 * takes. A fully cached 1,000-stage run awaited two or three promises per stage for nothing.
 */
export function resolveInstanceNow(
  node: StageNode,
  fingerprint: string,
  store: Store,
  outputDigest: (ref: OutputRef) => string | undefined,
): ResolvedInstance | undefined {
  if (readsFiles(node)) return undefined;
  return instanceOf(node, fingerprint, store, inputDigestsOf(node, (ref) => outputDigest(ref as OutputRef)));
}

function instanceOf(node: StageNode, fingerprint: string, store: Store, inputs: InputDigests | undefined): ResolvedInstance {
  const key = inputs ? keyOf(node, fingerprint, inputs) : undefined;
  const found = key ? store.runs.getComplete(key) : undefined;
  const drift = found ? defaultDrift(node, found) : [];
  return { inputs, key, record: drift.length > 0 ? undefined : found, drift };
}

export async function planPipeline(pipeline: LoadedPipeline, store: Store, fingerprinter: Fingerprinter, lock: LockPipeline | undefined): Promise<PipelinePlan> {
  const stages = new Map<string, StagePlan>();
  for (const node of pipeline.order) {
    const fingerprint = fingerprinter.ofNodeNow(node) ?? (await fingerprinter.ofNode(node));
    const outputDigest = (ref: Extract<ArtifactRef, { kind: 'output' }>): string | undefined => stages.get(ref.stageId)?.record?.outputs[ref.output]?.digest;
    const { inputs, key, record, drift } = resolveInstanceNow(node, fingerprint, store, outputDigest) ?? (await resolveInstance(node, fingerprint, store, outputDigest));
    const lockEntry = lock?.stages[node.id];
    let state: StageState;
    let reasons: string[];
    if (record) {
      state = lockEntry?.key === key ? 'up-to-date' : 'cached';
      reasons = state === 'cached' ? [restoredBecause(record, lockEntry ? whyChanged(node, fingerprint, inputs, lockEntry, stages) : [])] : [];
    } else {
      state = 'stale';
      reasons = [...drift, ...whyChanged(node, fingerprint, inputs, lockEntry, stages)];
      if (reasons.length === 0) reasons = [lockEntry && lockEntry.key === key ? 'its results are not in this cache' : 'not computed yet'];
    }
    stages.set(node.id, { node, fingerprint, inputs, key, record, lock: lockEntry, state, reasons });
  }
  await fingerprinter.save();
  const paramChanges = lock ? diffValues(lock.params, pipeline.params).map((d) => `pipeline ${d}`) : [];
  const removed = lock ? Object.keys(lock.stages).filter((id) => !pipeline.nodes.has(id)) : [];
  return { pipeline, stages, paramChanges, removed };
}

/** Why a cached result is taken instead of what the lock file records, plainly. */
function restoredBecause(record: RunRecord, changes: string[]): string {
  const when = `computed ${record.startedAt.slice(0, 16).replace('T', ' ')} UTC on ${record.host}`;
  return changes.length > 0 ? `restored from the run cache (${changes.join('; ')}): ${when}` : `restored from the run cache, not in the lock file: ${when}`;
}

/** `param 'k' changed: a -> b`, `is new`, `was removed`, for every key of either side. */
function diffValues(before: Readonly<Record<string, unknown>>, after: Readonly<Record<string, unknown>>): string[] {
  const out: string[] = [];
  for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (!(k in after)) out.push(`param '${k}' was removed`);
    else if (!(k in before)) out.push(`param '${k}' is new (${show(after[k])})`);
    else if (!deepEqual(before[k], after[k])) out.push(`param '${k}' changed: ${show(before[k])} -> ${show(after[k])}`);
  }
  return out;
}

/** What differs from the lock file's record of this stage instance, in words. */
function whyChanged(node: StageNode, fingerprint: string, inputs: InputDigests | undefined, lock: LockStage | undefined, plans: ReadonlyMap<string, StagePlan>): string[] {
  const reasons: string[] = [];
  if (!lock) return ['never run'];
  if (lock.stage !== node.def.name) reasons.push(`now an instance of stage '${node.def.name}' (was '${lock.stage}')`);
  if (lock.code !== fingerprint) {
    const named = namedCodeOf(node.def.schema, node.params.effective).map((n) => `${n.kind} '${n.name}'`);
    reasons.push(`the code of '${node.def.name}'${named.length > 0 ? ` or of what it uses (${named.join(', ')})` : ''} changed`);
  }
  reasons.push(...diffValues(lock.params, node.params.effective));
  for (const { input, ref } of refsOf(node)) {
    const was = lock.inputs[input];
    const now = inputs?.[input];
    if (now === undefined) {
      if (ref.kind === 'output') {
        const up = plans.get(ref.stageId);
        if (up && up.state === 'stale') reasons.push(`input '${input}' comes from '${ref.stageId}', which must run first`);
      }
    } else if (!deepEqual(was, now)) {
      reasons.push(`input '${input}' changed (${ref.kind === 'output' ? `from '${ref.stageId}'` : ref.path})`);
    }
  }
  // An input list that lost or gained every file (a dataset found on one machine, not on this one).
  for (const [input, was] of Object.entries(lock.inputs)) {
    const now = inputs?.[input];
    if (Array.isArray(was) && Array.isArray(now) && (was.length === 0) !== (now.length === 0)) {
      reasons.push(`input '${input}' had ${was.length} file(s), now ${now.length}`);
    }
  }
  return [...new Set(reasons)];
}

function show(v: unknown): string {
  const s = canonicalJson(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}
