/**
 * A pipeline's results and a remote store: what a pulled record of a stage instance must be (its
 * key is only known from the plan, and the record must agree with the plan: ../../store/remote/
 * untrusted.ts), and `pipeline pull <pipeline.ts>`: walking the plan in dependency order, pulling
 * each key the remote holds, so that the keys of the stages after it become known.
 */
import PQueue from 'p-queue';
import type { RunRecord, Store } from '../../store/index.js';
import type { RecordExpectation, RemoteStore } from '../../store/remote/index.js';
import { pullRun } from '../../store/remote/transfer.js';
import { METRICS_OUTPUT } from '../definition/stage.js';
import type { StageNode } from '../definition/pipeline.js';
import type { Fingerprinter } from './fingerprint.js';
import type { InputDigests } from './key.js';
import { refsOf, type LoadedPipeline } from './load.js';
import { defaultDrift, resolveInstance } from './plan.js';

/**
 * What the asking side knows of a key: a remote record of that key must be a result of this
 * stage, code, inputs and params, with exactly its outputs (and the metrics output), and metrics
 * that are the content of its metrics object. Used by runs, `pull`, and queue workers alike.
 */
export function remoteExpectation(parts: { stage: string; codeFingerprint: string; inputs: InputDigests; params: unknown; outputs: readonly string[] }): Omit<RecordExpectation, 'key'> {
  return {
    stage: parts.stage,
    codeFingerprint: parts.codeFingerprint,
    inputs: parts.inputs,
    params: parts.params as NonNullable<RecordExpectation['params']>,
    outputNames: [...new Set([...parts.outputs, METRICS_OUTPUT])],
    metricsOutput: METRICS_OUTPUT,
  };
}

/** `remoteExpectation` of a planned stage instance. */
export function nodeExpectation(node: StageNode, fingerprint: string, inputs: InputDigests): Omit<RecordExpectation, 'key'> {
  return remoteExpectation({ stage: node.def.name, codeFingerprint: fingerprint, inputs, params: node.params.effective, outputs: node.outputs });
}

export interface PipelinePullReport {
  /** Stage ids whose results came from the remote. */
  pulled: string[];
  /** Stage ids whose results the local cache had. */
  present: string[];
  /** Stage ids the remote could not provide (with why); they would be computed by a run. */
  missing: Array<{ id: string; reason: string }>;
  bytesPulled: number;
  /** The key of every stage instance whose key is known. */
  keys: Record<string, string>;
}

/** Pulls every stage instance of the pipeline that the remote holds, in dependency order. */
export async function pullPipeline(
  pipeline: LoadedPipeline,
  store: Store,
  fingerprinter: Fingerprinter,
  remote: RemoteStore,
  opts: { concurrency?: number; onProgress?: (p: { done: number; total: number; bytes: number }) => void } = {},
): Promise<PipelinePullReport> {
  const report: PipelinePullReport = { pulled: [], present: [], missing: [], bytesPulled: 0, keys: {} };
  const fingerprints = new Map<StageNode, string>();
  for (const node of pipeline.order) fingerprints.set(node, fingerprinter.ofNodeNow(node) ?? (await fingerprinter.ofNode(node)));
  await fingerprinter.save();
  const queue = new PQueue({ concurrency: opts.concurrency ?? 8 });
  const results = new Map<string, Promise<RunRecord | undefined>>();
  let done = 0;
  const total = pipeline.order.length;
  opts.onProgress?.({ done, total, bytes: 0 });
  const settle = <T>(value: T): T => {
    opts.onProgress?.({ done: ++done, total, bytes: report.bytesPulled });
    return value;
  };
  const one = async (node: StageNode): Promise<RunRecord | undefined> => {
    const upstream = new Map<string, RunRecord | undefined>();
    for (const { ref } of refsOf(node)) if (ref.kind === 'output' && !upstream.has(ref.stageId)) upstream.set(ref.stageId, await results.get(ref.stageId));
    const fingerprint = fingerprints.get(node)!;
    const instance = await resolveInstance(node, fingerprint, store, (ref) => upstream.get(ref.stageId)?.outputs[ref.output]?.digest);
    if (instance.key) report.keys[node.id] = instance.key;
    if (instance.record) {
      report.present.push(node.id);
      return settle(instance.record);
    }
    if (!instance.key || !instance.inputs) {
      report.missing.push({ id: node.id, reason: 'an input comes from a stage whose results are not available' });
      return settle(undefined);
    }
    const key = instance.key;
    const inputs = instance.inputs;
    const record = await queue.add(() => pullRun(remote, key, store, nodeExpectation(node, fingerprint, inputs)));
    if (!record || defaultDrift(node, record).length > 0) {
      report.missing.push({ id: node.id, reason: record ? 'the remote result was made under other default params' : 'not in the remote store' });
      return settle(undefined);
    }
    report.pulled.push(node.id);
    report.bytesPulled += Object.values(record.outputs).reduce((a, o) => a + o.size, 0);
    return settle(record);
  };
  for (const node of pipeline.order) results.set(node.id, one(node));
  await Promise.all(results.values());
  return report;
}
