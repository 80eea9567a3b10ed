/**
 * What a queue worker checks before it acts on a job. Whoever can write to the queue's Redis can
 * write a job, so a job is untrusted input (invariant 7) and the worker runs only its own
 * project's stages, exactly as their definitions say. Before anything is imported:
 *
 *   1. with a secret (PIPELINE_QUEUE_SECRET), the job's signature;
 *   2. every field (`queueJobSchema`: types, lengths, keys and digests as 64 lowercase hex);
 *   3. BullMQ's job id is the job's key (the coordinator sets it so);
 *   4. the module: its real path (symlinks resolved) inside the worker's project, outside
 *      node_modules (save the engine's own source, the worker's installed package: its LTH
 *      stages), a JavaScript or TypeScript file that calls defineStage. A job cannot make
 *      the worker import anything else: not a file elsewhere on the machine, and not a project
 *      script that acts when imported (bin/pipeline.js runs the CLI). The same for the modules
 *      the job preloads (they register the networks and datasets its params name), which must
 *      call some `define...(` instead of defineStage.
 *
 * After importing the module (project code): the stage is defined in that module, and the job's
 * inputs, params, outputs and key are the ones that stage gives. A job whose key does not follow
 * from its contents would put a result in the shared store under another result's key.
 *
 * A job that fails a check is refused: `JobRefused`, which BullMQ records as the job's failure
 * without retrying, and which the coordinator reports as the stage failing with that reason.
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import { extname, isAbsolute, relative, resolve, sep } from 'node:path';
import { UnrecoverableError } from 'bullmq';
import { ENGINE_SOURCE } from '../../install.js';
import { isPipelineError } from '../../errors.js';
import { deepEqual } from '../definition/canonical.js';
import { validateParams, type ValidatedParams } from '../definition/params.js';
import { METRICS_OUTPUT, outputsOf, type StageDefinition } from '../definition/stage.js';
import { stageKey } from '../host/key.js';
import { queueJobSchema, signatureValid, type QueueJob } from '../protocol.js';
import { inputDigestsOf } from './compute.js';

export class JobRefused extends UnrecoverableError {
  constructor(reason: string) {
    super(`refused by the worker: ${reason}`);
    this.name = 'JobRefused';
  }
}

/** A job larger than this is not a stage description (jobs carry digests, not data). */
const MAX_JOB_BYTES = 1 << 20;
const MODULE_EXTENSIONS = new Set(['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs']);
/** A module larger than this is not one a stage is defined in (the check reads it whole). */
const MAX_MODULE_BYTES = 16 << 20;

export interface AdmittedJob {
  job: QueueJob;
  /** The module's real path, inside the project. */
  moduleFile: string;
  /** The real paths of the modules to import first (`preload`: they register the code the params name), inside the project. */
  preload: string[];
}

/** Checks 1-4 above; nothing is imported. Throws `JobRefused`. */
export async function admitJob(data: unknown, bullJobId: string | undefined, ctx: { projectRoot: string; secret: string | undefined }): Promise<AdmittedJob> {
  if (!data || typeof data !== 'object' || Array.isArray(data)) throw new JobRefused('the job is not an object');
  let size: number;
  try {
    size = Buffer.byteLength(JSON.stringify(data));
  } catch {
    throw new JobRefused('the job is not JSON');
  }
  if (size > MAX_JOB_BYTES) throw new JobRefused(`the job is ${size} bytes (at most ${MAX_JOB_BYTES})`);
  if (ctx.secret !== undefined) {
    if (!('signature' in data)) throw new JobRefused('the job is not signed, and this worker runs only jobs signed with its PIPELINE_QUEUE_SECRET');
    if (!signatureValid(data as Record<string, unknown>, ctx.secret)) throw new JobRefused('the job\'s signature does not match (another PIPELINE_QUEUE_SECRET, or the job was altered)');
  }
  let parsed: ReturnType<typeof queueJobSchema.safeParse>;
  try {
    parsed = queueJobSchema.safeParse(data);
  } catch (e) {
    throw new JobRefused(`malformed job (${(e as Error).message})`); // e.g. nested too deep to check
  }
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new JobRefused(`malformed job: ${issue.path.map(String).join('.') || '(job)'}: ${issue.message}`);
  }
  const { signature: _, ...job } = parsed.data;
  if (bullJobId !== job.key) throw new JobRefused(`its job id ${JSON.stringify(String(bullJobId).slice(0, 80))} is not its key`);
  const preload = await Promise.all((job.preload ?? []).map((m) => stageModule(m, ctx.projectRoot, 'registers')));
  return { job, moduleFile: await stageModule(job.module, ctx.projectRoot), preload };
}

