/**
 * What the host (planning and scheduling, in the `pipeline` process) and the runner (what
 * executes one stage: here, in a child process, or in a queue worker on another machine)
 * exchange. Plain data only: every type here crosses a process boundary, and what comes from a
 * queue is untrusted input: `queueJobSchema` and the signature below are how a worker checks it
 * (src/engine/runner/job-check.ts).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { isAbsolute, normalize } from 'node:path';
import { z } from 'zod';
import { hexDigestSchema, jsonValueSchema } from '../store/index.js';
import { canonicalJson } from './definition/canonical.js';
import { outputNamesProblem, STAGE_NAME, type JsonValue, type Metrics, type StageProgress } from './definition/stage.js';

/** Input name -> the digest (or list of digests) of what is bound to it: part of the key. */
export type InputDigests = Record<string, string | string[]>;

/** One input binding: a stage output (by digest) or an external file (its own path). */
export type BoundInput = { list: boolean; items: Array<{ digest: string; path?: string }> };

/**
 * One stage key to compute: what the scheduler hands to the runner here, and, with the module
 * relative to the project root (`QueueJob`), to a queue worker.
 */
export interface StageTask {
  id: string;
  key: string;
  /** The stage definition's name, and the module that defines it. */
  stage: string;
  moduleFile: string;
  params: Record<string, unknown>;
  bindings: Record<string, BoundInput>;
  /** Declared outputs, without `metrics`. */
  outputs: string[];
  codeFingerprint: string;
  /**
   * Project modules to import before the stage's own: they register the code its params name
   * (`defineModel`, `defineDataset`: ./definition/named-code.ts). Absent: none.
   */
  preload?: string[];
}

/** A task as it crosses the queue: the module (and the preloaded ones) relative to the project root (machines differ). */
export type QueueJob = Omit<StageTask, 'moduleFile' | 'preload'> & { module: string; preload?: string[] };

/** With `PIPELINE_QUEUE_SECRET` set, the coordinator adds `signJob`'s HMAC. */
export type SignedQueueJob = QueueJob & { signature?: string };

const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
const text = (max: number) => z.string().min(1).max(max).refine((s) => !CONTROL_CHARS.test(s), 'contains a control character');
const projectPath = () => text(1_000).refine((m) => !isAbsolute(m) && !m.startsWith('\\'), 'is not a path relative to the project root');

/**
 * A queue job as a worker accepts it. Whoever can write to the Redis can write a job, so every
 * field is checked before the worker does anything with it (invariant 7); what the stage itself
 * says about its params, inputs and outputs is checked once its module is imported
 * (src/engine/runner/job-check.ts). Unknown fields are refused, not ignored.
 */
export const queueJobSchema = z.strictObject({
  id: text(1_000),
  key: hexDigestSchema,
  stage: z.string().max(200).regex(STAGE_NAME, 'is not a stage name'),
  /** Relative to the project root; the worker compares real paths (symlinks resolved). */
  module: projectPath(),
  /** Modules that register the code the params name (`StageTask.preload`), relative like `module`. */
  preload: z.array(projectPath()).max(100).optional(),
  params: z.record(text(200), jsonValueSchema),
  bindings: z.record(
    text(200),
    z
      .strictObject({
        list: z.boolean(),
        items: z
          .array(
            z.strictObject({
              digest: hexDigestSchema,
              /** An external file (a dataset): an absolute path, used only if the worker's copy has `digest`. */
              path: text(4_096)
                .refine((p) => isAbsolute(p) && normalize(p) === p, 'is not an absolute, normalized path')
                .optional(),
            }),
          )
          .max(100_000),
      })
      .refine((b) => b.list || b.items.length === 1, 'a single input has exactly one item'),
  ),
  outputs: z
    .array(z.string())
    .max(10_000)
    .superRefine((names, ctx) => {
      const problem = outputNamesProblem(names);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  codeFingerprint: hexDigestSchema,
  signature: z.string().regex(/^[0-9a-f]{64}$/, 'is not an HMAC-SHA256 in hex').optional(),
});

/**
 * HMAC-SHA256 (hex) of the job's canonical JSON, its signature left out. Canonical JSON is what
 * makes the coordinator's object and the worker's parsed copy hash alike.
 */
export function signJob(job: QueueJob, secret: string): string {
  const { signature: _, ...unsigned } = job as SignedQueueJob;
  return createHmac('sha256', secret).update(canonicalJson(unsigned)).digest('hex');
}

/** Whether `job` carries the signature `secret` gives it (compared in constant time). */
export function signatureValid(job: Record<string, unknown>, secret: string): boolean {
  const given = job.signature;
  if (typeof given !== 'string' || !/^[0-9a-f]{64}$/.test(given)) return false;
  let expected: string;
  try {
    expected = signJob(job as unknown as QueueJob, secret);
  } catch {
    return false; // not even canonical JSON
  }
  return timingSafeEqual(Buffer.from(expected, 'hex'), Buffer.from(given, 'hex'));
}

/**
 * A task made ready to execute: its inputs as paths of immutable objects, its folders. What the
 * executor runs, in this process or in a child process.
 */
export interface StageJob extends Pick<StageTask, 'id' | 'key' | 'stage' | 'moduleFile' | 'params' | 'outputs' | 'preload'> {
  /** Input name -> path(s) of immutable objects. */
  inputs: Record<string, string | string[]>;
  outDir: string;
  scratchDir: string;
}

export interface StageJobResult {
  hasMetrics: boolean;
  metrics: Metrics;
  provenance: Record<string, JsonValue>;
}

/** What a running stage tells the host, and how the host stops it. */
export interface StageHooks {
  progress(p: StageProgress): void;
  log(message: string): void;
  signal: AbortSignal;
}

/** Parent -> child process. */
export type ParentMessage = { type: 'run'; job: StageJob };
/** Child process -> parent. */
export type ChildMessage =
  | { type: 'progress'; fraction?: number; message?: string }
  | { type: 'log'; message: string }
  | { type: 'done'; result: StageJobResult }
  | { type: 'error'; message: string; stack?: string; code?: string };
