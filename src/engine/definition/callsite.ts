/**
 * Where in the user's source a definition was made, read off the stack (tsx maps the user's frames
 * back to the .ts source, src/install.ts the compiled engine's). Error messages name `file:line`, and the code fingerprint starts from the
 * `defineStage` call it finds there.
 */
import { fileURLToPath } from 'node:url';
import { join, relative, sep } from 'node:path';
import { COMPILED_ENGINE_DIR, ENGINE_SOURCE, sourcePosition } from '../../install.js';

export interface CallSite {
  file: string;
  line: number;
  column: number;
}

const ENGINE_DIR = join(ENGINE_SOURCE, 'engine') + sep;
/** The engine's whole source (src/): helpers such as `imp()` that add stages for the user. */
const LIBRARY_DIR = ENGINE_SOURCE + sep;
const FRAME = /\(?((?:file:\/\/)?\/[^():]+|[A-Za-z]:\\[^():]+):(\d+):(\d+)\)?\s*$/;

/** The first stack frame outside the engine (and outside node internals). */
export function callerSite(): CallSite | undefined {
  return siteOf(new Error());
}

/**
 * The same, read only when asked for. V8 records the frames when the Error is made but formats
 * (and source-maps) them on first access, which is what costs: building a 10,000-stage graph asks
 * for a site per stage and needs one only for an error message.
 */
export function lazyCallerSite(opts: { userCode?: boolean } = {}): () => CallSite | undefined {
  const err = new Error();
  let site: CallSite | undefined | null = null;
  return () => (site === null ? (site = siteOf(err, opts.userCode ?? false)) : site);
}

/**
 * `userCode`: the first frame outside the whole engine source, so that a stage instance that a
 * library helper (`imp()` in src/lth) adds is reported at the pipeline file's line that called the
 * helper; else (or when every frame is in the engine) the first frame outside src/engine.
 */
function siteOf(err: Error, userCode = false): CallSite | undefined {
  let first: CallSite | undefined;
  for (const f of framesOf(err)) {
    if (!userCode || !f.file.startsWith(LIBRARY_DIR)) return f;
    first ??= f;
  }
  return first;
}

/**
 * The stack frames outside the engine and node_modules, innermost first (`callers`: not the `at
 * async` frames of awaiting functions). Mapped one by one as they are asked for: a site is
 * usually the first or second frame, and the command's own frames further out (src/cli, the
 * bundled commander) would each have their source map read and parsed for nothing (1 MB of
 * allocation in a 1,000-stage no-op run).
 */
function* framesOf(err: Error, callers = false): Generator<CallSite> {
  for (const frame of err.stack?.split('\n').slice(1) ?? []) {
    if (/[( ]node:/.test(frame)) continue; // Node's own (node:internal/modules/...)
    if (callers && /^\s*at async /.test(frame)) continue;
    const m = FRAME.exec(frame.trim());
    if (!m) continue;
    const file = m[1]!.startsWith('file://') ? fileURLToPath(m[1]!) : m[1]!;
    // A compiled engine frame maps into src/engine, skipped below: not reading its source map
    // saves ~4 ms of every command that loads a pipeline (defineStage's frames).
    if (COMPILED_ENGINE_DIR !== undefined && file.startsWith(COMPILED_ENGINE_DIR)) continue;
    const site = sourcePosition(file, Number(m[2]), Number(m[3]));
    if (site.file.startsWith(ENGINE_DIR)) continue;
    // Packages' frames are not the user's, except the engine's own library (src/lth's stages):
    // installed as a package, its source lies under the project's node_modules too.
    if (site.file.includes(`${sep}node_modules${sep}`) && !site.file.startsWith(LIBRARY_DIR)) continue;
    yield site;
  }
}

/**
 * Every frame of the caller's stack in project code (outside the whole engine source), innermost
 * first, read only when asked for: the call that registered something, and the project's calls
 * that led to it (a helper that calls `defineModel`, and the line that called the helper).
 */
export function lazyUserSites(): () => CallSite[] {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 50; // a registration a few helpers deep keeps its outer frames
  const err = new Error();
  Error.stackTraceLimit = limit;
  let sites: CallSite[] | undefined;
  return () => (sites ??= [...framesOf(err, true)].filter((f) => !f.file.startsWith(LIBRARY_DIR)));
}

/** The innermost frame of an error's stack in `file` (compiled frames mapped to their source). */
export function errorSiteIn(err: Error, file: string): CallSite | undefined {
  for (const f of framesOf(err)) if (f.file === file) return f;
  return undefined;
}

export function formatSite(site: CallSite | undefined, cwd = process.cwd()): string | undefined {
  if (!site) return undefined;
  const rel = relative(cwd, site.file);
  return `${rel.startsWith('..') ? site.file : rel}:${site.line}`;
}