/** A project module that calls some `define...(` (defineModel, definePipeline, ...): what a preloaded module must be. */
const DEFINES = /\bdefine[A-Z][A-Za-z]*\s*\(/;

/** The worker's own engine source, real path (an installed package's lies under node_modules). */
const engineSource = realpath(ENGINE_SOURCE).catch(() => ENGINE_SOURCE);

async function stageModule(module: string, projectRoot: string, role: 'stage' | 'registers' = 'stage'): Promise<string> {
  const shown = JSON.stringify(module);
  const root = await realpath(projectRoot);
  let real: string;
  try {
    real = await realpath(resolve(root, module));
  } catch {
    throw new JobRefused(`module ${shown} does not exist in this worker's project (${root})`);
  }
  const inside = relative(root, real);
  if (inside === '' || inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside)) {
    throw new JobRefused(`module ${shown} is outside this worker's project (it is ${real}; the project is ${root})`);
  }
  if (inside.split(sep).includes('node_modules') && !real.startsWith((await engineSource) + sep)) throw new JobRefused(`module ${shown} is inside node_modules: stages are defined in the project's own modules`);
  if (!MODULE_EXTENSIONS.has(extname(real))) throw new JobRefused(`module ${shown} is not a JavaScript or TypeScript module`);
  const st = await stat(real);
  if (!st.isFile() || st.size > MAX_MODULE_BYTES) throw new JobRefused(`module ${shown} is not a module file`);
  const text = await readFile(real, 'utf8');
  if (role === 'stage' && !text.includes('defineStage')) throw new JobRefused(`module ${shown} defines no stage (it never calls defineStage)`);
  if (role === 'registers' && !DEFINES.test(text)) throw new JobRefused(`preloaded module ${shown} defines nothing (it calls no defineModel, defineDataset, ...)`);
  return real;
}

/**
 * The checks after the module is imported: `def` (the registry's stage of the job's name) is
 * defined in it, and the job's inputs, params, outputs and key are that stage's. Returns the
 * params as the stage validates them. Throws `JobRefused`.
 */
export async function checkAgainstStage(admitted: AdmittedJob, def: StageDefinition | undefined): Promise<ValidatedParams> {
  const { job, moduleFile } = admitted;
  if (!def) throw new JobRefused(`${job.module} defines no stage '${job.stage}' here (another version of the project?)`);
  const site = await realpath(def.site.file).catch(() => def.site.file);
  if (site !== moduleFile) throw new JobRefused(`stage '${job.stage}' is defined in ${relative(resolve(moduleFile, '..'), site)}, not in ${job.module}`);
  const declared = [...def.inputs].sort();
  const given = Object.keys(job.bindings).sort();
  if (!deepEqual(declared, given)) throw new JobRefused(`its inputs (${given.join(', ') || 'none'}) are not those of stage '${def.name}' (${declared.join(', ') || 'none'})`);
  let params: ValidatedParams;
  try {
    params = validateParams(def.schema, job.params, `stage '${def.name}'`, undefined);
  } catch (e) {
    throw new JobRefused(`its params are not valid for stage '${def.name}': ${isPipelineError(e) ? e.message : String(e)}`);
  }
  let outputs: string[];
  try {
    outputs = outputsOf(def, params.effective).filter((o) => o !== METRICS_OUTPUT);
  } catch (e) {
    throw new JobRefused(`the outputs of stage '${def.name}' cannot be computed from its params: ${(e as Error).message}`);
  }
  if (!deepEqual(outputs, job.outputs)) throw new JobRefused(`its outputs (${job.outputs.join(', ')}) are not those of stage '${def.name}' with its params (${outputs.join(', ')})`);
  const key = stageKey({ stage: def.name, code: job.codeFingerprint, params: params.keyed, inputs: inputDigestsOf(job.bindings) });
  if (key !== job.key) throw new JobRefused(`its key is not the key of its stage, code, params and inputs (${key.slice(0, 12)})`);
  return params;
}
