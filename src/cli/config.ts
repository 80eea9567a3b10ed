/**
 * The project's settings: `pipeline.config.yaml` at the project root (committed: what the team
 * shares, such as the remote and the queue), `pipeline.config.local.yaml` beside it (git-ignored:
 * one machine's overrides), then environment variables, then command-line flags, each overriding
 * the one before. Every setting is declared once in SETTINGS; `pipeline config` prints the
 * effective value of each and where it came from.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import type { Node as YamlNode } from 'yaml';
import type { Command } from 'commander';
import { PipelineError } from '../errors.js';

export { CONFIG_FILE, LOCAL_CONFIG_FILE, projectRoot } from '../engine/definition/project.js';
import { CONFIG_FILE, LOCAL_CONFIG_FILE, projectRoot } from '../engine/definition/project.js';

type Kind = 'path' | 'location' | 'string' | 'positiveInt' | 'count' | 'boolean' | 'stageOptions';

interface SettingSpec {
  kind: Kind;
  /** Environment variables that set it, first found wins. */
  env: readonly string[];
  /** The command-line option that sets it (commander's attribute name), where there is one. */
  flag?: string;
  describe: string;
  /**
   * Environment variable that the value is exported to when the config file sets it and the
   * environment does not: settings read by a library (the AWS SDK) or by stage processes (the
   * data folder) reach them that way.
   */
  exportTo?: string;
}

export const SETTINGS = {
  cache: { kind: 'path', env: ['PIPELINE_CACHE'], flag: 'cache', describe: 'the local store (default: <project>/cache)' },
  lock: { kind: 'path', env: ['PIPELINE_LOCK'], flag: 'lock', describe: 'the lock file (default: <project>/dvc-like.lock)' },
  remote: { kind: 'location', env: ['PIPELINE_REMOTE'], flag: 'remote', describe: 'the team\'s shared store: a directory or s3://bucket/prefix' },
  queue: { kind: 'string', env: ['PIPELINE_QUEUE'], flag: 'queue', describe: 'the Redis of the distributed queue (redis://host:port)' },
  queueTimeout: { kind: 'string', env: ['PIPELINE_QUEUE_TIMEOUT'], flag: 'queueTimeout', describe: 'how long `run --queue` and workers retry a lost Redis before exit 1 (90s, 2m; default 60s)' },
  jobs: { kind: 'positiveInt', env: ['PIPELINE_JOBS'], flag: 'jobs', describe: 'stages run at once (default: as the cores allow)' },
  dataDir: { kind: 'path', env: ['PIPELINE_DATA_DIR'], flag: 'dataDir', describe: 'where datasets are', exportTo: 'PIPELINE_DATA_DIR' },
  's3.endpoint': { kind: 'string', env: ['AWS_ENDPOINT_URL_S3', 'AWS_ENDPOINT_URL'], describe: 'S3 endpoint for MinIO, Ceph RGW, R2 (default: AWS)', exportTo: 'AWS_ENDPOINT_URL_S3' },
  's3.region': { kind: 'string', env: ['AWS_REGION'], describe: 'S3 region', exportTo: 'AWS_REGION' },
  's3.forcePathStyle': { kind: 'boolean', env: ['PIPELINE_S3_FORCE_PATH_STYLE'], describe: 'path-style S3 addressing (MinIO, Ceph)', exportTo: 'PIPELINE_S3_FORCE_PATH_STYLE' },
  executor: { kind: 'string', env: ['PIPELINE_EXECUTOR'], flag: 'executor', describe: 'where `run` computes stages: local (child processes, the default) or slurm (one Slurm job each)' },
  'slurm.partition': { kind: 'string', env: ['PIPELINE_SLURM_PARTITION'], describe: 'Slurm partition of every job (default: the cluster\'s)' },
  'slurm.account': { kind: 'string', env: ['PIPELINE_SLURM_ACCOUNT'], describe: 'Slurm account charged for the jobs' },
  'slurm.qos': { kind: 'string', env: ['PIPELINE_SLURM_QOS'], describe: 'Slurm quality of service of the jobs' },
  'slurm.options': { kind: 'string', env: ['PIPELINE_SLURM_OPTIONS'], describe: 'further sbatch options for every job, e.g. "--constraint=avx2 --nice=10"' },
  'slurm.time': { kind: 'string', env: ['PIPELINE_SLURM_TIME'], describe: 'wall-clock limit of a stage that declares no resources.time (90m, 6h; default 1h)' },
  'slurm.maxPending': { kind: 'positiveInt', env: ['PIPELINE_SLURM_MAX_PENDING'], describe: 'jobs submitted and not finished at once (clusters cap it; default 200)' },
  'slurm.arraySize': { kind: 'positiveInt', env: ['PIPELINE_SLURM_ARRAY_SIZE'], describe: 'most tasks of one job array: ready stages of one resource shape go in as one array (default 100; 1: no arrays)' },
  'slurm.retries': { kind: 'count', env: ['PIPELINE_SLURM_RETRIES'], describe: 'resubmissions of a job lost to NODE_FAIL or PREEMPTED (default 2)' },
  'slurm.resourceRetries': { kind: 'count', env: ['PIPELINE_SLURM_RESOURCE_RETRIES'], describe: 'resubmissions of a job ended by TIMEOUT or OUT_OF_MEMORY, with more time or memory (default 1; 0: none)' },
  'slurm.growth': { kind: 'string', env: ['PIPELINE_SLURM_GROWTH'], describe: 'factor on the time or memory of such a resubmission (default 2)' },
  'slurm.keepLogs': { kind: 'boolean', env: ['PIPELINE_SLURM_KEEP_LOGS'], describe: 'keep the output files of successful jobs (default: removed after the run)' },
  'slurm.poll': { kind: 'string', env: ['PIPELINE_SLURM_POLL'], describe: 'how often one squeue call asks for the states of all of a run\'s jobs (default 2s)' },
  'slurm.timeout': { kind: 'string', env: ['PIPELINE_SLURM_TIMEOUT'], describe: 'how long an unanswering controller is waited for before exit 1, the jobs left running (default 5m)' },
  'slurm.stages': { kind: 'stageOptions', env: [], describe: 'per stage name, id or glob: partition, account, qos, time, options (also --set slurm.<stage>.<option>=<value>)' },
} as const satisfies Record<string, SettingSpec>;

