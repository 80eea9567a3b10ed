/**
 * `dvc-like.lock`: a YAML record, per pipeline and stage instance, of what the last run used and
 * produced: key, code fingerprint, params, input digests, output digests and sizes, metrics. It
 * holds nothing time- or machine-dependent, so two runs that compute the same results write the
 * same bytes. Rewritten atomically (temp + rename) under a lease, so concurrent runs of different
 * pipelines sharing one lock file do not lose each other's sections.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { z } from 'zod';
import { PipelineError } from '../errors.js';
import { writeFileAtomic } from './atomic.js';
import { digestOfSync } from './digest.js';
import type { CacheLayout } from './layout.js';
import { Lease } from './lease.js';
import { hexDigestSchema, jsonValueSchema as jsonValue } from './run-cache.js';

export const LOCK_SCHEMA_VERSION = 1;

// The yaml library is loaded only to parse a changed lock file or to write one: a fully cached run
// reads the parsed copy (see parseCached) and writes nothing.
const requireLazily = createRequire(import.meta.url);
const yaml = (): typeof import('yaml') => requireLazily('yaml') as typeof import('yaml');

const lockStage = z.object({
  stage: z.string(),
  // Keys and digests become cache paths: 64 lowercase hex digits, nothing else (invariant 7).
  key: hexDigestSchema,
  code: z.string(),
  params: z.record(z.string(), jsonValue),
  inputs: z.record(z.string(), z.union([hexDigestSchema, z.array(hexDigestSchema)])),
  outputs: z.record(z.string(), z.object({ digest: hexDigestSchema, size: z.number() })),
  metrics: z.record(z.string(), jsonValue).optional(),
});

const lockPipeline = z.object({
  file: z.string(),
  params: z.record(z.string(), jsonValue),
  stages: z.record(z.string(), lockStage),
});

const lockDoc = z.object({
  schema: z.literal(LOCK_SCHEMA_VERSION),
  pipelines: z.record(z.string(), lockPipeline),
});

export type LockStage = z.infer<typeof lockStage>;
export type LockPipeline = z.infer<typeof lockPipeline>;
export type LockDoc = z.infer<typeof lockDoc>;

export function emptyLock(): LockDoc {
  return { schema: LOCK_SCHEMA_VERSION, pipelines: {} };
}

/** Parses lock file text; every problem is a LOCK_MALFORMED error naming the file and line. */
export function parseLock(text: string, path: string): LockDoc {
  if (text.trim() === '') return emptyLock();
  const { parseDocument, YAMLParseError } = yaml();
  const doc = parseDocument(text);
  const yamlError = doc.errors[0];
  if (yamlError) {
    const line = yamlError instanceof YAMLParseError && yamlError.linePos ? yamlError.linePos[0].line : undefined;
    throw malformed(path, line, `it is not valid YAML (${yamlError.message.split('\n')[0]})`);
  }
  const data: unknown = doc.toJS();
  if (data && typeof data === 'object' && 'schema' in data && data.schema !== LOCK_SCHEMA_VERSION) {
    throw malformed(path, undefined, `its schema version is ${JSON.stringify(data.schema)}; this version of lth-pipeline reads ${LOCK_SCHEMA_VERSION}`);
  }
  const parsed = lockDoc.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const at = issue.path.join('.');
    const node = doc.getIn(issue.path as Array<string | number>, true) as { range?: [number, number, number] } | undefined;
    const line = node?.range ? lineOf(text, node.range[0]) : undefined;
    throw malformed(path, line, `${at || 'the document'}: ${issue.message}`);
  }
  return parsed.data;
}

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

function malformed(path: string, line: number | undefined, what: string): PipelineError {
  return new PipelineError('LOCK_MALFORMED', `the lock file is malformed: ${what}`, {
    where: line ? `${path}:${line}` : path,
    hint: 'fix it by hand, restore it from git (`git checkout -- dvc-like.lock`), or delete it: results stay in the cache and the next run rewrites it',
  });
}

/**
 * Parsing YAML and validating it is the slowest part of a fully cached run (~0.6 s for 1,000
 * stages), so the last parsed document is kept as JSON in the cache, keyed by the digest of the
 * file's bytes: an unchanged lock file is read with JSON.parse.
 */
async function parseCached(text: string, path: string, layout: CacheLayout | undefined): Promise<LockDoc> {
  if (!layout) return parseLock(text, path);
  const digest = digestOfSync(text);
  const cacheFile = layout.metaPath('lock-parsed.json');
  try {
    const cached = JSON.parse(readFileSync(cacheFile, 'utf8')) as { digest: string; doc: LockDoc };
    if (cached.digest === digest) return cached.doc;
  } catch {
    /* no cache yet */
  }
  const doc = parseLock(text, path);
  await rememberParsed(layout, digest, doc);
  return doc;
}

async function rememberParsed(layout: CacheLayout, digest: string, doc: LockDoc): Promise<void> {
  await writeFileAtomic(layout.metaPath('lock-parsed.json'), JSON.stringify({ digest, doc })).catch(() => undefined);
}

// The lock file and its parsed copy are read synchronously: the run has nothing else to do
// meanwhile, and fs.promises reads a 0.5-0.7 MB file in chunks, each a round trip through the
// thread pool (5-7 ms of idle time in the CPU profile of a fully cached 1,000-stage run).
async function readText(path: string): Promise<string> {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw e;
  }
}

export async function readLock(path: string, layout?: CacheLayout): Promise<LockDoc> {
  return parseCached(await readText(path), path, layout);
}

export function serializeLock(doc: LockDoc): string {
  const pipelines: Record<string, LockPipeline> = {};
  for (const name of Object.keys(doc.pipelines).sort()) pipelines[name] = doc.pipelines[name]!;
  return yaml().stringify({ schema: doc.schema, pipelines }, { lineWidth: 0, aliasDuplicateObjects: false });
}

/**
 * Replaces one pipeline's section. Read-modify-write under a lease on the lock file, then an
 * atomic rename. Skips the write when the bytes would not change (a fully cached run stays cheap).
 */
export async function writeLockSection(path: string, layout: CacheLayout, name: string, section: LockPipeline): Promise<void> {
  const lease = await Lease.acquire(layout.leasePath(`lockfile-${digestOfSync(path).slice(0, 16)}`), { pollMs: 20 });
  try {
    const before = await readText(path);
    const doc = structuredClone(await parseCached(before, path, layout));
    doc.pipelines[name] = section;
    const after = serializeLock(doc);
    if (after !== before) {
      await writeFileAtomic(path, after);
      await rememberParsed(layout, digestOfSync(after), doc);
    }
  } finally {
    await lease.release();
  }
}
