/**
 * Code fingerprints. A stage's fingerprint is the hash of its `run` function and of the transitive
 * closure of the project's own declarations that `run` references, each printed from the syntax
 * tree without comments (so formatting and comments do not count), plus the versions of the
 * third-party packages it reaches. Editing a helper that `prune` calls changes `prune`'s
 * fingerprint and nothing else's.
 *
 * ts-morph (the TypeScript compiler) is loaded only when a fingerprint must be computed: results
 * are cached together with the digests of every file they were computed from, so planning an
 * unchanged project costs one stat per file.
 */
import { readFile } from 'node:fs/promises';
import { join, sep } from 'node:path';
import type { Node as MorphNode, Project as MorphProject, SourceFile } from 'ts-morph';
import { PipelineError } from '../errors.js';
import { digestOfSync, writeFileAtomic, type FileDigestCache } from '../store/index.js';
import { canonicalJson } from './canonical.js';
import { formatSite } from './callsite.js';
import type { StageDefinition } from './stage.js';

/** Bump when the way fingerprints are computed changes. */
const FINGERPRINT_FORMAT = 1;

interface CachedFingerprint {
  fingerprint: string;
  /** Every file the fingerprint depends on, with its digest. */
  files: Record<string, string>;
}

type TsMorph = typeof import('ts-morph');

export class Fingerprinter {
  private cache: Record<string, CachedFingerprint> | undefined;
  private dirty = false;
  private morph: { lib: TsMorph; project: MorphProject } | undefined;
  private readonly memo = new Map<StageDefinition, Promise<string>>();

  constructor(
    private readonly cacheFile: string,
    private readonly fileDigests: FileDigestCache,
  ) {}

  fingerprint(def: StageDefinition): Promise<string> {
    let p = this.memo.get(def);
    if (!p) {
      p = this.compute(def);
      this.memo.set(def, p);
    }
    return p;
  }

  private async loadCache(): Promise<Record<string, CachedFingerprint>> {
    if (!this.cache) {
      try {
        this.cache = JSON.parse(await readFile(this.cacheFile, 'utf8')) as Record<string, CachedFingerprint>;
      } catch {
        this.cache = {};
      }
    }
    return this.cache;
  }

  private async compute(def: StageDefinition): Promise<string> {
    const cache = await this.loadCache();
    const cacheKey = `${FINGERPRINT_FORMAT}:${def.site.file}#${def.name}@${def.version}`;
    const hit = cache[cacheKey];
    if (hit && (await this.stillValid(hit))) return hit.fingerprint;
    const { fingerprint, files } = await this.analyse(def);
    const digests: Record<string, string> = {};
    for (const f of files) {
      const d = await this.fileDigests.digest(f);
      if (d) digests[f] = d;
    }
    cache[cacheKey] = { fingerprint, files: digests };
    this.dirty = true;
    return fingerprint;
  }

  private async stillValid(entry: CachedFingerprint): Promise<boolean> {
    for (const [file, digest] of Object.entries(entry.files)) {
      if ((await this.fileDigests.digest(file)) !== digest) return false;
    }
    return true;
  }

  async save(): Promise<void> {
    if (this.dirty && this.cache) await writeFileAtomic(this.cacheFile, JSON.stringify(this.cache));
    this.dirty = false;
    await this.fileDigests.save();
  }

  private async project(): Promise<{ lib: TsMorph; project: MorphProject }> {
    if (!this.morph) {
      const lib = await import('ts-morph');
      const project = new lib.Project({
        skipAddingFilesFromTsConfig: true,
        compilerOptions: {
          allowJs: true,
          target: lib.ts.ScriptTarget.ES2022,
          module: lib.ts.ModuleKind.NodeNext,
          moduleResolution: lib.ts.ModuleResolutionKind.NodeNext,
          types: [],
          skipLibCheck: true,
          noEmit: true,
        },
      });
      this.morph = { lib, project };
    }
    return this.morph;
  }

