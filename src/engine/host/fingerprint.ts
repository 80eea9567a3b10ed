/**
 * Code fingerprints. A stage's fingerprint is the hash of its `run` function and of the transitive
 * closure of the project's own top-level declarations that `run` references, each printed from the
 * syntax tree without comments (so formatting and comments do not count), plus the versions of the
 * third-party packages it reaches. Editing a helper that `prune` calls changes `prune`'s
 * fingerprint and nothing else's.
 *
 * Names are resolved from syntax trees and the import graph alone (fingerprint/modules.ts), never
 * with the type checker: that built a type-checked program of everything the stages reach, and
 * `pipeline status pipelines/lenet-mnist-imp.ts` on an empty fingerprint cache took 14-22 s and
 * 580 MB, now 3-5 s and 250 MB (1.4-2.3 s and 185 MB warm, both; a busy 2-core machine). Results
 * are cached with the digests of every file they were computed from, so planning an unchanged
 * project costs one stat per file and does not load TypeScript at all.
 *
 * A stage instance whose params name registered code (a network of `defineModel`: see
 * ../definition/named-code.ts) has that code in its fingerprint too: the statements that
 * registered it, with what they reference, printed and hashed the same way (`ofNode`).
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { ts as TS } from 'ts-morph';
import { PipelineError } from '../../errors.js';
import { digestOfSync, writeFileAtomic, type FileDigestCache } from '../../store/index.js';
import { canonicalJson } from '../definition/canonical.js';
import { formatSite, type CallSite } from '../definition/callsite.js';
import { namedCodeOf, type NamedCode } from '../definition/named-code.js';
import { ModuleGraph, type ModuleInfo, type Package, type Ts } from './fingerprint/modules.js';
import type { StageNode } from '../definition/pipeline.js';
import type { StageDefinition } from '../definition/stage.js';

/** Bump when the way fingerprints are computed changes. 2: syntax-only name resolution. */
const FINGERPRINT_FORMAT = 2;

interface CachedFingerprint {
  fingerprint: string;
  /** Every file the fingerprint depends on, with its digest. */
  files: Record<string, string>;
}

export class Fingerprinter {
  private cache: Record<string, CachedFingerprint> | undefined;
  private dirty = false;
  private parser: { ts: Ts; graph: ModuleGraph; print: (n: TS.Node, m: ModuleInfo) => string } | undefined;
  private readonly memo = new Map<StageDefinition, Promise<string>>();
  /** The settled values of `memo`. */
  private readonly known = new Map<StageDefinition, string>();
  private readonly namedMemo = new Map<NamedCode, Promise<string>>();

  constructor(
    private readonly cacheFile: string,
    private readonly fileDigests: FileDigestCache,
  ) {}

  /** The code fingerprint of a stage definition: its `run` and the project code it reaches. */
  fingerprint(def: StageDefinition): Promise<string> {
    let p = this.memo.get(def);
    if (!p) {
      p = this.compute(def).then((f) => {
        this.known.set(def, f);
        return f;
      });
      this.memo.set(def, p);
    }
    return p;
  }

  /**
   * `ofNode`'s answer when it is known without waiting (the definition's fingerprint is settled
   * and the instance names no registered code), else undefined. Planning asks for every instance
   * in turn and most share a definition: 1,000 awaits of ofNode were ~3 ms of a no-op run.
   */
  ofNodeNow(node: Pick<StageNode, 'def' | 'params'>): string | undefined {
    const stage = this.known.get(node.def);
    return stage !== undefined && namedCodeOf(node.def.schema, node.params.effective).length === 0 ? stage : undefined;
  }

  /**
   * The code fingerprint of a stage instance: its definition's, and, when its params name
   * registered code, that code's too. An instance that names none has its definition's.
   */
  async ofNode(node: Pick<StageNode, 'def' | 'params'>): Promise<string> {
    const stage = await this.fingerprint(node.def);
    const named = namedCodeOf(node.def.schema, node.params.effective);
    if (named.length === 0) return stage;
    const code = await Promise.all(named.map(async (n) => ({ kind: n.kind, name: n.name, code: await this.namedFingerprint(n) })));
    return digestOfSync(canonicalJson({ format: FINGERPRINT_FORMAT, stage, named: code }));
  }

  private namedFingerprint(entry: NamedCode): Promise<string> {
    let p = this.namedMemo.get(entry);
    if (!p) {
      p = this.computeNamed(entry);
      this.namedMemo.set(entry, p);
    }
    return p;
  }

