// Training step time (forward + backward + update) of the engine in src/nn, per backend, side by
// side with PyTorch CPU (bench/train_torch.py) at the same thread count.
//
//   node --import tsx bench/train.ts [--steps 3] [--models lenet300100,conv2,resnet20]
//                                    [--backends wasm,cpu,tensorflow] [--threads 1]
//
// The pure-JS cpu backend only runs LeNet (a Conv-2 step takes minutes there). PyTorch runs with
// /usr/bin/python3 (Debian's python3-torch) when it imports; otherwise its column is empty.
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { initBackend, type BackendPref } from '../src/nn/backend.js';
import { createModel } from '../src/nn/models/index.js';
import type { OptimizerConfig } from '../src/nn/optim.js';
import { train } from '../src/nn/train.js';
import { syntheticData } from '../src/nn/train-data.js';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '3' },
    models: { type: 'string', default: 'lenet300100,conv2,resnet20' },
    backends: { type: 'string', default: 'tensorflow,wasm,cpu' },
    threads: { type: 'string', default: '1' },
    python: { type: 'string', default: '/usr/bin/python3' },
  },
});
const steps = Number(values.steps);
const threads = Number(values.threads);
const models = values.models!.split(',');

const SPECS: Record<string, { batch: number; optimizer: OptimizerConfig; lr: number }> = {
  lenet300100: { batch: 60, optimizer: { type: 'adam' }, lr: 1.2e-3 },
  conv2: { batch: 60, optimizer: { type: 'adam' }, lr: 2e-4 },
  resnet20: { batch: 128, optimizer: { type: 'momentum', momentum: 0.9 }, lr: 0.1 },
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function stepTime(name: string): Promise<number> {
  const spec = SPECS[name]!;
  const model = createModel(name, { seed: 0 });
  const data = syntheticData({ inputShape: model.inputShape, trainSize: spec.batch * 4, validationSize: 10, testSize: 10 });
  const times: number[] = [];
  const warmup = name === 'lenet300100' ? 5 : 2;
  const n = name === 'lenet300100' ? Math.max(steps, 20) : steps;
  let last = performance.now();
  await train({
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
      if (p.iteration > warmup) times.push(now - last);
      last = now;
    },
  });
  return median(times);
}

const rows: Array<{ backend: string; model: string; ms: number }> = [];
const infos: string[] = [];
for (const b of values.backends!.split(',') as BackendPref[]) {
  let info;
  try {
    info = await initBackend(b, b === 'wasm' ? { threads } : {});
  } catch (e) {
    console.error(`${b}: not available (${(e as Error).message.split('\n')[0]})`);
    continue;
  }
  infos.push(`${info.name}: threads ${info.threads}, ${Object.entries(info.versions).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  for (const m of models) {
    if (info.name === 'cpu' && m !== 'lenet300100') continue;
    const ms = await stepTime(m);
    rows.push({ backend: info.name, model: m, ms });
    console.error(`${info.name} ${m}: ${ms.toFixed(1)} ms/step`);
  }
}

let torch: { torch: string; threads: number; blas: string; ms: Record<string, number> } | undefined;
const py = spawnSync(values.python!, ['bench/train_torch.py', '--threads', String(threads), '--steps', String(Math.max(steps, 5)), '--models', models.join(',')], {
  encoding: 'utf8',
  env: { ...process.env, OMP_NUM_THREADS: String(threads) },
});
if (py.status === 0) torch = JSON.parse(py.stdout.trim().split('\n').at(-1)!);
else console.error(`PyTorch baseline not run: ${(py.stderr || py.error?.message || '').trim().split('\n').at(-1)}`);

console.log(`\nTraining step time (forward + backward + update), median, ${threads} thread(s)`);
for (const i of infos) console.log(`  ${i}`);
if (torch) console.log(`  PyTorch ${torch.torch}, ${torch.threads} thread(s), BLAS: ${torch.blas}`);
console.log('\n| model (batch, optimizer) | backend | ms/step | PyTorch ms/step | ratio to PyTorch |');
console.log('| --- | --- | ---: | ---: | ---: |');
for (const r of rows) {
  const s = SPECS[r.model]!;
  const t = torch?.ms[r.model];
  console.log(`| ${r.model} (${s.batch}, ${s.optimizer.type}) | ${r.backend} | ${r.ms.toFixed(1)} | ${t === undefined ? '-' : t.toFixed(1)} | ${t === undefined ? '-' : (r.ms / t).toFixed(1) + 'x'} |`);
}