  private async analyse(def: StageDefinition): Promise<{ fingerprint: string; files: Set<string> }> {
    const { lib, project } = await this.project();
    const { SyntaxKind, Node, ts } = lib;
    const sourceFile = project.getSourceFile(def.site.file) ?? project.addSourceFileAtPath(def.site.file);
    const run = findRun(lib, sourceFile, def);
    const printer = ts.createPrinter({ removeComments: true });
    const print = (n: MorphNode): string => printer.printNode(ts.EmitHint.Unspecified, n.compilerNode, n.getSourceFile().compilerNode);

    const files = new Set<string>([def.site.file]);
    const packages = new Map<string, string>();
    const included = new Set<MorphNode>();
    const texts: string[] = [];
    const queue: MorphNode[] = [run];
    const runStatement = topLevelStatement(run);

    while (queue.length > 0) {
      const node = queue.pop()!;
      for (const id of node.getDescendantsOfKind(SyntaxKind.Identifier)) {
        let symbol = id.getSymbol();
        if (!symbol) continue;
        // Follow imports and re-exports to the declaration itself; the files on the way count.
        for (const d of symbol.getDeclarations()) files.add(d.getSourceFile().getFilePath());
        if (symbol.isAlias()) symbol = symbol.getAliasedSymbol() ?? symbol;
        for (const decl of symbol.getDeclarations()) {
          const sf = decl.getSourceFile();
          const path = sf.getFilePath();
          if (sf.isFromExternalLibrary() || sf.isDeclarationFile() || path.includes(`${sep}node_modules${sep}`)) {
            const pkg = await packageOf(path);
            if (pkg) {
              packages.set(pkg.name, pkg.version);
              files.add(pkg.manifest);
            }
            continue;
          }
          if (Node.isInterfaceDeclaration(decl) || Node.isTypeAliasDeclaration(decl) || Node.isTypeParameterDeclaration(decl)) continue;
          if (run.containsRange(decl.getPos(), decl.getEnd())) continue; // a local of `run` itself
          const top = topLevelStatement(decl);
          if (!top || top === runStatement || included.has(top)) continue;
          if (Node.isImportDeclaration(top) || Node.isExportDeclaration(top)) continue;
          included.add(top);
          files.add(path);
          texts.push(print(top));
          queue.push(top);
        }
      }
    }
    const fingerprint = digestOfSync(
      canonicalJson({ format: FINGERPRINT_FORMAT, version: def.version, run: print(run), closure: texts.sort(), packages: Object.fromEntries([...packages].sort()) }),
    );
    return { fingerprint, files };
  }
}

function topLevelStatement(node: MorphNode): MorphNode | undefined {
  let n: MorphNode | undefined = node;
  while (n && n.getParent() && n.getParent()!.getKindName() !== 'SourceFile') n = n.getParent();
  return n;
}

/** The `run` of the `defineStage({...})` call at the definition's call site. */
function findRun(lib: TsMorph, sf: SourceFile, def: StageDefinition): MorphNode {
  const { SyntaxKind, Node } = lib;
  const calls = sf.getDescendantsOfKind(SyntaxKind.CallExpression).filter((c) => /(^|\.)defineStage$/.test(c.getExpression().getText()));
  const onLine = calls.filter((c) => c.getStartLineNumber() <= def.site.line && c.getEndLineNumber() >= def.site.line);
  const candidates = onLine.length > 0 ? onLine : calls;
  for (const call of candidates) {
    const arg = call.getArguments()[0];
    if (!arg || !Node.isObjectLiteralExpression(arg)) continue;
    const nameProp = arg.getProperty('name');
    const nameText = nameProp && Node.isPropertyAssignment(nameProp) ? nameProp.getInitializer()?.getText().slice(1, -1) : undefined;
    if (nameText !== undefined && nameText !== def.name && candidates.length > 1) continue;
    const runProp = arg.getProperty('run');
    if (runProp && Node.isMethodDeclaration(runProp)) return runProp;
    if (runProp && Node.isPropertyAssignment(runProp)) return runProp.getInitializerOrThrow();
    if (runProp && Node.isShorthandPropertyAssignment(runProp)) return runProp;
  }
  throw new PipelineError('INTERNAL', `cannot find the run function of stage '${def.name}' for its code fingerprint`, {
    where: formatSite(def.site),
    hint: 'define stages as defineStage({ name: ..., run(ctx) { ... } }) with an object literal',
  });
}

const packageCache = new Map<string, Promise<{ name: string; version: string; manifest: string } | undefined>>();

/** The npm package (name, version) a file of node_modules belongs to. */
function packageOf(path: string): Promise<{ name: string; version: string; manifest: string } | undefined> {
  const idx = path.lastIndexOf(`${sep}node_modules${sep}`);
  if (idx < 0) return Promise.resolve(undefined); // TypeScript's own lib files
  const rest = path.slice(idx + 14).split(sep);
  const name = rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  const manifest = join(path.slice(0, idx + 14), name, 'package.json');
  let p = packageCache.get(manifest);
  if (!p) {
    p = readFile(manifest, 'utf8')
      .then((t) => ({ name, version: String((JSON.parse(t) as { version?: unknown }).version ?? '0'), manifest }))
      .catch(() => undefined);
    packageCache.set(manifest, p);
  }
  return p;
}

