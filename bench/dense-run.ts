// End to end: the LeNet pipeline's dense run (LeNet-300-100 on the full MNIST, batch 60, Adam,
// evaluation every 100 iterations), 5,000 iterations, through the real CLI, once per backend in a
// fresh cache. The run stops (Ctrl-C) once `train-dense` is done; the figure is the stage's own
// duration from its run record (process start, data loading, training, evaluation, checkpoint).
//
//   node --import tsx bench/dense-run.ts [--iterations 5000] [--backends tensorflow,wasm] [--data ../shared/data]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    iterations: { type: 'string', default: '5000' },
    backends: { type: 'string', default: 'tensorflow,wasm' },
    data: { type: 'string', default: join(process.cwd(), '..', 'shared', 'data') },
  },
});
const CLI = join(process.cwd(), 'bin', 'pipeline.js');
const PIPELINE = join(process.cwd(), 'pipelines', 'lenet-mnist-imp.ts');

async function denseRun(backend: string): Promise<{ seconds: number; testAccuracy: unknown; backend: unknown }> {
  const dir = mkdtempSync(join(tmpdir(), 'lth-bench-dense-'));
  const where = ['--cache', join(dir, 'cache'), '--lock', join(dir, 'dvc-like.lock')];
  const set = ['--set', 'profile=paper', '--set', `train-dense.iterations=${values.iterations}`];
  try {
    await new Promise<void>((done, fail) => {
      // The run's log lines ([progress], [done]) are on stderr when it is not a terminal.
      const child = spawn(process.execPath, [CLI, 'run', PIPELINE, ...set, ...where], { env: { ...process.env, PIPELINE_DATA_DIR: values.data, LTH_BACKEND: backend, LTH_QUIET_BACKEND: '1' }, stdio: ['ignore', 'inherit', 'pipe'] });
      let out = '';
      child.stderr.on('data', (b: Buffer) => {
        out += b.toString();
        process.stderr.write(b);
        if (/^\[done\]\s+train-dense\b/m.test(out)) child.kill('SIGINT');
      });
      child.on('error', fail);
      child.on('close', () => (/^\[done\]\s+train-dense\b/m.test(out) ? done() : fail(new Error(`train-dense did not finish:\n${out}`))));
    });
    const show = spawnSync(process.execPath, [CLI, 'show', PIPELINE, '--json', '--stage', 'train-dense', ...set, ...where], { encoding: 'utf8', env: { ...process.env, PIPELINE_DATA_DIR: values.data } });
    const row = (JSON.parse(show.stdout) as Array<{ id: string; durationMs: number; backend: string; metrics: Record<string, unknown> }>).find((r) => r.id === 'train-dense')!;
    return { seconds: row.durationMs / 1000, testAccuracy: row.metrics.testAccuracy, backend: row.backend };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const results: Array<[string, Awaited<ReturnType<typeof denseRun>>]> = [];
for (const b of values.backends!.split(',')) {
  const r = await denseRun(b);
  console.error(`${b}: ${r.seconds.toFixed(1)} s (load ${loadavg()[0]!.toFixed(1)})`);
  results.push([b, r]);
}
console.log(`\nLeNet-300-100, full MNIST, ${values.iterations} iterations (train-dense, its run record's duration):\n`);
console.log('| backend | seconds | test accuracy |');
console.log('| --- | ---: | ---: |');
for (const [, r] of results) console.log(`| ${r.backend} | ${r.seconds.toFixed(1)} | ${String(r.testAccuracy)} |`);
