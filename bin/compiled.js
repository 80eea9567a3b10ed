// The engine (src/) runs as JavaScript compiled ahead of the command, not through tsx's loader.
//
// Why: with a module loader registered, every import (the engine's ~90 modules, zod's ~95) is a
// round trip to the loader's thread. Warm `status` of the LeNet pipeline measured 0.65 s through
// tsx and 0.33 s on the same modules precompiled (bench/RESULTS.md, "The first minute"); tsx's
// registration alone is 130-190 ms, so the commands register it only when a TypeScript file of the
// user's is imported (src/engine/typescript.ts).
//
// Where the compiled tree comes from:
// - The package ships one: `dist/` (`npm run build`, the package's prepack), with the `.d.ts`
//   types that `exports` names. An installed package (its root under node_modules) runs it while
//   its source files are those it was built from, by path and size (npm writes every file's mtime
//   anew when it installs, so mtimes cannot tell); it is never written to (an install may be
//   read-only). A clone builds its own, below, whatever `npm pack` left in its dist/.
//   An installed package whose sources differ from its tree's (edited in node_modules) runs
//   through tsx, with a note: a tree built elsewhere would not find the package's dependencies.
// - A clone builds a cache: `.build/<stamp>/src/**.js` (with source maps, which map stack frames
//   back to src/*.ts for error messages and code fingerprints), where the stamp digests every
//   source file's path, size and mtime. Any edit gives a new stamp and a
//   rebuild (esbuild, ~0.3 s for the whole tree); a build is written to a temporary folder and
//   renamed into place, so concurrent commands never see half a tree.
// `PIPELINE_FROM_SOURCE=1` runs everything through tsx instead (for debugging the engine).
// Each tree's `tree.json` marks it as one (src/install.ts reads it) and names the engine's root.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Bump when the compile options below change, so that existing trees are rebuilt. */
const FORMAT = 5;
/**
 * Trees are dropped when unused for an hour (each command touches its tree when it starts, and
 * every ten minutes while it runs: src/install.ts keepCompiledTreeInUse), but
 * the three most recently used are always kept: a long run started before an edit still imports
 * modules of its own tree, and its stage processes use that tree too (LTH_ENGINE_TREE).
 */
const KEEP = 3;
const UNUSED_MS = 3600_000;

/**
 * The .ts files under `source`, as sorted relative paths. Walked folder by folder: Node 20's
 * `readdirSync(..., { recursive: true })` took 5-7.6 ms for src/'s 176 files, this 1.0-1.5 ms.
 */
function sourceFiles(source) {
  const files = [];
  const walk = (rel) => {
    for (const entry of readdirSync(rel ? join(source, rel) : source, { withFileTypes: true })) {
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(path);
      else if (path.endsWith('.ts') && !path.endsWith('.d.ts')) files.push(path);
    }
  };
  walk('');
  return files.sort();
}

/**
 * The stamp of the sources (see the top), and their listing: the digest of their paths and sizes
 * alone, which a shipped tree records.
 */
function stampOf(source, files) {
  const h = createHash('sha256').update(`lth-build ${FORMAT} ${process.version}\n`);
  const listing = createHash('sha256').update(`lth-sources ${FORMAT}\n`);
  for (const f of files) {
    const s = statSync(join(source, f));
    h.update(`${f} ${s.size} ${s.mtimeMs}\n`);
    listing.update(`${f} ${s.size}\n`);
  }
  return { stamp: h.digest('hex').slice(0, 16), listing: listing.digest('hex').slice(0, 32) };
}

const installed = (root) => root.split(sep).includes('node_modules');

/**
 * The marker of a compiled tree: the engine's root, relative to the tree (a shipped tree moves
 * with its package), and for a shipped tree the listing of the sources it was built from.
 */
function writeMarker(tree, root, shipped) {
  writeFileSync(join(tree, 'tree.json'), `${JSON.stringify({ format: FORMAT, root: relative(tree, root) || '.', ...shipped })}\n`);
}

