// Issue #21: a sweep on a real (one-node) Slurm cluster, every stage one job, through the real CLI.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { API, REPO, TestProject, waitFor } from '../helpers/project.js';
import { PipelineRunner } from '../pipelines/cli.js';
import { parse } from 'yaml';
import { TOY_HELPERS, toyPipeline } from '../helpers/toy-pipeline.js';
import { jobFields, liveJobs, NO_SLURM, SLURM_ENV } from './cluster.js';

const SLURM = ['--executor', 'slurm'];
const MNIST = join(REPO, '..', 'shared', 'data', 'mnist');
/** Poll often: the tests wait for short stages. */
const FAST = { ...SLURM_ENV, PIPELINE_SLURM_POLL: '300ms' };

/** The run records of a project's cache. */
function records(p: TestProject): Array<{ id: string; provenance: { slurm?: { jobId: string; node: string } } }> {
  const dir = p.path('cache/runs');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((d) => readdirSync(join(dir, d)).map((f) => JSON.parse(readFileSync(join(dir, d, f), 'utf8'))));
}

function toy(extra: Record<string, string> = {}): TestProject {
  return new TestProject({ 'toy.ts': toyPipeline({ isolation: 'process' }), 'helpers.ts': TOY_HELPERS, ...extra });
}

/** A pipeline of `n` independent same-shaped stages, each sleeping `ms` and writing its CUDA_VISIBLE_DEVICES. */
function sweep(opts: { n: number; ms?: number; resources?: string }): string {
  return `import { appendFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { defineStage, definePipeline, z } from ${JSON.stringify(API)};
const LOG = join(import.meta.dirname, 'executions.log');
const s = defineStage({
  name: 'sleepy',
  params: z.object({ i: z.number(), ms: z.number().default(${opts.ms ?? 0}) }),
  outputs: ['out'],
  resources: ${opts.resources ?? '{ cpu: 1 }'},
  async run(ctx) {
    appendFileSync(LOG, ctx.id + '\\n');
    ctx.log('sleeping ' + ctx.params.ms + ' ms');
    await new Promise((r) => setTimeout(r, ctx.params.ms));
    await ctx.writeText('out', JSON.stringify({ i: ctx.params.i, gpus: process.env.CUDA_VISIBLE_DEVICES ?? null }));
  },
});
export default definePipeline({ name: 'sweep', params: { n: ${opts.n} } }, (p, cfg) => {
  for (let i = 0; i < cfg.n; i++) p.stage(s, { i }, { id: 's' + i });
});
`;
}

