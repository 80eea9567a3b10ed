// Training step time (forward + backward + update) of the engine in src/nn, per backend, side by
// side with PyTorch CPU (bench/train_torch.py) at the same thread count, in one run.
//
//   node --import tsx bench/train.ts [--rounds 3] [--steps 3] [--models lenet300100,conv2,resnet20]
//                                    [--backends tensorflow,wasm,cpu] [--threads 1]
//
// Rounds interleave our backends and PyTorch model by model (ours, PyTorch, next model, ...), so
// that load from other jobs on a shared machine hits both alike. Each step is timed in wall-clock
// and in process CPU time; the table gives the median over all rounds' timed steps and the ratio
// to PyTorch for both. With 1 thread, CPU time is the work done, and the fairer figure when other
// jobs compete for the cores. The load average is printed next to the figures.
//
// The pure-JS cpu backend only runs LeNet (a Conv-2 step takes minutes there). PyTorch runs with
// /usr/bin/python3 (Debian's python3-torch) when it imports; otherwise its column is empty.
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { initBackend, type BackendInfo, type BackendPref } from '../src/nn/backend.js';
import { createModel } from '../src/nn/models/index.js';
import type { OptimizerConfig } from '../src/nn/optim.js';
import { train } from '../src/nn/train.js';
import { syntheticData } from '../src/nn/train-data.js';
import { loadDataset } from '../src/nn/data/index.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    steps: { type: 'string', default: '3' },
    models: { type: 'string', default: 'lenet300100,conv2,resnet20' },
    backends: { type: 'string', default: 'tensorflow,wasm,cpu' },
    threads: { type: 'string', default: '1' },
    python: { type: 'string', default: '/usr/bin/python3' },
  },
});
const rounds = Number(values.rounds);
const steps = Number(values.steps);
const threads = Number(values.threads);
const models = values.models!.split(',');

const SPECS: Record<string, { batch: number; optimizer: OptimizerConfig; lr: number; modular?: boolean }> = {
  lenet300100: { batch: 60, optimizer: { type: 'adam' }, lr: 1.2e-3 },
  conv2: { batch: 60, optimizer: { type: 'adam' }, lr: 2e-4 },
  resnet20: { batch: 128, optimizer: { type: 'momentum', momentum: 0.9 }, lr: 0.1 },
  // The grokking papers' networks on a + b mod 97, full batch (half of the 9,409 pairs), AdamW with
  // weight decay 1 (Grokking-Tickets' MLP) and Nanda et al.'s transformer (d 128, 4 heads, 1 layer).
  modular_mlp_97: { batch: 4704, optimizer: { type: 'adamw', weightDecay: 1, beta2: 0.98 }, lr: 1e-3, modular: true },
  modular_transformer_97: { batch: 4704, optimizer: { type: 'adamw', weightDecay: 1, beta2: 0.98 }, lr: 1e-3, modular: true },
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const load = () => loadavg()[0]!.toFixed(1);

interface Sample {
  wall: number[];
  cpu: number[];
}

/**
 * Wall and CPU milliseconds of the timed steps of one short training run on `backend`. train()
 * initialises the default backend ('auto', which prefers the native one when it is built), so
 * LTH_BACKEND names the one measured; the result says which ran.
 */
async function stepTimes(name: string, backend: string): Promise<Sample> {
  const spec = SPECS[name]!;
  const model = createModel(name, { seed: 0 });
  const data = spec.modular
    ? await loadDataset('modular-addition', { modular: { p: 97, op: '+', trainFraction: 0.5, seed: 0 } })
    : syntheticData({ inputShape: model.inputShape, trainSize: spec.batch * 4, validationSize: 10, testSize: 10 });
  const out: Sample = { wall: [], cpu: [] };
  const warmup = name === 'lenet300100' ? 5 : 2;
  const n = name === 'lenet300100' ? Math.max(steps, 20) : steps;
  let last = performance.now();
  let lastCpu = process.cpuUsage();
  const before = process.env.LTH_BACKEND;
  process.env.LTH_BACKEND = backend;
  const r = await train({
    model,
    data,
    weights: model.init(),
    batchSize: spec.batch,
    budget: warmup + n,
    optimizer: spec.optimizer,
    schedule: { lr: spec.lr },
    dataSeed: 0,
    progressEvery: 1,
    onProgress: (p) => {
      const now = performance.now();
      const cpu = process.cpuUsage(lastCpu);
      if (p.iteration > warmup) {
        out.wall.push(now - last);
        out.cpu.push((cpu.user + cpu.system) / 1000);
      }
      last = now;
      lastCpu = process.cpuUsage();
    },
  }).finally(() => {
    if (before === undefined) delete process.env.LTH_BACKEND;
    else process.env.LTH_BACKEND = before;
  });
  if (r.backend.name !== backend) throw new Error(`asked for ${backend}, train() ran on ${r.backend.name}`);
  return out;
}

interface TorchOut {
  torch: string;
  threads: number;
  blas: string;
  ms: Record<string, number>;
  cpu_ms: Record<string, number>;
}

function runTorch(model: string): TorchOut | string {
  const py = spawnSync(values.python!, ['bench/train_torch.py', '--threads', String(threads), '--steps', String(Math.max(steps, 5)), '--models', model], {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads) },
  });
  if (py.status === 0) return JSON.parse(py.stdout.trim().split('\n').at(-1)!) as TorchOut;
  return (py.stderr || py.error?.message || '').trim().split('\n').at(-1) ?? 'failed';
}