  private async computeNamed(entry: NamedCode): Promise<string> {
    const sites = entry.sites();
    if (sites.length === 0) {
      throw new PipelineError('INTERNAL', `cannot tell which project file registered ${entry.kind} '${entry.name}' for its code fingerprint`, {
        hint: `register it from a project module (a pipeline file, or a module it imports)`,
      });
    }
    const cache = await this.loadCache();
    const cacheKey = `${FINGERPRINT_FORMAT}:${entry.kind}:${entry.name}@${sites.map((s) => `${s.file}:${s.line}`).join(',')}`;
    const hit = cache[cacheKey];
    if (hit && (await this.fileDigests.unchanged(hit.files))) return hit.fingerprint;
    const { fingerprint, files } = this.analyseNamed(sites);
    cache[cacheKey] = { fingerprint, files: await this.fileDigests.digestsOf(files) };
    this.dirty = true;
    return fingerprint;
  }

  private async loadCache(): Promise<Record<string, CachedFingerprint>> {
    if (!this.cache) {
      try {
        this.cache = JSON.parse(await readFile(this.cacheFile, 'utf8')) as Record<string, CachedFingerprint>;
      } catch {
        this.cache = {};
      }
      // Entries of older formats are never looked up again: drop them rather than keep them forever.
      for (const key of Object.keys(this.cache)) {
        if (!key.startsWith(`${FINGERPRINT_FORMAT}:`)) {
          delete this.cache[key];
          this.dirty = true;
        }
      }
    }
    return this.cache;
  }

  private async compute(def: StageDefinition): Promise<string> {
    const cache = await this.loadCache();
    const cacheKey = `${FINGERPRINT_FORMAT}:${def.site.file}#${def.name}@${def.version}`;
    const hit = cache[cacheKey];
    if (hit && (await this.fileDigests.unchanged(hit.files))) return hit.fingerprint;
    const { fingerprint, files } = this.analyse(def);
    cache[cacheKey] = { fingerprint, files: await this.fileDigests.digestsOf(files) };
    this.dirty = true;
    return fingerprint;
  }

  async save(): Promise<void> {
    if (this.dirty && this.cache) await writeFileAtomic(this.cacheFile, JSON.stringify(this.cache));
    this.dirty = false;
    await this.fileDigests.save();
  }

  private analyse(def: StageDefinition): { fingerprint: string; files: Set<string> } {
    const { ts, graph, print } = (this.parser ??= parser());
    const home = graph.module(def.site.file)!;
    const run = findRun(ts, home.sf, def);
    const { texts, packages, files } = this.closure([[run, home]], topLevelStatement(run));
    files.add(def.site.file);
    const fingerprint = digestOfSync(canonicalJson({ format: FINGERPRINT_FORMAT, version: def.version, run: print(run, home), closure: texts, packages }));
    return { fingerprint, files };
  }

  /** Registered code: the top-level statements at its sites, and the closure of what they reference. */
  private analyseNamed(sites: readonly CallSite[]): { fingerprint: string; files: Set<string> } {
    const { ts, graph } = (this.parser ??= parser());
    const roots: Array<[TS.Node, ModuleInfo]> = [];
    for (const site of sites) {
      const m = graph.module(site.file);
      const st = m ? statementAt(ts, m.sf, site.line) : undefined;
      if (!m || !st) {
        throw new PipelineError('INTERNAL', `cannot find the statement at ${formatSite(site)} for a code fingerprint`, { where: formatSite(site) });
      }
      roots.push([st, m]);
    }
    const { texts, packages, files } = this.closure(roots, undefined);
    for (const site of sites) files.add(site.file);
    return { fingerprint: digestOfSync(canonicalJson({ format: FINGERPRINT_FORMAT, named: texts, packages })), files };
  }