/** How every module of the tree is compiled (src/engine/user-module.ts compiles the user's alike). */
const ESBUILD = { format: 'esm', platform: 'node', target: 'node20', sourcemap: 'linked', sourcesContent: false, logLevel: 'silent' };

const complete = (tree) => existsSync(join(tree, 'src'));

/** zod's locale index (`z.locales`) as its English locale alone. */
const englishOnly = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /[\\/]locales[\\/]index\.js$/ }, () => ({ path: 'zod-locales', namespace: 'zod-english-only' }));
    b.onLoad({ filter: /.*/, namespace: 'zod-english-only' }, () => ({ contents: "export { default as en } from 'zod/v4/locales/en.js';", resolveDir: ROOT }));
  },
};

/**
 * The packages every command loads, each bundled into one module of the tree (`vendor/<name>.js`,
 * from the engine's own node_modules) with whitespace dropped (names kept, so class names and
 * stack frames read as the package's). Through Node's loader, a package costs its files one by
 * one: zod's ESM build is 95 files (45-55 ms of every start), commander 7 CommonJS files (10 ms),
 * p-queue 5 (8 ms); bundled, 25, 4 and 2 ms (`import` alone, medians of 21, bench/RESULTS.md).
 * zod's 48 locales are 360 KB of its 760 KB and only English is used (zod's default; `z.locales`
 * keeps only `en`). Not hasha: it starts a worker from a file beside its own module. Packages
 * loaded only by some commands (ts-morph, TensorFlow.js, the AWS SDK, BullMQ) stay in
 * node_modules, imported when needed.
 */
/**
 * commander requires node:child_process when it loads, for subcommands that are executables
 * (which this CLI has none of): that builtin and what it pulls in (dgram, net's socket list) were
 * 3-4 ms of every start. It gets a stand-in that requires it on first use.
 */
const childProcessOnUse = {
  name: 'child-process-on-use',
  setup(b) {
    b.onResolve({ filter: /^node:child_process$/ }, (args) =>
      args.namespace === 'child-process-on-use' ? { path: args.path, external: true } : { path: 'child_process', namespace: 'child-process-on-use' },
    );
    b.onLoad({ filter: /.*/, namespace: 'child-process-on-use' }, () => ({
      contents: "let loaded; module.exports = new Proxy({}, { get: (_, name) => (loaded ??= require('node:child_process'))[name] });",
      loader: 'js',
    }));
  },
};

const VENDORED = {
  zod: { contents: "export * from 'zod';", plugins: [englishOnly] },
  commander: { contents: "export * from 'commander';", plugins: [childProcessOnUse] },
  'p-queue': { contents: "export * from 'p-queue'; export { default } from 'p-queue';" },
};
/** For the CommonJS inside a bundled package (commander's `require('node:events')`). */
const REQUIRE_BANNER = "import { createRequire as __lthCreateRequire } from 'node:module'; const require = __lthCreateRequire(import.meta.url);";

/**
 * Each source file compiles to its own module (bundle: true only lets this plugin rewrite
 * imports): its relative imports stay as they are, a VENDORED package goes to its bundled
 * vendor/<name>.js, and every other package is left to Node.
 */
function vendorAndExternal(source) {
  return {
    name: 'lth-engine-imports',
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        if (args.kind === 'entry-point') return undefined;
        if (Object.hasOwn(VENDORED, args.path)) {
          const out = relative(dirname(join('src', relative(source, args.importer))), join('vendor', `${args.path}.js`));
          return { path: out.startsWith('.') ? out : `./${out}`, external: true };
        }
        return { path: args.path, external: true };
      });
    },
  };
}

