/**
 * Params: a stage declares a zod object schema; that one type drives validation (with the
 * pipeline file and line in the message), `--set` parsing (the schema says whether "0.1" is a
 * number or a string) and the stage key (defaults left out).
 */
import { createRequire } from 'node:module';
import { z } from 'zod';
import { PipelineError } from '../../errors.js';
import { deepEqual } from './canonical.js';

export type ParamsSchema = z.ZodObject;

// yaml is loaded only when a --set value needs it (lists, objects): start-up time matters.
const requireLazily = createRequire(import.meta.url);
const parseYaml = (text: string): unknown => (requireLazily('yaml') as typeof import('yaml')).parse(text);

interface ZodInternals {
  _zod: { def: { type: string; innerType?: z.ZodType; shape?: Record<string, z.ZodType> } };
}

function defOf(schema: z.ZodType): ZodInternals['_zod']['def'] {
  return (schema as unknown as ZodInternals)._zod.def;
}

const WRAPPERS = new Set(['default', 'optional', 'nullable', 'prefault', 'readonly', 'catch', 'nonoptional']);

/** The schema under default/optional/nullable wrappers. */
export function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  for (let def = defOf(s); WRAPPERS.has(def.type) && def.innerType; def = defOf(s)) s = def.innerType;
  return s;
}

/** The field's default value, if it has one. */
export function defaultOf(field: z.ZodType): { value: unknown } | undefined {
  const r = field.safeParse(undefined);
  return r.success && r.data !== undefined ? { value: r.data } : undefined;
}

/**
 * The fields found to have no default, asked once per field instead of once per stage instance:
 * a field without one fails `safeParse(undefined)`, which builds a ZodError (an Error, with a
 * stack): ~7 ms of CPU in building a 1,000-stage sweep. A field with a default is asked every
 * time, as a default made by a function may differ.
 */
const withoutDefault = new WeakSet<z.ZodType>();

function keyDefaultOf(field: z.ZodType): { value: unknown } | undefined {
  if (withoutDefault.has(field)) return undefined;
  const d = defaultOf(field);
  if (!d) withoutDefault.add(field);
  return d;
}

export interface ValidatedParams {
  /** After validation, defaults filled in: what the stage's `run` receives. */
  effective: Record<string, unknown>;
  /** What enters the key: `effective` less every value equal to its default. */
  keyed: Record<string, unknown>;
}

export function describeIssue(issue: z.core.$ZodIssue): string {
  const at = issue.path.length ? issue.path.join('.') : '(params)';
  return `${at}: ${issue.message}`;
}

/** Validates params against a stage's schema. `label` names the stage instance in messages. */
export function validateParams(schema: ParamsSchema, input: Record<string, unknown>, label: string, whereArg: string | undefined | (() => string | undefined)): ValidatedParams {
  const where = (): string | undefined => (typeof whereArg === 'function' ? whereArg() : whereArg);
  const shape = schema.shape as Record<string, z.ZodType>;
  const unknown = Object.keys(input).filter((k) => !(k in shape));
  if (unknown.length > 0) {
    throw new PipelineError('PARAM_INVALID', `${label}: unknown param ${unknown.map((k) => `'${k}'`).join(', ')}`, {
      where: where(),
      hint: `known params: ${Object.keys(shape).join(', ') || '(none)'}`,
    });
  }
  const result = schema.safeParse(input);
  if (!result.success) {
    throw new PipelineError('PARAM_INVALID', `${label}: ${result.error.issues.map(describeIssue).join('; ')}`, {
      where: where(),
      hint: 'fix the value in the pipeline file or in --set',
    });
  }
  const effective = result.data as Record<string, unknown>;
  const keyed: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(effective)) {
    const field = shape[k];
    const d = field ? keyDefaultOf(field) : undefined;
    if (!(d && deepEqual(d.value, v))) keyed[k] = v;
  }
  return { effective, keyed };
}

/** The schema of the value at `path` inside an object schema, or undefined. */
export function schemaAt(schema: z.ZodType, path: readonly string[]): z.ZodType | undefined {
  let s: z.ZodType | undefined = schema;
  for (const seg of path) {
    if (!s) return undefined;
    const def = defOf(unwrap(s));
    s = def.type === 'object' ? def.shape?.[seg] : undefined;
  }
  return s;
}

/**
 * Turns the text of a `--set key=value` into a value of the type the schema (or, for plain
 * pipeline params, the default value) asks for. Whatever cannot be read is passed through as a
 * string so that validation reports it in terms of the expected type.
 */
export function parseSetValue(raw: string, target: { schema?: z.ZodType | undefined; example?: unknown }): unknown {
  const kind = target.schema ? defOf(unwrap(target.schema)).type : typeof target.example;
  switch (kind) {
    case 'string':
    case 'enum':
      return raw;
    case 'number':
    case 'int':
    case 'bigint': {
      const n = Number(raw);
      return raw.trim() !== '' && Number.isFinite(n) ? n : raw;
    }
    case 'boolean':
      return raw === 'true' ? true : raw === 'false' ? false : raw;
    default:
      try {
        return parseYaml(raw) as unknown;
      } catch {
        return raw;
      }
  }
}

/** Sets `value` at a dotted path in a plain object, copying along the way. */
export function setAtPath(obj: Record<string, unknown>, path: readonly string[], value: unknown): Record<string, unknown> {
  const [head, ...rest] = path;
  if (head === undefined) return obj;
  const copy = { ...obj };
  if (rest.length === 0) copy[head] = value;
  else {
    const child = copy[head];
    copy[head] = setAtPath(child && typeof child === 'object' && !Array.isArray(child) ? (child as Record<string, unknown>) : {}, rest, value);
  }
  return copy;
}

export function getAtPath(obj: unknown, path: readonly string[]): { found: boolean; value: unknown } {
  let cur: unknown = obj;
  for (const seg of path) {
    if (!cur || typeof cur !== 'object' || !(seg in cur)) return { found: false, value: undefined };
    cur = (cur as Record<string, unknown>)[seg];
  }
  return { found: true, value: cur };
}