describe('the Slurm executor', { skip: NO_SLURM }, () => {
  const projects: TestProject[] = [];
  const project = (p: TestProject): TestProject => (projects.push(p), p);
  after(() => projects.forEach((p) => p.remove()));

  test('every stage is a Slurm job: distinct job ids in the run records, results as a local run, a second run submits nothing', () => {
    const p = project(toy());
    const r = p.cli(['run', 'toy.ts', ...SLURM], FAST);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /5 ran, 0 from cache/);
    const recs = records(p);
    assert.equal(recs.length, 5);
    const ids = recs.map((x) => x.provenance.slurm?.jobId);
    assert.ok(ids.every((id) => id && /^\d+(_\d+)?$/.test(id)), JSON.stringify(ids));
    assert.equal(new Set(ids).size, 5);
    assert.ok(recs.every((x) => x.provenance.slurm?.node), 'each record names its node');
    // Results equal to a local run's: the same lock file (keys and output digests).
    const local = project(toy());
    assert.equal(local.cli(['run', 'toy.ts']).code, 0);
    assert.equal(p.read('dvc-like.lock'), local.read('dvc-like.lock'));
    // Successful jobs leave no output files and no manifests behind.
    assert.deepEqual(readdirSync(p.path('cache/slurm/logs')), []);
    assert.deepEqual(readdirSync(p.path('cache/slurm/manifests')), []);
    const again = p.cli(['run', 'toy.ts', ...SLURM], FAST);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /0 ran, 5 from cache/);
    assert.equal(records(p).length, 5, 'nothing was submitted');
    // show and the HTML report say which job computed each result, and where.
    const rows = JSON.parse(p.cli(['show', 'toy.ts', '--json']).stdout) as Array<{ id: string; host: string }>;
    const jobA = recs.find((x) => x.id === 'a')!.provenance.slurm!;
    assert.equal(rows.find((x) => x.id === 'a')?.host, `${jobA.node} (Slurm job ${jobA.jobId})`);
    assert.equal(p.cli(['report', 'toy.ts', '-o', p.path('report.html')]).code, 0);
    assert.ok(p.read('report.html').includes(`(Slurm job ${jobA.jobId})`));
  });

  test('the LeNet smoke pipeline on Slurm: 18 jobs, the numbers of the local run the lock file records', { skip: !existsSync(MNIST) && 'no ../shared/data/mnist' }, () => {
    const runner = new PipelineRunner();
    try {
      const r = runner.run('lenet-mnist-imp.ts', ['--data-dir', dirname(MNIST), ...SLURM], { ...SLURM_ENV, PIPELINE_SLURM_POLL: '1s' });
      assert.equal(r.code, 0, r.out);
      assert.equal(r.executed.length, 18, r.executed.join(' '));
      const ours = parse(readFileSync(join(runner.dir, 'dvc-like.lock'), 'utf8')).pipelines['lenet-mnist-imp'].stages;
      const recorded = parse(readFileSync(join(REPO, 'dvc-like.lock'), 'utf8')).pipelines['lenet-mnist-imp'].stages;
      // The repository's lock file is a local run's (`npx pipeline run pipelines/lenet-mnist-imp.ts`):
      // the same accuracies up to float rounding across backends (a 2,000-image test set counts in 0.0005).
      for (const m of ['denseAcc', 'ticketAcc', 'reinitAcc', 'finalDensity']) {
        assert.ok(Math.abs(ours.summary.metrics[m] - recorded.summary.metrics[m]) <= 0.01, `${m}: ${ours.summary.metrics[m]} on Slurm, ${recorded.summary.metrics[m]} recorded`);
      }
      assert.equal(runner.run('lenet-mnist-imp.ts', ['--data-dir', dirname(MNIST), ...SLURM], SLURM_ENV).executed.length, 0);
    } finally {
      runner.remove();
    }
  });

  test('--detach submits the DAG with dependencies and exits; status shows the jobs; run waits for them and submits nothing twice', async () => {
    const p = project(toy());
    const env = { ...FAST, TOY_SLEEP_MS: '2500' };
    const d = p.cli(['run', 'toy.ts', ...SLURM, '--detach'], env);
    assert.equal(d.code, 0, d.stderr);
    const lines = d.stdout.trim().split('\n');
    assert.equal(lines.length, 5, d.stdout);
    const jobOf = Object.fromEntries(lines.map((l) => [l.trim().split(/\s+/)[1]!, l.trim().split(/\s+/)[0]!]));
    assert.match(d.stdout, new RegExp(`\\s+b\\s+after ${jobOf.a}`));
    assert.match(d.stdout, new RegExp(`\\s+e\\s+after (${jobOf.c} ${jobOf.d}|${jobOf.d} ${jobOf.c})`));
    const s = p.cli(['status', 'toy.ts', '--json'], env);
    assert.equal(s.code, 0, s.stderr);
    const st = JSON.parse(s.stdout) as { stages: Array<{ id: string; slurm?: { state: string; jobId: string } }> };
    const states = Object.fromEntries(st.stages.map((x) => [x.id, x.slurm?.state]));
    assert.ok(['PENDING', 'RUNNING'].includes(states.a!), JSON.stringify(states));
    assert.equal(states.e, 'PENDING');
    // A run now waits for the live jobs instead of submitting the stages again.
    const r = p.cli(['run', 'toy.ts', ...SLURM], env);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(p.executions().sort(), ['a', 'b', 'c', 'd', 'e']);
    assert.equal(p.cli(['status', 'toy.ts'], env).stdout.trim(), 'toy: all 5 stages up to date');
    // What the detached jobs left (records, output files, manifests) is collected by that run.
    for (const d of ['jobs/toy', 'logs', 'manifests']) assert.deepEqual(readdirSync(p.path(`cache/slurm/${d}`)), [], d);
  });

  test('scancel of a running job fails its stage with CANCELLED, --keep-going runs the rest, a rerun completes it', async () => {
    const p = project(new TestProject({ 'sweep.ts': sweep({ n: 2, ms: 15_000 }) }));
    const run = p.spawn(['run', 'sweep.ts', ...SLURM, '--keep-going', '--set', 'slurm.s1.time=5m'], { ...FAST });
    let err = '';
    run.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const done = new Promise<number>((r) => run.on('exit', (c) => r(c ?? -1)));
    await waitFor(() => liveJobs('lth-sweep').length === 2 && p.executions().length === 2, 60_000, 200);
    // s0 and s1 differ in time limit: two jobs, not one array. Cancel s0's.
    const s0 = readdirSync(p.path('cache/slurm/jobs/sweep')).map((f) => JSON.parse(p.read(`cache/slurm/jobs/sweep/${f}`)) as { id: string; jobId: string }).find((x) => x.id === 's0')!;
    assert.ok(s0, 'a job record for s0');
    await import('./cluster.js').then((c) => c.slurm('scancel', [s0.jobId]));
    const code = await done;
    assert.equal(code, 1, err);
    assert.match(err, new RegExp(`stage 's0' failed: stage s0: Slurm job ${s0.jobId} CANCELLED`));
    assert.match(err, /1 ran, 0 from cache, 1 failed/);
    const again = p.cli(['run', 'sweep.ts', ...SLURM, '--set', 'slurm.s1.time=5m'], FAST);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /1 ran, 1 from cache/);
  });

  test('Ctrl-C on an attached run cancels its jobs (squeue lists none afterwards); a rerun finishes', async () => {
    const p = project(toy());
    const run = p.spawn(['run', 'toy.ts', ...SLURM], { ...FAST, TOY_SLEEP_MS: '60000' });
    let err = '';
    run.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const done = new Promise<number>((r) => run.on('exit', (c) => r(c ?? -1)));
    await waitFor(() => p.executions().includes('a'), 60_000, 200);
    run.kill('SIGINT');
    assert.equal(await done, 130, err);
    assert.match(err, /cancelled Slurm job\(s\) \d+/);
    assert.deepEqual(liveJobs('lth-toy').filter((id) => err.includes(id)), []);
    const again = p.cli(['run', 'toy.ts', ...SLURM], FAST);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /5 ran/);
  });

  test('a GPU stage on a partition from the config: the job asks for them and runs with CUDA_VISIBLE_DEVICES', () => {
    const p = project(new TestProject({ 'sweep.ts': sweep({ n: 1, resources: "{ cpu: 1, gpu: 1, memory: '300M', time: '10m' }" }), 'pipeline.config.yaml': 'executor: slurm\nslurm:\n  stages:\n    sleepy: { partition: gpu }\n' }));
    const r = p.cli(['run', 'sweep.ts'], FAST);
    assert.equal(r.code, 0, r.stderr);
    const rec = records(p)[0]!;
    const job = jobFields(rec.provenance.slurm!.jobId);
    assert.equal(job.Partition, 'gpu');
    assert.match(job.TresPerJob ?? job.TresPerNode ?? '', /gres:gpu:1|gpu:1/);
    assert.equal(job.TimeLimit, '00:10:00');
    assert.match(job.MinMemoryNode ?? '', /^300M$/);
    const out = records(p).length;
    assert.equal(out, 1);
    const digest = (JSON.parse(readFileSync(join(p.path('cache/runs'), readdirSync(p.path('cache/runs'))[0]!, readdirSync(join(p.path('cache/runs'), readdirSync(p.path('cache/runs'))[0]!))[0]!), 'utf8')) as { outputs: { out: { digest: string } } }).outputs.out.digest;
    const written = JSON.parse(readFileSync(p.path(`cache/objects/${digest.slice(0, 2)}/${digest.slice(2)}`), 'utf8')) as { gpus: string };
    assert.equal(written.gpus, '0');
  });

  test('a sweep of same-shaped stages goes in as one job array', () => {
    const p = project(new TestProject({ 'sweep.ts': sweep({ n: 6 }) }));
    const r = p.cli(['run', 'sweep.ts', ...SLURM], FAST);
    assert.equal(r.code, 0, r.stderr);
    const ids = records(p).map((x) => x.provenance.slurm!.jobId);
    assert.equal(ids.length, 6);
    const bases = new Set(ids.map((id) => id.split('_')[0]));
    assert.equal(bases.size, 1, `one array: ${ids.join(' ')}`);
    assert.deepEqual(ids.map((id) => Number(id.split('_')[1])).sort(), [0, 1, 2, 3, 4, 5]);
  });

  test('TIMEOUT: without retries the stage fails with Slurm\'s word and its output tail; with one it is resubmitted with more time and succeeds', async () => {
    // Slurm counts time limits in minutes and checks them about every 30 s: a 1-minute limit on a
    // 100-second stage ends it at 60-95 s. The two projects run at once (sleeping, not computing).
    const config = 'slurm:\n  stages:\n    sleepy: { time: 1m }\n';
    const fails = project(new TestProject({ 'sweep.ts': sweep({ n: 1, ms: 100_000 }), 'pipeline.config.yaml': config }));
    const grows = project(new TestProject({ 'sweep.ts': sweep({ n: 1, ms: 100_000 }), 'pipeline.config.yaml': config }));
    const [a, b] = await Promise.all(
      [
        [fails, { PIPELINE_SLURM_RESOURCE_RETRIES: '0' }],
        [grows, { PIPELINE_SLURM_RESOURCE_RETRIES: '1', PIPELINE_SLURM_GROWTH: '3' }],
      ].map(([p, env]) => {
        const child = (p as TestProject).spawn(['run', 'sweep.ts', ...SLURM], { ...FAST, ...(env as Record<string, string>) });
        let err = '';
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        return new Promise<{ code: number; err: string }>((r) => child.on('exit', (code) => r({ code: code ?? -1, err })));
      }),
    );
    assert.equal(a!.code, 1, a!.err);
    assert.match(a!.err, /stage 's0' failed: stage s0: Slurm job \d+ TIMEOUT/);
    assert.match(a!.err, /last output of 's0':[\s\S]*sleeping 100000 ms/);
    assert.equal(b!.code, 0, b!.err);
    assert.match(b!.err, /ended TIMEOUT: resubmitted with more time 60 s -> 180 s/);
    assert.deepEqual(grows.executions(), ['s0', 's0']);
  });

  test('a stage that throws fails with FAILED and its own error; a controller that stops answering is a countdown, then exit 1, the job left running', async () => {
    const p = project(new TestProject({ 'sweep.ts': sweep({ n: 1, ms: 12_000 }).replace("await ctx.writeText('out'", "if (ctx.params.i < 0) throw new Error('negative i: ' + ctx.params.i);\n    await ctx.writeText('out'") }));
    const failed = p.cli(['run', 'sweep.ts', ...SLURM, '--set', 's0.i=-1'], FAST);
    assert.equal(failed.code, 1, failed.stderr);
    assert.match(failed.stderr, /stage 's0' failed: stage s0: Slurm job \d+ FAILED \(exit 1:0\) on \S+: .*negative i: -1/);
    // The controller goes away while the job runs.
    const run = p.spawn(['run', 'sweep.ts', ...SLURM], { ...FAST, PIPELINE_SLURM_TIMEOUT: '4s' });
    let err = '';
    run.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const done = new Promise<number>((r) => run.on('exit', (c) => r(c ?? -1)));
    await waitFor(() => liveJobs('lth-sweep').length === 1 && p.executions().length === 2, 60_000, 200);
    const ctld = readFileSync(join(dirname(SLURM_ENV.SLURM_CONF!), 'slurmctld.pid'), 'utf8').trim();
    process.kill(Number(ctld), 'SIGTERM');
    try {
      assert.equal(await done, 1, err);
      assert.match(err, /slurm: the controller does not answer .*giving up in \d+ s/);
      assert.match(err, /the Slurm controller has not answered for \d+ s .*giving up; the jobs already submitted go on/);
    } finally {
      // Back with its saved state: the job ran on, and a rerun collects it.
      spawnSync('/usr/sbin/slurmctld', ['-f', SLURM_ENV.SLURM_CONF!], { env: { ...process.env, ...SLURM_ENV } });
      await waitFor(() => spawnSync('sinfo', ['-h', '-o', '%T'], { env: { ...process.env, ...SLURM_ENV }, encoding: 'utf8' }).stdout.trim() !== '', 30_000, 200);
    }
    const again = p.cli(['run', 'sweep.ts', ...SLURM], FAST);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(p.executions().length, 2, 'the job that ran while the controller was away is not run again');
  });

  test('mistakes are exit 2 before anything is submitted: no sbatch, a partition Slurm refuses, an unknown setting', () => {
    const p = project(toy());
    // A PATH with node and nothing of Slurm.
    mkdirSync(p.path('bin'));
    symlinkSync(process.execPath, p.path('bin/node'));
    const noSlurm = p.cli(['run', 'toy.ts', ...SLURM], { ...FAST, PATH: p.path('bin') });
    assert.equal(noSlurm.code, 2, noSlurm.stderr);
    assert.match(noSlurm.stderr, /'sbatch' is not on the PATH/);
    const badPartition = p.cli(['run', 'toy.ts', ...SLURM, '--set', 'slurm.b.partition=nosuch'], FAST);
    assert.equal(badPartition.code, 2, badPartition.stderr);
    assert.match(badPartition.stderr, /Slurm refused the job: invalid partition specified: nosuch/);
    p.write('pipeline.config.yaml', 'slurm:\n  partitoin: debug\n');
    const unknown = p.cli(['run', 'toy.ts', ...SLURM], FAST);
    assert.equal(unknown.code, 2, unknown.stderr);
    assert.match(unknown.stderr, /pipeline\.config\.yaml:2: unknown setting 'slurm\.partitoin'/);
    p.write('pipeline.config.yaml', 'slurm:\n  partition: debug\n');
    const noStage = p.cli(['run', 'toy.ts', ...SLURM, '--set', 'slurm.nosuch.partition=gpu'], { ...FAST });
    assert.equal(noStage.code, 2, noStage.stderr);
    assert.match(noStage.stderr, /slurm options for 'nosuch': no stage name, id or glob matches/);
    assert.equal(p.executions().length, 0);
    assert.ok(!existsSync(p.path('cache/slurm/jobs')), 'nothing submitted');
  });
});
