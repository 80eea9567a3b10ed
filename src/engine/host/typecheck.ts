/**
 * Pipeline files are TypeScript, and tsx runs them without looking at types: `const n: number =
 * 'oops'` would run. Before a run, the pipeline file is type-checked with the project's own
 * compiler settings (its nearest tsconfig.json), and a type error stops the run with the file, the
 * line and the compiler's message (a user error: nothing has run). Only the errors in the pipeline
 * file and the project's modules that it imports are reported, not those inside the engine or
 * node_modules, which are not the user's to fix.
 *
 * A check builds a program of everything the file imports (the engine and its libraries' types
 * included) and checks the user's files in it (~2.5 s cold here), so the result is cached with the digests of every
 * project file the program read, as the code fingerprints are: an unchanged project costs one
 * stat per file.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { ENGINE_ROOT, ENGINE_SOURCE, SOURCE_CONDITION } from '../../install.js';
import { PipelineError } from '../../errors.js';
import { checkPipelineFile } from './pipeline-file.js';
import { writeFileAtomic, type FileDigestCache } from '../../store/index.js';

/** The engine's own source: its type errors are not the user's. */
const ENGINE_SRC = ENGINE_SOURCE + sep;
const SHOWN = 5;

interface CachedCheck {
  typescript: string;
  /** Every project file the program read, with its digest. */
  files: Record<string, string>;
}

/** Throws PIPELINE_TYPE with the first errors when the pipeline file does not type-check. */
export async function typecheckPipeline(file: string, cacheFile: string, fileDigests: FileDigestCache, onSlow?: (line: string) => void): Promise<void> {
  const abs = await checkPipelineFile(file);
  const cache = await readCache(cacheFile);
  // Checked before the compiler loads. The compiler is TypeScript as ts-morph bundles it, as for
  // the code fingerprints (src/engine/host/fingerprint.ts): ts-morph's version fixes it.
  const require = createRequire(import.meta.url);
  const version = `ts-morph ${(require('ts-morph/package.json') as { version: string }).version}`;
  const hit = cache[abs];
  if (hit && hit.typescript === version && (await fileDigests.unchanged(hit.files))) return;
  const morph = require('ts-morph') as typeof import('ts-morph');
  const ts = morph.ts;

  onSlow?.(`type-checking ${relative(process.cwd(), abs)} (cached once it passes)`);
  const options = compilerOptions(ts, abs);
  // ts-morph's Project: its bundled compiler has its lib files (lib.es2023.d.ts, ...) in memory.
  const project = new morph.Project({ compilerOptions: options, skipAddingFilesFromTsConfig: true });
  project.addSourceFileAtPath(abs);
  project.resolveSourceFileDependencies();
  const program = project.getProgram().compilerObject;
  const userFile = (f: string) => !f.includes(`${sep}node_modules${sep}`) && !f.startsWith(ENGINE_SRC);
  // Only the user's files are checked (the checker resolves what they use from the engine lazily):
  // 2.4 s against 6.5 s for every file of the program.
  const errors = program
    .getSourceFiles()
    .filter((sf) => userFile(resolve(sf.fileName)) && !sf.isDeclarationFile)
    .flatMap((sf) => [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)])
    .filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (errors.length > 0) {
    const at = (d: (typeof errors)[number]): string | undefined =>
      d.file && d.start !== undefined ? `${relative(process.cwd(), resolve(d.file.fileName))}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}` : undefined;
    const lines = errors.slice(0, SHOWN).map((d) => {
      const text = ts.flattenDiagnosticMessageText(d.messageText, ' ');
      return at(d) ? `${at(d)}: ${text}` : text;
    });
    const where = at(errors[0]!) ?? relative(process.cwd(), abs);
    throw new PipelineError('PIPELINE_TYPE', `${errors.length} type error${errors.length > 1 ? 's' : ''} in the pipeline:\n  ${lines.join('\n  ')}${errors.length > SHOWN ? `\n  ... and ${errors.length - SHOWN} more` : ''}`, {
      where,
      hint: 'fix the types (npx tsc --noEmit shows them all), or pass --no-typecheck to run anyway',
    });
  }
  const read = program.getSourceFiles().map((sf) => resolve(sf.fileName));
  cache[abs] = { typescript: version, files: await fileDigests.digestsOf(read.filter((f) => !f.includes(`${sep}node_modules${sep}`))) };
  await writeFileAtomic(cacheFile, JSON.stringify(cache));
  await fileDigests.save();
}

async function readCache(path: string): Promise<Record<string, CachedCheck>> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Record<string, CachedCheck>;
  } catch {
    return {};
  }
}

type TS = typeof import('ts-morph').ts;

/**
 * The settings of the nearest tsconfig.json above the pipeline file, else strict defaults; never
 * emitting, and accepting imports that name a `.ts` file (tsx runs those).
 */
function compilerOptions(ts: TS, file: string): import('ts-morph').ts.CompilerOptions {
  const base: import('ts-morph').ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    strict: true,
    skipLibCheck: true,
    // Node's types from the engine's install, for a project without its own.
    typeRoots: [join(ENGINE_ROOT, 'node_modules', '@types')],
    types: ['node'],
  };
  let options = base;
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const config = join(dir, 'tsconfig.json');
    if (existsSync(config)) {
      const read = ts.readConfigFile(config, (p) => ts.sys.readFile(p));
      if (!read.error) options = ts.parseJsonConfigFileContent(read.config, ts.sys, dir).options;
      break;
    }
    if (dirname(dir) === dir || existsSync(join(dir, 'package.json'))) break;
  }
  // ESM as tsx runs it, whatever the project's settings say about emitting: ts-morph's in-memory
  // host does not read package.json's "type", so NodeNext would take every file for CommonJS.
  return {
    ...options,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    // The engine's own source for `lth-pipeline` (its entry points' SOURCE_CONDITION): an
    // installed package has it beside its .d.ts, a linked clone may have only it.
    customConditions: [SOURCE_CONDITION],
    noEmit: true,
    allowImportingTsExtensions: true,
    skipLibCheck: true,
    incremental: false,
    composite: false,
  };
}