export type SettingName = keyof typeof SETTINGS;
export type SettingValue = string | number | boolean;

export interface ResolvedSetting {
  value: SettingValue;
  /** `--flag`, `$ENV_VAR`, `pipeline.config.yaml:3`... */
  source: string;
}

export type Settings = Partial<Record<SettingName, ResolvedSetting>>;

/** One config file's values with the line each came from. */
interface FileValues {
  file: string;
  values: Partial<Record<SettingName, { value: SettingValue; line: number }>>;
}

// Credentials never belong in a committed file: the SDK's own chain (environment, profile,
// instance role) is the only place they are read from.
const SECRET_KEYS = /secret|password|access.?key|credential|token/i;

function readConfigFile(file: string): FileValues | undefined {
  if (!existsSync(file)) return undefined;
  // yaml is loaded only where a config file exists (~60 ms of every command's start otherwise).
  const { isMap, isScalar, LineCounter, parseDocument } = createRequire(import.meta.url)('yaml') as typeof import('yaml');
  const lines = new LineCounter();
  const doc = parseDocument(readFileSync(file, 'utf8'), { lineCounter: lines, prettyErrors: false });
  const lineOf = (node: YamlNode | null | undefined): number => (node?.range ? lines.linePos(node.range[0]).line : 1);
  const bad = (node: YamlNode | null | undefined, what: string, hint: string): PipelineError =>
    new PipelineError('USAGE', what, { where: `${file}:${lineOf(node)}`, hint });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new PipelineError('USAGE', `${basename(file)} is not valid YAML: ${e.message.split('\n')[0]}`, {
      where: `${file}:${e.linePos?.[0]?.line ?? 1}`,
      hint: 'fix the YAML syntax (a mapping of setting: value)',
    });
  }
  const out: FileValues = { file, values: {} };
  if (doc.contents === null) return out;
  if (!isMap(doc.contents)) throw bad(doc.contents, 'a config file is a mapping of setting: value', `settings: ${Object.keys(SETTINGS).join(', ')}`);
  const visit = (map: YamlNode, prefix: string): void => {
    if (!isMap(map)) return;
    for (const pair of map.items) {
      const keyNode = pair.key as YamlNode;
      const key = `${prefix}${isScalar(keyNode) ? String(keyNode.value) : '?'}`;
      const valueNode = pair.value as YamlNode | null;
      if (SECRET_KEYS.test(key)) {
        throw bad(keyNode, `'${key}': credentials are never read from config files`, 'use the AWS SDK\'s standard chain: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in the environment, a profile (AWS_PROFILE) or an instance role');
      }
      if ((key === 's3' || key === 'slurm') && isMap(valueNode)) {
        visit(valueNode, `${key}.`);
        continue;
      }
      if (!(key in SETTINGS)) {
        throw bad(keyNode, `unknown setting '${key}'`, `settings: ${Object.keys(SETTINGS).join(', ')}`);
      }
      const name = key as SettingName;
      if (SETTINGS[name].kind === 'stageOptions') {
        out.values[name] = { value: stageOptionsOf(valueNode, key, bad, { isMap, isScalar }), line: lineOf(keyNode) };
        continue;
      }
      const raw = isScalar(valueNode) ? valueNode.value : undefined;
      const value = checkValue(name, raw);
      if (value === undefined) throw bad(valueNode ?? keyNode, `'${key}' must be ${expected(SETTINGS[name].kind)}`, `${key}: ${SETTINGS[name].describe}`);
      out.values[name] = { value: isLocalPath(name, value) ? resolveFrom(file, String(value)) : value, line: lineOf(keyNode) };
    }
  };
  visit(doc.contents, '');
  return out;
}

