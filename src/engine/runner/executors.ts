/**
 * Where a stage's `run` executes. `process` (the default): a child process per execution, so that
 * `--jobs N` runs N CPU-bound stages truly in parallel, a crash or an out-of-memory kill stays
 * contained, and memory (the WASM heap never shrinks) goes back to the system. `inline`: in the
 * scheduler's process, for trivial stages and tests.
 */
import { fork } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { COMPILED_TREE, ENGINE_ROOT } from '../../install.js';
import { PipelineError, type PipelineErrorCode } from '../../errors.js';
import { isLibraryInfoLine } from './library-log.js';
import { executeStageJob, type StageHooks, type StageJob, type StageJobResult } from './execute.js';
import type { StageDefinition } from '../definition/stage.js';
import type { ChildMessage, ParentMessage } from '../protocol.js';

export type Executor = (def: StageDefinition, job: StageJob, hooks: StageHooks) => Promise<StageJobResult>;

export const inlineExecutor: Executor = executeStageJob;

const WORKER_ENTRY = join(ENGINE_ROOT, 'bin', 'stage-worker.js');
/** How long a child gets to stop after SIGTERM before it is killed. */
const KILL_GRACE_MS = 5_000;

export const processExecutor: Executor = (_def, job, hooks) =>
  new Promise<StageJobResult>((resolve, reject) => {
    // The compiled engine's tree (bin/compiled.js): the stage runs the engine that planned it, even after an edit.
    const env = COMPILED_TREE ? { ...process.env, LTH_ENGINE_TREE: COMPILED_TREE } : process.env;
    const child = fork(WORKER_ENTRY, [], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], serialization: 'advanced', env });
    let settled = false;
    let result: StageJobResult | undefined;
    let failure: PipelineError | undefined;
    for (const stream of [child.stdout, child.stderr]) {
      if (stream) {
        createInterface({ input: stream }).on('line', (line) => {
          if (!isLibraryInfoLine(line, env)) hooks.log(line);
        });
      }
    }
    const onAbort = (): void => {
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS).unref();
    };
    hooks.signal.addEventListener('abort', onAbort, { once: true });
    child.on('message', (m: ChildMessage) => {
      if (m.type === 'progress') hooks.progress(m);
      else if (m.type === 'log') hooks.log(m.message);
      else if (m.type === 'done') result = m.result;
      else if (m.type === 'error') {
        const code = (m.code && m.code !== 'STAGE_FAILED' ? m.code : 'STAGE_FAILED') as PipelineErrorCode;
        failure = new PipelineError(code === 'INTERRUPTED' ? code : 'STAGE_FAILED', m.message, { where: `stage ${job.id}`, cause: m.stack });
        if (m.stack) failure.stack = m.stack;
      }
    });
    child.on('error', (e) => {
      if (!settled) {
        settled = true;
        reject(new PipelineError('STAGE_FAILED', `could not start the stage process: ${e.message}`, { where: `stage ${job.id}`, cause: e }));
      }
    });
    child.on('exit', (code, signal) => {
      hooks.signal.removeEventListener('abort', onAbort);
      if (settled) return;
      settled = true;
      if (result) resolve(result);
      else if (hooks.signal.aborted) reject(new PipelineError('INTERRUPTED', `stage '${job.id}' was interrupted`));
      else if (failure) reject(failure);
      else {
        const how = signal ? `was killed by ${signal}${signal === 'SIGKILL' ? ' (out of memory?)' : ''}` : `exited with code ${code}`;
        reject(new PipelineError('STAGE_FAILED', `the process of stage '${job.id}' ${how} before finishing`, { where: `stage ${job.id}` }));
      }
    });
    const msg: ParentMessage = { type: 'run', job };
    child.send(msg);
  });

export function executorFor(def: StageDefinition, forceInline: boolean): Executor {
  return forceInline || def.isolation === 'inline' ? inlineExecutor : processExecutor;
}