  /**
   * The project's top-level declarations that `roots` reference, transitively, printed (sorted),
   * the packages they reach, and the files involved. A root that is itself a top-level statement
   * is printed too; `exclude` (the `defineStage` statement around a `run`) is not.
   */
  private closure(roots: ReadonlyArray<[TS.Node, ModuleInfo]>, exclude: TS.Node | undefined): { texts: string[]; packages: Record<string, string>; files: Set<string> } {
    const { ts, graph, print } = (this.parser ??= parser());
    const files = new Set<string>();
    const packages = new Map<string, string>();
    const texts = new Set<string>(); // a declaration's identity is its printed text
    const included = new Set<TS.Node>();
    const wholeModules = new Set<ModuleInfo>();
    const queue: Array<[TS.Node, ModuleInfo]> = [];

    const include = (st: TS.Node, m: ModuleInfo): void => {
      if (st === exclude || included.has(st)) return;
      included.add(st);
      texts.add(print(st, m));
      queue.push([st, m]);
    };
    const addPackage = (pkg: Package): void => {
      packages.set(pkg.name, pkg.version);
      files.add(pkg.manifest);
    };
    /** Follows `spec` from `m` to the module's export `name` ('*': the whole module). */
    const follow = (m: ModuleInfo, spec: string, name: string): void => {
      const target = graph.resolve(m.path, spec);
      if (target && 'package' in target) addPackage(target.package);
      if (!target || !('file' in target)) return;
      files.add(target.file); // re-exporting barrels on the way count too
      if (target.module && name === '*') whole(target.module);
      else if (target.module) exported(target.module, name);
    };
    const local = (m: ModuleInfo, name: string): void => {
      const decls = m.locals.get(name);
      const imp = m.imports.get(name);
      if (decls) for (const d of decls) include(d, m);
      else if (imp) follow(m, imp.spec, imp.name);
      // else: a global (Math, process) or a name bound only in a type position
    };
    /** Includes what `m` exports as `name`; false when it exports no such name. */
    const exported = (m: ModuleInfo, name: string, visiting = new Set<ModuleInfo>()): boolean => {
      const e = m.exports.get(name);
      if (e) {
        if ('local' in e) local(m, e.local);
        else if ('statement' in e) include(e.statement, m);
        else follow(m, e.spec, e.name);
        return true;
      }
      if (name === 'default') return false; // `export *` leaves defaults out
      visiting.add(m);
      for (const spec of m.stars) {
        const target = graph.resolve(m.path, spec);
        if (target && 'package' in target) addPackage(target.package); // `name` may come from there
        if (!target || !('file' in target)) continue;
        files.add(target.file);
        if (target.module && !visiting.has(target.module) && exported(target.module, name, visiting)) return true;
      }
      return false;
    };
    /** A namespace used other than as `ns.x`: everything the module declares and re-exports. */
    const whole = (m: ModuleInfo): void => {
      if (wholeModules.has(m)) return;
      wholeModules.add(m);
      for (const decls of m.locals.values()) for (const d of decls) include(d, m);
      for (const e of m.exports.values()) if ('statement' in e) include(e.statement, m);
      for (const e of m.exports.values()) if ('spec' in e) follow(m, e.spec, e.name);
      for (const spec of m.stars) follow(m, spec, '*');
    };
    /*
     * Names are matched against the file's top-level declarations and imports without looking at
     * scopes: a local variable or parameter that shadows a top-level name makes that declaration
     * count too. That only over-includes, so it can rerun a stage needlessly, never skip one.
     */
    const reference = (id: TS.Identifier, m: ModuleInfo): void => {
      const imp = m.locals.has(id.text) ? undefined : m.imports.get(id.text);
      const parent = id.parent;
      if (imp?.name !== '*') local(m, id.text);
      else if (ts.isPropertyAccessExpression(parent) && parent.expression === id) follow(m, imp.spec, parent.name.text);
      else follow(m, imp.spec, '*');
    };
    const visit = (n: TS.Node, m: ModuleInfo): void => {
      if (ts.isIdentifier(n)) {
        if (isReference(ts, n)) reference(n, m);
      } else if (ts.isExpressionWithTypeArguments(n)) {
        visit(n.expression, m); // `class A extends B<T>`: B is a value, T a type
      } else if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword && n.arguments[0] && ts.isStringLiteral(n.arguments[0])) {
        follow(m, n.arguments[0].text, '*'); // import('../x.js'): what is used of it is not known
      } else if (!isTypeOnly(ts, n)) {
        ts.forEachChild(n, (c) => visit(c, m));
      }
    };
    for (const [node, m] of roots) {
      if (node.parent === m.sf) include(node, m);
      else queue.push([node, m]);
    }
    while (queue.length > 0) {
      const [node, m] = queue.pop()!;
      visit(node, m);
    }
    return { texts: [...texts].sort(), packages: Object.fromEntries([...packages].sort()), files };
  }
}

