/**
 * `pipeline init`: what a researcher's project starts from, in the folder of its package.json (as
 * `eslint --init` and `tsc --init` do): the `pipeline` and `test` scripts and `"type": "module"`
 * added to package.json, and tsconfig.json, pipeline.config.yaml, .gitignore, a first pipeline and
 * a README copied from the package's templates/init/. It never overwrites a file: when one exists
 * it names them all and writes nothing (exit 2).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PipelineError } from '../../errors.js';
import { ENGINE_ROOT } from '../../install.js';

const TEMPLATES = join(ENGINE_ROOT, 'templates', 'init');

/** Project file -> template file (`.gitignore` is stored without its dot: npm leaves dotted ignore files out of a package). */
const FILES: Record<string, string> = {
  'tsconfig.json': 'tsconfig.json',
  'pipeline.config.yaml': 'pipeline.config.yaml',
  '.gitignore': 'gitignore',
  'pipelines/example.ts': 'pipelines/example.ts',
  'README.md': 'README.md',
};

const SCRIPTS: Record<string, string> = {
  pipeline: 'pipeline run pipelines/example.ts',
  test: 'tsc --noEmit',
};

/** What `npm init -y` writes as the test script: a placeholder, not the user's. */
const NPM_PLACEHOLDER_TEST = /^echo "Error: no test specified" && exit 1$/;

interface PackageJson {
  type?: string;
  scripts?: Record<string, string>;
  [key: string]: unknown;
}

/** The changes to package.json, as lines to print; `pkg` is changed in place. */
function addToPackage(pkg: PackageJson): string[] {
  const changes: string[] = [];
  if (pkg.type !== 'module') {
    // npm init writes "commonjs"; pipelines are ES modules (and lth-pipeline is ESM only).
    changes.push(pkg.type === undefined ? '"type": "module"' : `"type": "module" (was "${pkg.type}": pipelines are ES modules)`);
    pkg.type = 'module';
  }
  const scripts = (pkg.scripts ??= {});
  for (const [name, command] of Object.entries(SCRIPTS)) {
    const current = scripts[name];
    if (current === undefined || (name === 'test' && NPM_PLACEHOLDER_TEST.test(current))) {
      scripts[name] = command;
      changes.push(`script "${name}": ${command}`);
    }
  }
  return changes;
}

export async function initCommand(dir = process.cwd()): Promise<number> {
  const manifest = join(dir, 'package.json');
  if (!existsSync(manifest)) {
    throw new PipelineError('USAGE', `no package.json in ${dir}`, { hint: 'run pipeline init in your project\'s folder, after `npm init -y && npm install lth-pipeline`' });
  }
  const existing = Object.keys(FILES).filter((f) => existsSync(join(dir, f)));
  if (existing.length > 0) {
    throw new PipelineError('USAGE', `pipeline init would overwrite ${existing.join(', ')}: nothing was written`, {
      hint: 'move those files aside and run it again, or copy what you need from the templates in node_modules/lth-pipeline/templates/init/',
    });
  }
  const text = readFileSync(manifest, 'utf8');
  let pkg: PackageJson;
  try {
    pkg = JSON.parse(text) as PackageJson;
  } catch (e) {
    throw new PipelineError('USAGE', `package.json is not valid JSON: ${(e as Error).message}`, { where: manifest, hint: 'fix package.json first' });
  }
  const changes = addToPackage(pkg);
  const indent = /^\{\r?\n([ \t]+)"/.exec(text)?.[1] ?? 2;
  writeFileSync(manifest, `${JSON.stringify(pkg, null, indent)}\n`);
  for (const [file, template] of Object.entries(FILES)) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file), readFileSync(join(TEMPLATES, template)), { flag: 'wx' });
  }
  const out = process.stdout;
  out.write(`package.json: ${changes.length > 0 ? `added ${changes.join(', ')}` : 'already set up'}\n`);
  for (const file of Object.keys(FILES)) out.write(`wrote ${file}\n`);
  out.write('\nnext:\n  npx pipeline run pipelines/example.ts    # IMP on MNIST, under a minute on two cores\n  npm test                                  # type-checks the pipelines\n');
  return 0;
}