async function build(root, source, files, target, { shipped, replace = false } = {}) {
  const { build: esbuild } = await import('esbuild');
  const tmp = join(dirname(target), `.tmp-${process.pid}-${Date.now()}`);
  mkdirSync(tmp, { recursive: true });
  try {
    for (const [name, { contents, plugins = [] }] of Object.entries(VENDORED)) {
      await esbuild({
        stdin: { contents, resolveDir: ROOT, sourcefile: `${name}.js` }, // the engine's own copy
        outfile: join(tmp, 'vendor', `${name}.js`),
        bundle: true,
        plugins,
        banner: { js: REQUIRE_BANNER },
        ...ESBUILD,
        minifyWhitespace: true,
        minifySyntax: true,
      });
    }
    await esbuild({
      entryPoints: files.map((f) => join(source, f)),
      bundle: true,
      plugins: [vendorAndExternal(source)],
      outdir: join(tmp, 'src'),
      outbase: source,
      ...ESBUILD,
    });
    writeMarker(tmp, root, shipped);
    if (replace) rmSync(target, { recursive: true, force: true });
    try {
      renameSync(tmp, target);
    } catch (e) {
      // Another command built the same stamp first: theirs is the same tree.
      if (!complete(target)) throw e;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Drops the trees unused for UNUSED_MS beyond the KEEP most recently used (a tree's mtime is touched on each use). */
function prune(buildRoot, current) {
  let trees;
  try {
    trees = readdirSync(buildRoot).filter((d) => /^[0-9a-f]{16}$/.test(d) && d !== current);
  } catch {
    return;
  }
  const used = trees.map((d) => ({ d, t: statSync(join(buildRoot, d)).mtimeMs })).sort((a, b) => b.t - a.t);
  const now = Date.now();
  for (const { d, t } of used.slice(KEEP - 1)) if (now - t > UNUSED_MS) rmSync(join(buildRoot, d), { recursive: true, force: true });
}

/** `<root>/dist`, the tree an installed package ships, when it was built from these sources. */
function shippedTree(root, listing) {
  const tree = join(root, 'dist');
  try {
    const marker = JSON.parse(readFileSync(join(tree, 'tree.json'), 'utf8'));
    return marker.format === FORMAT && marker.shipped && marker.sources === listing && complete(tree) ? tree : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The compiled tree of `<root>/src`: an installed package's shipped one, else `.build/<stamp>`,
 * built first when the sources changed since the last build.
 */
export async function compiledTree(root) {
  const source = join(root, 'src');
  const files = sourceFiles(source);
  const { stamp, listing } = stampOf(source, files);
  if (installed(root)) {
    const shipped = shippedTree(root, listing);
    if (shipped) return shipped;
    throw new Error(`its compiled tree (${join(root, 'dist')}) was not built from its sources as they are now`);
  }
  const tree = join(root, '.build', stamp);
  if (!complete(tree)) {
    rmSync(tree, { recursive: true, force: true }); // what a command that lost its tree to prune() may have left
    await build(root, source, files, tree);
    prune(dirname(tree), stamp);
  } else {
    const now = new Date();
    utimesSync(tree, now, now);
  }
  return tree;
}

/** Builds the tree the package ships, `<root>/dist` (`npm run build`; the .d.ts types are tsc's, beside it). */
export async function buildShippedTree(root) {
  const source = join(root, 'src');
  const files = sourceFiles(source);
  const { listing } = stampOf(source, files);
  await build(root, source, files, join(root, 'dist'), { shipped: { shipped: true, sources: listing }, replace: true });
}

/**
 * The URL of the module to run for the engine's `src/<path>.ts` (`path` without extension): its
 * compiled JavaScript (in a stage's process, from the tree of the command that started it); or,
 * under PIPELINE_FROM_SOURCE, the TypeScript itself with tsx registered.
 */
export async function engineModule(path) {
  const inherited = process.env.LTH_ENGINE_TREE;
  if (inherited && existsSync(join(inherited, 'src', `${path}.js`))) return pathToFileURL(join(inherited, 'src', `${path}.js`)).href;
  if (!process.env.PIPELINE_FROM_SOURCE) {
    try {
      return pathToFileURL(join(await compiledTree(ROOT), 'src', `${path}.js`)).href;
    } catch (e) {
      // A read-only clone, a full disk, an installed package edited in place: slower, but it runs.
      process.stderr.write(`note: no compiled engine: ${e?.code ?? e?.message ?? e}; running it through tsx\n`);
    }
  }
  const { register } = await import('tsx/esm/api');
  register();
  return pathToFileURL(join(ROOT, 'src', `${path}.ts`)).href;
}