function parser(): { ts: Ts; graph: ModuleGraph; print: (n: TS.Node, m: ModuleInfo) => string } {
  // Loaded only when a cached fingerprint is stale, and with require: an ESM import of the 9 MB
  // compiler first scans it for its export names (0.25 s more). TypeScript as ts-morph bundles it
  // (one compiler for the engine: the type check uses it too, src/engine/host/typecheck.ts).
  const ts = (createRequire(import.meta.url)('ts-morph') as { ts: Ts }).ts;
  const printer = ts.createPrinter({ removeComments: true });
  // Stages share most of their closure: printing each declaration once, not once per stage, cut
  // printing for the 8 stages of src/lth from 0.64 s to 0.17 s.
  const printed = new Map<TS.Node, string>();
  const print = (n: TS.Node, m: ModuleInfo): string => {
    let text = printed.get(n);
    if (text === undefined) printed.set(n, (text = printer.printNode(ts.EmitHint.Unspecified, n, m.sf)));
    return text;
  };
  return { ts, graph: new ModuleGraph(ts), print };
}

/** Types, interfaces and `implements` clauses: they do not change what runs. */
function isTypeOnly(ts: Ts, n: TS.Node): boolean {
  return (
    ts.isTypeNode(n) ||
    ts.isInterfaceDeclaration(n) ||
    ts.isTypeAliasDeclaration(n) ||
    ts.isTypeParameterDeclaration(n) ||
    (ts.isHeritageClause(n) && n.token === ts.SyntaxKind.ImplementsKeyword)
  );
}

/** Whether an identifier names a value, rather than a property, a declaration or a label. */
function isReference(ts: Ts, id: TS.Identifier): boolean {
  const p = id.parent as TS.Node & { name?: TS.Node; propertyName?: TS.Node; label?: TS.Node };
  if (ts.isShorthandPropertyAssignment(p)) return p.name === id; // `{ shape }` uses `shape`
  if (ts.isQualifiedName(p)) return p.left === id;
  // `a.b`'s b, `{ b: 1 }`, `b = 1` in a class, `const b = ...`, `{ b: c } = ...`, `import.meta`, labels
  return p.name !== id && p.propertyName !== id && p.label !== id;
}

/** The top-level statement of `sf` that spans `line` (1-based). */
function statementAt(ts: Ts, sf: TS.SourceFile, line: number): TS.Statement | undefined {
  const lineOf = (pos: number): number => sf.getLineAndCharacterOfPosition(pos).line + 1;
  return sf.statements.find((st) => !ts.isImportDeclaration(st) && lineOf(st.getStart(sf)) <= line && lineOf(st.getEnd()) >= line);
}

function topLevelStatement(node: TS.Node): TS.Node {
  let n = node;
  while (n.parent?.parent) n = n.parent; // a SourceFile has no parent
  return n;
}

/** The `run` of the `defineStage({...})` call at the definition's call site. */
function findRun(ts: Ts, sf: TS.SourceFile, def: StageDefinition): TS.Node {
  const calls: TS.CallExpression[] = [];
  const collect = (n: TS.Node): void => {
    if (ts.isCallExpression(n) && /(^|\.)defineStage$/.test(n.expression.getText(sf))) calls.push(n);
    ts.forEachChild(n, collect);
  };
  collect(sf);
  const line = (pos: number): number => sf.getLineAndCharacterOfPosition(pos).line + 1;
  const onLine = calls.filter((c) => line(c.getStart(sf)) <= def.site.line && line(c.getEnd()) >= def.site.line);
  const candidates = onLine.length > 0 ? onLine : calls;
  for (const call of candidates) {
    const arg = call.arguments[0];
    if (!arg || !ts.isObjectLiteralExpression(arg)) continue;
    const property = (name: string) => arg.properties.find((p) => p.name && (ts.isIdentifier(p.name) || ts.isStringLiteral(p.name)) && p.name.text === name);
    const nameProp = property('name');
    const nameText = nameProp && ts.isPropertyAssignment(nameProp) ? nameProp.initializer.getText(sf).slice(1, -1) : undefined;
    if (nameText !== undefined && nameText !== def.name && candidates.length > 1) continue;
    const runProp = property('run');
    if (runProp && (ts.isMethodDeclaration(runProp) || ts.isShorthandPropertyAssignment(runProp))) return runProp;
    if (runProp && ts.isPropertyAssignment(runProp)) return runProp.initializer;
  }
  throw new PipelineError('INTERNAL', `cannot find the run function of stage '${def.name}' for its code fingerprint`, {
    where: formatSite(def.site),
    hint: 'define stages as defineStage({ name: ..., run(ctx) { ... } }) with an object literal',
  });
}
