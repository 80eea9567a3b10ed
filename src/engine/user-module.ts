/**
 * A user module compiled by esbuild for the compiled engine (see ./typescript.ts for why): one that
 * imports only the engine, builtins and (when it lies under the engine's root, so that Node finds
 * the same ones from the compiled file) packages, written to `<USER_MODULES_DIR>/<digest of the
 * tree, path and content>.mjs` with a source map, its imports of the engine rewritten to the compiled engine's
 * modules and `import.meta.url` kept the source's. A module that imports another of the user's
 * (whose own imports would need the same treatment) is left to tsx; that answer is cached too.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { dirname, join, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { COMPILED_TREE, ENGINE_ROOT, ENGINE_SOURCE, runningModuleUrl, SOURCE_CONDITION, USER_MODULES_DIR } from '../install.js';

const FORMAT = 2;
const PACKAGE_NAME = 'lth-pipeline';

/** The engine's own source file that a relative import names (`./x.js` is `./x.ts`), or undefined. */
function engineFile(resolveDir: string, specifier: string): string | undefined {
  const base = resolve(resolveDir, specifier);
  if (!base.startsWith(ENGINE_SOURCE + sep)) return undefined;
  for (const candidate of [base.replace(/\.js$/, '.ts'), `${base}.ts`, join(base, 'index.ts'), base]) {
    if (candidate.endsWith('.ts') && existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** `lth-pipeline[/sub]` through the package's exports, as an engine source file (their SOURCE_CONDITION). */
function packageFile(specifier: string): string | undefined {
  const exports = (JSON.parse(readFileSync(join(ENGINE_ROOT, 'package.json'), 'utf8')) as { exports?: Record<string, string | Record<string, string>> }).exports ?? {};
  const entry = exports[specifier === PACKAGE_NAME ? '.' : `.${specifier.slice(PACKAGE_NAME.length)}`];
  const target = typeof entry === 'object' ? entry[SOURCE_CONDITION] : undefined;
  return target ? join(ENGINE_ROOT, target) : undefined;
}

const BUILTINS = new Set(builtinModules);

/**
 * The engine's zod as the command runs it: bundled into the compiled tree by bin/compiled.js
 * (VENDORED). A user module under the engine's root that imports `zod` gets this one, so that its
 * schemas and the engine's come from one copy (and the 95 files of node_modules' zod are not
 * loaded a second time).
 */
export const VENDORED_ZOD = COMPILED_TREE ? pathToFileURL(join(COMPILED_TREE, 'vendor', 'zod.js')).href : undefined;

/** What only tsx can load: an import of another user module, or of a package from outside the engine's root. */
class NeedsTsx extends Error {}

/** The compiled module's URL, or undefined when tsx must load this one. */
export async function compileUserModule(file: string): Promise<string | undefined> {
  if (!COMPILED_TREE || !USER_MODULES_DIR || !/\.m?ts$/.test(file) || file.includes(`${sep}node_modules${sep}`)) return undefined;
  // Node resolves a package from the compiled file's folder: the same ones as from the source only under the engine's root.
  const packagesResolve = file.startsWith(ENGINE_ROOT + sep);
  const source = await readFile(file, 'utf8');
  // Resolved against the compiled file's location it would name another module.
  if (/\bimport\.meta\.resolve\b/.test(source)) return undefined;
  const digest = createHash('sha256').update(`user-module ${FORMAT}\n${COMPILED_TREE}\n${file}\n`).update(source).digest('hex').slice(0, 32);
  const out = join(USER_MODULES_DIR, `${digest}.mjs`);
  const refused = `${out}.tsx`;
  if (existsSync(out)) return pathToFileURL(out).href;
  if (existsSync(refused)) return undefined;
  const tmp = `.${process.pid}-${Date.now()}`;
  const url = pathToFileURL(file).href;
  try {
    // Not recursive inside a tree: one that bin/compiled.js has dropped meanwhile is not made again, half.
    await mkdir(dirname(out), { recursive: !dirname(out).startsWith(COMPILED_TREE + sep) }).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
    const { build } = await import('esbuild');
    const result = await build({
      entryPoints: [file],
      bundle: true,
      write: false,
      outfile: out,
      // As bin/compiled.js's ESBUILD compiles the engine (bin/ is plain JavaScript, not imported here).
      format: 'esm',
      platform: 'node',
      target: 'node20',
      sourcemap: 'linked',
      sourcesContent: false,
      logLevel: 'silent',
      define: { 'import.meta.url': JSON.stringify(url), 'import.meta.filename': JSON.stringify(file), 'import.meta.dirname': JSON.stringify(dirname(file)) },
      plugins: [
        {
          name: 'lth-imports',
          setup(b) {
            b.onResolve({ filter: /.*/ }, (args) => {
              if (args.kind === 'entry-point') return undefined;
              const spec = args.path;
              if (spec.startsWith('.') || spec.startsWith('/')) {
                const engine = engineFile(args.resolveDir, spec);
                if (!engine) throw new NeedsTsx(spec);
                return { path: runningModuleUrl(engine), external: true };
              }
              if (spec === PACKAGE_NAME || spec.startsWith(`${PACKAGE_NAME}/`)) {
                const engine = packageFile(spec);
                return engine ? { path: runningModuleUrl(engine), external: true } : undefined;
              }
              if (!spec.startsWith('node:') && !BUILTINS.has(spec) && !packagesResolve) throw new NeedsTsx(spec);
              if (spec === 'zod' && VENDORED_ZOD) return { path: VENDORED_ZOD, external: true };
              return { path: spec, external: true };
            });
          },
        },
      ],
    });
    // The map first, so that the module is never there without it.
    const files = [...result.outputFiles].sort((a, b) => Number(b.path.endsWith('.map')) - Number(a.path.endsWith('.map')));
    for (const f of files) {
      await writeFile(f.path + tmp, f.contents);
      await rename(f.path + tmp, f.path);
    }
    return pathToFileURL(out).href;
  } catch (e) {
    const userImport = e instanceof NeedsTsx || (e as { errors?: Array<{ detail?: unknown }> }).errors?.some((x) => x.detail instanceof NeedsTsx);
    // A user import: tsx loads it, from now on without asking esbuild. A compile error: tsx
    // loads it too, and reports the error at its line as for any other module.
    if (userImport) await writeFile(refused, '').catch(() => undefined);
    return undefined;
  }
}
