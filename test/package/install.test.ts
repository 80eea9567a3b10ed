// The package as a researcher gets it: `npm pack`, then in an empty folder `npm init -y`, `npm
// install <tarball>` (a real install, no link), `npx pipeline init`, and the example pipeline run
// on ../shared/data/mnist. Stage identity, code fingerprints of the user's files and of the
// engine's own stages, stage processes, Slurm jobs (where the test cluster runs), the compiled tree (never written inside node_modules),
// the type check and the user's own `tsc` all work from node_modules. npm fetches the package's
// dependencies through its cache (--prefer-offline): the registry is needed only for what the
// cache lacks.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { REPO } from '../helpers/project.js';
import { nativeDir, readManifest } from '../../src/nn/native/layout.js';
import { NO_SLURM, SLURM_ENV } from '../slurm/cluster.js';

const DATA = join(REPO, '..', 'shared', 'data');
const TIMEOUT = 300_000;

describe('npm pack, npm install <tarball>, pipeline init, pipeline run', { skip: !existsSync(join(DATA, 'mnist')) && 'no ../shared/data/mnist' }, () => {
  let dir: string;
  let project: string;
  let env: NodeJS.ProcessEnv;
  /** The files of the tarball, as npm pack lists them. */
  let packed: string[];
  const sh = (cmd: string, args: string[], extra: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> =>
    spawnSync(cmd, args, { cwd: project, env: { ...env, ...extra }, encoding: 'utf8', timeout: TIMEOUT });
  const pipeline = (...args: string[]) => sh('npx', ['--no-install', 'pipeline', ...args]);
  const text = (r: SpawnSyncReturns<string>) => `exit ${r.status}\n${r.stdout}\n${r.stderr}`;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'lth-package-'));
    project = join(dir, 'project');
    mkdirSync(project);
    // The engine's per-user folders (built trees, compiled user modules) in the test's own folder.
    env = { ...process.env, XDG_CACHE_HOME: join(dir, 'user-cache'), PIPELINE_DATA_DIR: DATA, LTH_QUIET_BACKEND: '1', npm_config_update_notifier: 'false' };
    delete env.LTH_NATIVE_DIR;
    const pack = spawnSync('npm', ['pack', '--pack-destination', dir, '--json'], { cwd: REPO, env, encoding: 'utf8', timeout: TIMEOUT });
    assert.equal(pack.status, 0, text(pack));
    const [info] = JSON.parse(pack.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const tarball = join(dir, info!.filename);
    packed = info!.files.map((f) => f.path).sort();
    assert.equal(sh('npm', ['init', '-y']).status, 0);
    const install = sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball]);
    assert.equal(install.status, 0, text(install));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a real install: the package is files, not a link to this repository', () => {
    const installed = join(project, 'node_modules', 'lth-pipeline');
    assert.ok(existsSync(join(installed, 'dist', 'src', 'index.d.ts')), 'types shipped');
    assert.ok(existsSync(join(installed, 'dist', 'tree.json')), 'the compiled tree shipped');
    assert.equal(readFileSync(join(installed, 'src', 'index.ts'), 'utf8'), readFileSync(join(REPO, 'src', 'index.ts'), 'utf8'));
    assert.notEqual(spawnSync('readlink', [installed]).status, 0, 'not a symlink');
  });

  test('pipeline init adds to package.json (nothing removed) and writes the starter files', () => {
    const before = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')) as Record<string, unknown>;
    const r = pipeline('init');
    assert.equal(r.status, 0, text(r));
    const after = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')) as { type: string; scripts: Record<string, string>; dependencies: Record<string, string> };
    assert.equal(after.type, 'module');
    assert.equal(after.scripts.pipeline, 'pipeline run pipelines/example.ts');
    assert.equal(after.scripts.test, 'tsc --noEmit');
    for (const [k, v] of Object.entries(before)) if (k !== 'type' && k !== 'scripts') assert.deepEqual((after as Record<string, unknown>)[k], v, k);
    for (const f of ['tsconfig.json', 'pipeline.config.yaml', '.gitignore', 'pipelines/example.ts', 'README.md']) assert.ok(existsSync(join(project, f)), f);
  });

  test('the example runs every stage; a second run executes nothing; nothing is written inside node_modules; table, report and get read the results', () => {
    const first = pipeline('run', 'pipelines/example.ts');
    assert.equal(first.status, 0, text(first));
    assert.match(first.stderr, /example: 13 ran, 0 from cache/);
    const second = pipeline('run', 'pipelines/example.ts');
    assert.equal(second.status, 0, text(second));
    assert.match(second.stderr, /example: 0 ran, 13 from cache/);
    assert.ok(existsSync(join(project, 'cache')) && existsSync(join(project, 'dvc-like.lock')), 'results in the project');
    const installed = join(project, 'node_modules', 'lth-pipeline');
    const files = readdirSync(installed, { recursive: true, withFileTypes: true }).filter((e) => !e.isDirectory()).map((e) => relative(installed, join(e.parentPath, e.name)));
    assert.deepEqual(files.sort(), packed, 'the installed package holds what the tarball did, nothing more');
    const table = pipeline('table', 'pipelines/example.ts', '--format', 'md');
    assert.equal(table.status, 0, text(table));
    const report = pipeline('report', 'pipelines/example.ts', '-o', join(dir, 'report.html'));
    assert.equal(report.status, 0, text(report));
    assert.match(readFileSync(join(dir, 'report.html'), 'utf8'), /<svg/);
    const get = pipeline('get', 'pipelines/example.ts', 'L2/retrain', '-o', join(dir, 'ticket.safetensors'));
    assert.equal(get.status, 0, text(get));
    assert.ok(existsSync(join(dir, 'ticket.safetensors')));
  });

  test("the user's tsc type-checks the pipelines against the package; a type error stops run with exit 2 at its line", () => {
    const tsc = sh('npx', ['--no-install', 'tsc', '--noEmit']);
    assert.equal(tsc.status, 0, text(tsc));
    writeFileSync(join(project, 'pipelines', 'typo.ts'), "import { definePipeline } from 'lth-pipeline';\n\nconst n: number = 'oops';\nexport default definePipeline({ name: 'typo' }, () => void n);\n");
    const r = pipeline('run', 'pipelines/typo.ts');
    assert.equal(r.status, 2, text(r));
    assert.match(r.stderr, /pipelines\/typo\.ts:3: .*Type 'string' is not assignable to type 'number'/);
    rmSync(join(project, 'pipelines', 'typo.ts'));
  });

  test("a network of the user's own (defineModel in their module) trains; editing its layers reruns only the stages that use it", () => {
    mkdirSync(join(project, 'src'), { recursive: true });
    const model = (width: number) =>
      `import { defineModel } from 'lth-pipeline/lth';\n\ndefineModel({\n  name: 'mlp-small',\n  inputShape: [28, 28, 1],\n  numClasses: 10,\n  build: (l) => [l.flatten(), l.dense(${width}), l.relu(), l.dense(10)],\n});\n`;
    writeFileSync(join(project, 'src', 'models.ts'), model(64));
    writeFileSync(
      join(project, 'pipelines', 'mine.ts'),
      `import { definePipeline } from 'lth-pipeline';
import { datasetInputs, trainDenseRun } from 'lth-pipeline/lth';
import '../src/models.js';

export default definePipeline({ name: 'mine' }, (p) => {
  const data = datasetInputs(p, 'mnist');
  const common = { dataset: 'mnist', data: { subset: { train: 500, validation: 100, test: 200 } }, batchSize: 50, iterations: 10, optimizer: 'sgd' as const, lr: 0.1, evalEvery: 0, checkpoints: [0] };
  trainDenseRun(p, { ...common, model: 'mlp-small' }, data, { id: 'mine' });
  trainDenseRun(p, { ...common, model: 'lenet300100' }, data, { id: 'builtin' });
});
`,
    );
    const first = pipeline('run', 'pipelines/mine.ts');
    assert.equal(first.status, 0, text(first));
    assert.match(first.stderr, /mine: 2 ran, 0 from cache/);
    writeFileSync(join(project, 'src', 'models.ts'), model(32));
    const status = pipeline('status', 'pipelines/mine.ts');
    assert.match(status.stdout + status.stderr, /model 'mlp-small'\) changed/);
    const second = pipeline('run', 'pipelines/mine.ts');
    assert.equal(second.status, 0, text(second));
    assert.match(second.stderr, /mine: 1 ran, 1 from cache/);
    assert.match(second.stderr, /\[done\]\s+mine /);
  });

  // A native build is shared by every project of the user (src/nn/native/layout.ts): one made by
  // another project (here the repository's, whose links point into its own node_modules) trains
  // this project's stages, its imports of tfjs resolved to this project's copies.
  test("a native build made by another project trains this one's stages", { skip: !readManifest() && `the native backend is not built in ${nativeDir()}` }, () => {
    const r = sh('npx', ['--no-install', 'pipeline', 'run', 'pipelines/mine.ts', '--force', 'builtin'], { LTH_NATIVE_DIR: nativeDir(), LTH_BACKEND: 'tensorflow' });
    assert.equal(r.status, 0, text(r));
    const show = pipeline('show', 'pipelines/mine.ts');
    assert.match(show.stdout, /^builtin .* tensorflow \d/m);
  });

  test("a Slurm job runs the installed package's stage (the test cluster)", { skip: NO_SLURM }, () => {
    const r = sh('npx', ['--no-install', 'pipeline', 'run', 'pipelines/mine.ts', '--executor', 'slurm', '--force', 'builtin'], SLURM_ENV);
    assert.equal(r.status, 0, text(r));
    assert.match(r.stderr, /mine: 1 ran, 1 from cache/);
  });

  test('pipeline init a second time: exit 2 naming the files that exist, nothing written', () => {
    const files = ['package.json', 'tsconfig.json', 'pipeline.config.yaml', '.gitignore', 'pipelines/example.ts', 'README.md'];
    const before = files.map((f) => readFileSync(join(project, f), 'utf8'));
    const r = pipeline('init');
    assert.equal(r.status, 2, text(r));
    assert.match(r.stderr, /would overwrite tsconfig\.json, pipeline\.config\.yaml, \.gitignore, pipelines\/example\.ts, README\.md: nothing was written/);
    assert.deepEqual(files.map((f) => readFileSync(join(project, f), 'utf8')), before);
  });
});