// Which backends are available (initialising one twice is cheap; switching is what rounds do).
const infos = new Map<string, BackendInfo>();
for (const b of values.backends!.split(',') as BackendPref[]) {
  try {
    const info = await initBackend(b, b === 'cpu' ? {} : { threads });
    infos.set(info.name, info);
  } catch (e) {
    console.error(`${b}: not available (${(e as Error).message.split('\n')[0]})`);
  }
}

const ours = new Map<string, Sample>(); // key backend/model
const torch: Record<string, Sample> = {};
let torchInfo: TorchOut | undefined;
let torchError: string | undefined;
const loads: string[] = [load()];
for (let r = 0; r < rounds; r++) {
  for (const m of models) {
    for (const [name, info] of infos) {
      if (name === 'cpu' && m !== 'lenet300100' && m !== 'modular_mlp_97') continue;
      await initBackend(name as BackendPref, name === 'cpu' ? {} : { threads: info.threads });
      const s = await stepTimes(m, name);
      const acc = ours.get(`${name}/${m}`) ?? { wall: [], cpu: [] };
      acc.wall.push(...s.wall);
      acc.cpu.push(...s.cpu);
      ours.set(`${name}/${m}`, acc);
      console.error(`round ${r + 1} ${name} ${m}: ${median(s.wall).toFixed(1)} ms wall, ${median(s.cpu).toFixed(1)} ms cpu (load ${load()})`);
    }
    if (torchError === undefined) {
      const t = runTorch(m);
      if (typeof t === 'string') {
        torchError = t;
        console.error(`PyTorch baseline not run: ${t}`);
      } else {
        torchInfo = t;
        const acc = (torch[m] ??= { wall: [], cpu: [] });
        acc.wall.push(t.ms[m]!);
        acc.cpu.push(t.cpu_ms[m]!);
        console.error(`round ${r + 1} pytorch ${m}: ${t.ms[m]!.toFixed(1)} ms wall, ${t.cpu_ms[m]!.toFixed(1)} ms cpu`);
      }
    }
  }
  loads.push(load());
}

const date = new Date().toISOString().slice(0, 10);
console.log(`\nTraining step time (forward + backward + update), ${date}, ${threads} thread(s), ${rounds} interleaved round(s)`);
console.log(`  1-min load average at the start and after each round: ${loads.join(', ')} (${(await import('node:os')).cpus().length} cores)`);
for (const i of infos.values()) {
  console.log(`  ${i.name}: threads ${i.threads}, ${Object.entries(i.versions).map(([k, v]) => `${k} ${v}`).join(', ')}`);
}
if (torchInfo) console.log(`  PyTorch ${torchInfo.torch}, ${torchInfo.threads} thread(s), BLAS: ${torchInfo.blas}`);
console.log('\n| model (batch, optimizer) | backend | ms/step wall | ms/step CPU | PyTorch wall | PyTorch CPU | ratio wall | ratio CPU |');
console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const m of models) {
  for (const name of infos.keys()) {
    const s = ours.get(`${name}/${m}`);
    if (!s) continue;
    const spec = SPECS[m]!;
    const t = torch[m];
    const w = median(s.wall);
    const c = median(s.cpu);
    const tw = t ? median(t.wall) : undefined;
    const tc = t ? median(t.cpu) : undefined;
    const f = (x: number | undefined) => (x === undefined ? '-' : x.toFixed(1));
    const ratio = (a: number, b: number | undefined) => (b === undefined ? '-' : `${(a / b).toFixed(1)}x`);
    console.log(`| ${m} (${spec.batch}, ${spec.optimizer.type}) | ${name} | ${f(w)} | ${f(c)} | ${f(tw)} | ${f(tc)} | ${ratio(w, tw)} | ${ratio(c, tc)} |`);
  }
}