function expected(kind: Kind): string {
  return {
    path: 'a path',
    location: 'a path or URL',
    string: 'a string',
    positiveInt: 'a positive integer',
    count: 'a whole number (0 or more)',
    boolean: 'true or false',
    stageOptions: 'a mapping of stage: { option: value }',
  }[kind];
}

/** Options that may be set per stage (`slurm.stages`, `--set slurm.<stage>.<option>=...`). */
export const SLURM_STAGE_OPTIONS = ['partition', 'account', 'qos', 'time', 'options'] as const;
export type SlurmStageOption = (typeof SLURM_STAGE_OPTIONS)[number];

/**
 * `slurm.stages` of a config file: stage name, id or glob -> { option: value }, kept as canonical
 * JSON text (settings are scalars; `pipeline config` prints it as such).
 */
function stageOptionsOf(
  node: YamlNode | null,
  key: string,
  bad: (node: YamlNode | null | undefined, what: string, hint: string) => PipelineError,
  y: { isMap: (n: unknown) => boolean; isScalar: (n: unknown) => boolean },
): string {
  const hint = `e.g.\n  slurm:\n    stages:\n      train-dense: { partition: gpu, time: 6h }\n  (options: ${SLURM_STAGE_OPTIONS.join(', ')})`;
  if (!y.isMap(node)) throw bad(node, `'${key}' must be ${expected('stageOptions')}`, hint);
  const out: Record<string, Record<string, string>> = {};
  for (const pair of (node as unknown as { items: Array<{ key: YamlNode; value: YamlNode | null }> }).items) {
    const stage = String((pair.key as { value?: unknown }).value ?? '');
    if (!y.isMap(pair.value)) throw bad(pair.value ?? pair.key, `'${key}.${stage}' must be a mapping of option: value`, hint);
    const options: Record<string, string> = {};
    for (const o of (pair.value as unknown as { items: Array<{ key: YamlNode; value: YamlNode | null }> }).items) {
      const option = String((o.key as { value?: unknown }).value ?? '');
      if (!(SLURM_STAGE_OPTIONS as readonly string[]).includes(option)) throw bad(o.key, `unknown option '${option}' in '${key}.${stage}'`, hint);
      const v = y.isScalar(o.value) ? (o.value as { value?: unknown }).value : undefined;
      if (typeof v !== 'string' && typeof v !== 'number') throw bad(o.value ?? o.key, `'${key}.${stage}.${option}' must be a string`, hint);
      options[option] = String(v);
    }
    out[stage] = options;
  }
  return JSON.stringify(out);
}

/** A raw value (from YAML or the environment) as the setting's type, or undefined when it is not. */
function checkValue(name: SettingName, raw: unknown): SettingValue | undefined {
  const kind: Kind = SETTINGS[name].kind;
  switch (kind) {
    case 'positiveInt':
    case 'count': {
      const n = typeof raw === 'string' ? Number(raw) : raw;
      return typeof n === 'number' && Number.isInteger(n) && n >= (kind === 'count' ? 0 : 1) ? n : undefined;
    }
    case 'boolean':
      if (typeof raw === 'boolean') return raw;
      if (raw === '1' || raw === 'true') return true;
      if (raw === '0' || raw === 'false' || raw === '') return false;
      return undefined;
    default:
      return typeof raw === 'string' && raw.length > 0 ? raw : undefined;
  }
}

