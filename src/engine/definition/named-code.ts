/**
 * Named code: project code that a module registers under a name when it is imported (a network
 * with `defineModel`, a dataset with `defineDataset`), and that stage params refer to by that
 * name (`model: 'my-mlp'`).
 *
 * A stage's code fingerprint is its `run` and the project code `run` references; code reached
 * through a registry lookup by a param's value is invisible to that syntax walk. So:
 * - the registering function records where it was called (`recordNamedCode`): the statement that
 *   made the call, and the project's calls that led to it;
 * - the param's schema says which kind of name it holds (`namedCodeParam`);
 * - the planner adds the fingerprint of those statements (and of what they reference) to the code
 *   fingerprint of every stage instance whose params name the entry (host/fingerprint.ts), so
 *   editing a network reruns the stages that use it and nothing else;
 * - the runner imports the registering modules before the stage's own (`preload` of a task), so
 *   that the registry holds the entry in a stage's child process and on a queue worker too.
 * Built-in names are not recorded: the code behind them is reached from `run` like any other.
 */
import { z } from 'zod';
import { lazyUserSites, type CallSite } from './callsite.js';
import { unwrap, type ParamsSchema } from './params.js';

export interface NamedCode {
  /** What the name names: 'model', 'dataset', ... */
  readonly kind: string;
  readonly name: string;
  /** Where it was registered: the registering call first, then the project's calls that led to it. */
  sites(): readonly CallSite[];
}

const entries = new Map<string, NamedCode>();
const entryKey = (kind: string, name: string): string => `${kind}\u0000${name}`;

/**
 * Records that `name` of `kind` is being registered by the caller's caller (call this from the
 * registering function, e.g. `defineModel`). Registering a name again replaces the record.
 */
export function recordNamedCode(kind: string, name: string): NamedCode {
  const entry: NamedCode = { kind, name, sites: lazyUserSites() };
  entries.set(entryKey(kind, name), entry);
  return entry;
}

/** The record of a registered name, if the project registered one. */
export function namedCode(kind: string, name: string): NamedCode | undefined {
  return entries.get(entryKey(kind, name));
}

/** Forgets a record (tests). */
export function forgetNamedCode(kind: string, name: string): void {
  entries.delete(entryKey(kind, name));
}

const paramKinds = z.registry<{ namedCode: string }>();

/**
 * Marks a param's schema as holding a name of `kind`: a stage instance whose param names a
 * registered entry has that entry's code in its fingerprint. Mark the schema last (`.default()`
 * and `.optional()` around it are seen through; a `.refine()` after it makes a new schema).
 */
export function namedCodeParam<S extends z.ZodType>(kind: string, schema: S): S {
  paramKinds.add(schema, { namedCode: kind });
  return schema;
}

/** Per stage schema, its params that hold names: [param, kind] (planning asks once per stage instance). */
const namedParams = new WeakMap<ParamsSchema, ReadonlyArray<readonly [string, string]>>();

/** The registered code a stage instance's params name (top-level params holding a name), in param order. */
export function namedCodeOf(schema: ParamsSchema, params: Readonly<Record<string, unknown>>): NamedCode[] {
  let fields = namedParams.get(schema);
  if (!fields) {
    fields = Object.entries(schema.shape as Record<string, z.ZodType>).flatMap(([param, field]) => {
      const kind = paramKinds.get(unwrap(field))?.namedCode;
      return kind === undefined ? [] : [[param, kind] as const];
    });
    namedParams.set(schema, fields);
  }
  const out: NamedCode[] = [];
  for (const [param, kind] of fields) {
    const value = params[param];
    const entry = typeof value === 'string' ? entries.get(entryKey(kind, value)) : undefined;
    if (entry) out.push(entry);
  }
  return out;
}

/** The project modules that register the named code of a stage instance (what a runner imports first). */
export function namedCodeModules(named: readonly NamedCode[]): string[] {
  return [...new Set(named.flatMap((n) => n.sites().map((s) => s.file)))];
}
