/**
 * Where the engine's own files are. The engine runs either from its TypeScript source (the tests,
 * and `PIPELINE_FROM_SOURCE=1`) or compiled by bin/compiled.js into a tree: the one the package
 * ships (`<root>/dist`, run when installed), or one a clone builds into `<root>/.build/<stamp>`. Code that
 * names the engine's files, or reads stack frames, asks here instead of resolving paths from its
 * own module URL, which differ between these.
 */
import { readFileSync, utimesSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The folder of the running engine's modules: `<root>/src`, or `<tree>/src`. */
const RUNNING = dirname(fileURLToPath(import.meta.url));

/** A compiled tree's marker, `<tree>/tree.json` (bin/compiled.js writes it). */
interface TreeMarker {
  /** The engine's root, relative to the tree. */
  root: string;
  /** The tree the package ships: never written to. */
  shipped: boolean;
}

function treeMarker(): TreeMarker | undefined {
  try {
    return JSON.parse(readFileSync(join(dirname(RUNNING), 'tree.json'), 'utf8')) as TreeMarker;
  } catch {
    return undefined; // running from source: no tree around src/
  }
}

const MARKER = treeMarker();
/** True when the engine runs as compiled JavaScript. */
export const COMPILED = MARKER !== undefined;
/** The compiled tree (undefined when running from source). */
export const COMPILED_TREE = MARKER ? dirname(RUNNING) : undefined;
/** The project root of the engine (its package.json, bin/, src/). */
export const ENGINE_ROOT = MARKER ? resolve(COMPILED_TREE!, MARKER.root) : dirname(RUNNING);
/** The engine's TypeScript source, `<root>/src`. */
export const ENGINE_SOURCE = join(ENGINE_ROOT, 'src');
/**
 * The export condition under which the package's entry points are its TypeScript source
 * (package.json `exports`): the engine resolves a user's `import 'lth-pipeline'` with it, to the
 * source (and from there to the running tree), so that a project linking a clone without a built
 * `dist/` runs and type-checks as an installed one. Node and tsc elsewhere take `types` and
 * `default`, the shipped tree.
 */
export const SOURCE_CONDITION = 'lth-source';

/**
 * The engine's per-user cache folder (`$XDG_CACHE_HOME/lth-pipeline`, else
 * `~/.cache/lth-pipeline`): what an installed engine builds for itself goes there, never into its
 * package (bin/compiled.js says the same for its trees).
 */
export function userCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  return xdg ? join(resolve(xdg), 'lth-pipeline') : join(homedir(), '.cache', 'lth-pipeline');
}

/**
 * Where the user's modules compiled for this tree go (src/engine/user-module.ts): inside a tree
 * built for this machine, so that they go with it; a per-user folder for the shipped tree.
 */
export const USER_MODULES_DIR = MARKER ? (MARKER.shipped ? join(userCacheDir(), 'user-modules') : join(COMPILED_TREE!, 'user')) : undefined;

/**
 * `<tree>/src/engine/`: each engine module there is compiled from the same path under
 * `src/engine/`, so its frames are engine frames without reading their source maps (undefined
 * when running from source).
 */
export const COMPILED_ENGINE_DIR = COMPILED ? join(RUNNING, 'engine') + sep : undefined;

/**
 * Marks the compiled tree as in use every ten minutes while this process lives: bin/compiled.js
 * drops trees unused for an hour, and a long run or a queue worker imports modules of its tree
 * (and starts stage processes on it) long after it started.
 */
export function keepCompiledTreeInUse(): void {
  if (!COMPILED_TREE || MARKER?.shipped) return;
  const tree = COMPILED_TREE;
  setInterval(() => {
    const now = new Date();
    try {
      utimesSync(tree, now, now);
    } catch {
      // Gone already: nothing to keep.
    }
  }, 600_000).unref();
}

/** `<root>/src/x.ts` as the module that runs it: its compiled file when compiled, else itself. */
export function runningModuleUrl(file: string): string {
  if (COMPILED && file.startsWith(ENGINE_SOURCE + sep) && file.endsWith('.ts')) {
    return pathToFileURL(join(RUNNING, relative(ENGINE_SOURCE, file)).replace(/\.ts$/, '.js')).href;
  }
  return pathToFileURL(file).href;
}

/** The compiled tree's URL prefixes, for the loader hook that sends the user's imports of src/ to it. */
export function compiledRedirect(): { source: string; running: string; condition: string } | undefined {
  return COMPILED ? { source: pathToFileURL(ENGINE_SOURCE + sep).href, running: pathToFileURL(RUNNING + sep).href, condition: SOURCE_CONDITION } : undefined;
}

const maps = new Map<string, SourceMap | null>();

function sourceMapOf(file: string): SourceMap | null {
  let map = maps.get(file);
  if (map === undefined) {
    try {
      map = new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8')) as ConstructorParameters<typeof SourceMap>[0]);
    } catch {
      map = null;
    }
    maps.set(file, map);
  }
  return map;
}

/**
 * A position in code compiled into a tree (the engine, or a user module compiled by
 * src/engine/user-module.ts) as a position in its TypeScript source, through the source map
 * written beside each compiled file (Node's own SourceMap reader; a map is read only when one of
 * its frames is asked about). Other positions pass unchanged.
 */
export function sourcePosition(file: string, line: number, column: number): { file: string; line: number; column: number } {
  const compiledHere = COMPILED_TREE !== undefined && (file.startsWith(COMPILED_TREE + sep) || file.startsWith(USER_MODULES_DIR + sep));
  if (!compiledHere) return { file, line, column };
  const entry = sourceMapOf(file)?.findEntry(line - 1, column - 1) as { originalSource?: string; originalLine?: number; originalColumn?: number } | undefined;
  if (entry?.originalSource === undefined || entry.originalLine === undefined) return { file, line, column };
  const source = entry.originalSource.startsWith('file://') ? fileURLToPath(entry.originalSource) : resolve(dirname(file), entry.originalSource);
  return { file: source, line: entry.originalLine + 1, column: (entry.originalColumn ?? 0) + 1 };
}