/** A path setting, or a location that is not a URL (a remote directory). */
function isLocalPath(name: SettingName, value: SettingValue): boolean {
  const kind: Kind = SETTINGS[name].kind;
  return kind === 'path' || (kind === 'location' && !/^[a-z][a-z0-9+.-]*:\/\//i.test(String(value)));
}

/** Relative paths in a config file are relative to the file's folder (the project root), not the shell's. */
function resolveFrom(file: string, value: string): string {
  return isAbsolute(value) ? value : resolve(join(file, '..'), value);
}

/**
 * The effective settings of a project: defaults are left to each command (they depend on the
 * project root), so an unset setting is absent. `flags` holds the values given on the command line.
 */
export function resolveSettings(root: string, flags: Partial<Record<SettingName, SettingValue>> = {}, env: NodeJS.ProcessEnv = process.env): Settings {
  const files = [readConfigFile(join(root, CONFIG_FILE)), readConfigFile(join(root, LOCAL_CONFIG_FILE))];
  const settings: Settings = {};
  for (const name of Object.keys(SETTINGS) as SettingName[]) {
    const spec: SettingSpec = SETTINGS[name];
    const flag = flags[name];
    if (flag !== undefined) {
      settings[name] = { value: isLocalPath(name, flag) ? resolve(String(flag)) : flag, source: `--${spec.flag?.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`) ?? name}` };
      continue;
    }
    const envName = spec.env.find((v) => env[v] !== undefined && env[v] !== '');
    if (envName !== undefined) {
      const value = checkValue(name, env[envName]);
      if (value === undefined) throw new PipelineError('USAGE', `$${envName} must be ${expected(spec.kind)}, not '${env[envName]}'`, { hint: `${name}: ${spec.describe}` });
      settings[name] = { value: isLocalPath(name, value) ? resolve(value as string) : value, source: `$${envName}` };
      continue;
    }
    for (const f of [...files].reverse()) {
      const v = f?.values[name];
      if (v) {
        settings[name] = { value: v.value, source: `${basename(f.file)}:${v.line}` };
        break;
      }
    }
  }
  return settings;
}

/**
 * Hands config-file values of library- and process-level settings to the environment variables
 * their readers use (only where the environment does not set them already).
 */
export function exportSettings(settings: Settings, env: NodeJS.ProcessEnv = process.env): void {
  for (const name of Object.keys(settings) as SettingName[]) {
    const spec: SettingSpec = SETTINGS[name];
    const s = settings[name]!;
    if (spec.exportTo && (env[spec.exportTo] === undefined || s.source.startsWith('--'))) {
      env[spec.exportTo] = typeof s.value === 'boolean' ? (s.value ? '1' : '0') : String(s.value);
    }
  }
}

let applied: { root: string; settings: Settings } | undefined;

/** The settings that {@link applySettings} resolved for the running command (before it exported any). */
export function appliedSettings(): { root: string; settings: Settings } | undefined {
  return applied;
}

/**
 * Resolves the settings of the project a command works on (the pipeline argument's project, else
 * the current folder's) into the command's options, and exports the environment-level ones.
 */
export function applySettings(command: Command): Settings {
  const pipelineArg = command.registeredArguments[0]?.name() === 'pipeline' ? command.processedArgs[0] : undefined;
  const root = projectRoot(typeof pipelineArg === 'string' ? dirname(resolve(pipelineArg)) : process.cwd());
  const flags: Partial<Record<SettingName, SettingValue>> = {};
  const owned = new Map<string, SettingName>();
  for (const name of Object.keys(SETTINGS) as SettingName[]) {
    const flag = (SETTINGS[name] as SettingSpec).flag;
    if (!flag || !command.options.some((o) => o.attributeName() === flag)) continue;
    owned.set(flag, name);
    if (command.getOptionValueSource(flag) === 'cli') flags[name] = command.getOptionValue(flag) as SettingValue;
  }
  const settings = resolveSettings(root, flags);
  applied = { root, settings };
  for (const [flag, name] of owned) {
    const s = settings[name];
    if (s && !s.source.startsWith('--')) command.setOptionValueWithSource(flag, s.value, 'config');
  }
  exportSettings(settings);
  return settings;
}
