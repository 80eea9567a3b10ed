/**
 * The project's import graph for code fingerprints, from syntax trees alone: what each file
 * declares, imports and exports, and where a module specifier leads (a project file, or an npm
 * package and its version). TypeScript is asked to parse, never to type-check (why: see
 * ../fingerprint.ts).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, extname, isAbsolute, join, resolve } from 'node:path';
import type { ts as TS } from 'ts-morph';

export type Ts = typeof TS;

/** Where an exported name comes from. */
export type Export = { local: string } | { statement: TS.Statement } | { spec: string; name: string };

export interface ModuleInfo {
  path: string;
  sf: TS.SourceFile;
  /** Top-level value declarations by the names they bind; interfaces and type aliases are left out. */
  locals: Map<string, TS.Statement[]>;
  /** Imported local name -> specifier and imported name ('default', '*' for a namespace); not type-only ones. */
  imports: Map<string, { spec: string; name: string }>;
  exports: Map<string, Export>;
  /** Specifiers of `export * from`. */
  stars: string[];
}

export interface Package {
  name: string;
  version: string;
  manifest: string;
}

/** A specifier's target: a project file (module undefined when it is not code, e.g. JSON), or a package. */
export type Target = { file: string; module: ModuleInfo | undefined } | { package: Package };

const CODE = /\.(ts|tsx|mts|cts|js|jsx|mjs|cjs)$/;
const JS_TO_TS: Record<string, string[]> = { '.js': ['.ts', '.tsx'], '.jsx': ['.tsx'], '.mjs': ['.mts'], '.cjs': ['.cts'] };

export class ModuleGraph {
  // Each file is parsed at most once per graph, and the CLI makes one graph per process.
  private readonly modules = new Map<string, ModuleInfo | undefined>();
  private readonly targets = new Map<string, Target | undefined>();
  private readonly packages = new Map<string, Package | undefined>();

  constructor(private readonly ts: Ts) {}

  module(path: string): ModuleInfo | undefined {
    if (!this.modules.has(path)) {
      const code = CODE.test(path) && !path.endsWith('.d.ts');
      this.modules.set(path, code ? indexModule(this.ts, path, readFileSync(path, 'utf8')) : undefined);
    }
    return this.modules.get(path);
  }

  /** Where `spec`, imported by the file `from`, leads; undefined for Node built-ins and what is not found. */
  resolve(from: string, spec: string): Target | undefined {
    const key = `${dirname(from)}\0${spec}`;
    if (!this.targets.has(key)) this.targets.set(key, this.lookup(from, spec));
    return this.targets.get(key);
  }

  private lookup(from: string, spec: string): Target | undefined {
    if (spec.startsWith('.') || isAbsolute(spec)) {
      const base = resolve(dirname(from), spec);
      const ext = extname(base);
      const candidates = [...(JS_TO_TS[ext] ?? []).map((e) => base.slice(0, -ext.length) + e), base];
      for (const e of ['.ts', '.tsx', '/index.ts', '/index.tsx', '.js', '/index.js']) candidates.push(base + e);
      const file = candidates.find(isFile);
      return file ? { file, module: this.module(file) } : undefined;
    }
    if (spec.startsWith('node:') || builtinModules.includes(spec.split('/')[0]!)) return undefined;
    const parts = spec.split('/');
    const pkg = this.packageOf(dirname(from), spec.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!);
    return pkg ? { package: pkg } : undefined;
  }

  /** The package `name` as Node finds it from `dir`: in the nearest node_modules folder above. */
  private packageOf(dir: string, name: string): Package | undefined {
    const key = `${dir}\0${name}`;
    if (!this.packages.has(key)) {
      const manifest = join(dir, 'node_modules', name, 'package.json');
      let found: Package | undefined;
      if (existsSync(manifest)) {
        try {
          found = { name, version: String((JSON.parse(readFileSync(manifest, 'utf8')) as { version?: unknown }).version ?? '0'), manifest };
        } catch {
          found = undefined;
        }
      } else if (dirname(dir) !== dir) {
        found = this.packageOf(dirname(dir), name);
      }
      this.packages.set(key, found);
    }
    return this.packages.get(key);
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function indexModule(ts: Ts, path: string, text: string): ModuleInfo {
  const sf = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
  const m: ModuleInfo = { path, sf, locals: new Map(), imports: new Map(), exports: new Map(), stars: [] };
  for (const st of sf.statements) {
    if (ts.isImportDeclaration(st)) {
      const clause = st.importClause;
      if (!clause || clause.isTypeOnly || !ts.isStringLiteral(st.moduleSpecifier)) continue;
      const spec = st.moduleSpecifier.text;
      if (clause.name) m.imports.set(clause.name.text, { spec, name: 'default' });
      const bindings = clause.namedBindings;
      if (bindings && ts.isNamespaceImport(bindings)) m.imports.set(bindings.name.text, { spec, name: '*' });
      else for (const e of bindings?.elements ?? []) if (!e.isTypeOnly) m.imports.set(e.name.text, { spec, name: (e.propertyName ?? e.name).text });
    } else if (ts.isExportDeclaration(st)) {
      if (st.isTypeOnly) continue;
      const spec = st.moduleSpecifier && ts.isStringLiteral(st.moduleSpecifier) ? st.moduleSpecifier.text : undefined;
      const clause = st.exportClause;
      if (!clause) {
        if (spec) m.stars.push(spec);
      } else if (ts.isNamespaceExport(clause)) {
        if (spec) m.exports.set(clause.name.text, { spec, name: '*' });
      } else {
        for (const e of clause.elements) {
          if (e.isTypeOnly) continue;
          const name = (e.propertyName ?? e.name).text;
          m.exports.set(e.name.text, spec ? { spec, name } : { local: name });
        }
      }
    } else if (ts.isExportAssignment(st)) {
      if (!st.isExportEquals) m.exports.set('default', { statement: st });
    } else {
      const names = boundNames(ts, st);
      for (const n of names) m.locals.set(n, [...(m.locals.get(n) ?? []), st]);
      const mods = ts.canHaveModifiers(st) ? (ts.getModifiers(st) ?? []) : [];
      if (!mods.some((x) => x.kind === ts.SyntaxKind.ExportKeyword)) continue;
      if (mods.some((x) => x.kind === ts.SyntaxKind.DefaultKeyword)) m.exports.set('default', names[0] ? { local: names[0] } : { statement: st });
      else for (const n of names) m.exports.set(n, { local: n });
    }
  }
  return m;
}

/** The value names a top-level statement declares. */
function boundNames(ts: Ts, st: TS.Statement): string[] {
  if (ts.isFunctionDeclaration(st) || ts.isClassDeclaration(st) || ts.isEnumDeclaration(st)) return st.name ? [st.name.text] : [];
  if (ts.isModuleDeclaration(st)) return ts.isIdentifier(st.name) && !(st.flags & ts.NodeFlags.GlobalAugmentation) ? [st.name.text] : [];
  if (ts.isVariableStatement(st)) return st.declarationList.declarations.flatMap((d) => bindingNames(ts, d.name));
  return [];
}

function bindingNames(ts: Ts, name: TS.BindingName): string[] {
  if (ts.isIdentifier(name)) return [name.text];
  return name.elements.flatMap((e) => (ts.isOmittedExpression(e) ? [] : bindingNames(ts, e.name)));
}
