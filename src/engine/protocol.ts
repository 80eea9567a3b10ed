/**
 * What the host (planning and scheduling, in the `pipeline` process) and the runner (what
 * executes one stage: here, in a child process, or in a queue worker on another machine)
 * exchange. Plain data only: every type here crosses a process boundary, and what comes from a
 * queue is untrusted input, checked where it is read (src/engine/runner/queue-worker.ts).
 */
import type { JsonValue, Metrics, StageProgress } from './definition/stage.js';

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
}

/** A task as it crosses the queue: the module relative to the project root (machines differ). */
export type QueueJob = Omit<StageTask, 'moduleFile'> & { module: string };

/**
 * A task made ready to execute: its inputs as paths of immutable objects, its folders. What the
 * executor runs, in this process or in a child process.
 */
export interface StageJob extends Pick<StageTask, 'id' | 'key' | 'stage' | 'moduleFile' | 'params' | 'outputs'> {
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
