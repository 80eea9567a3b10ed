// Issue #23, point 4: the crash-safety guarantees under fault injection. A 20-stage pipeline whose
// stages run in processes of their own is run with --force (so that kills land in the middle of
// work) and SIGKILLed at moments a seeded generator draws: the whole process group, or one stage
// process. After each kill: `verify` finds every object intact, the lock file parses, nothing in
// the cache (working folders, temp files, leases) belongs to a live process, and a run that
// exited by itself left nothing of its own. At the end every seed's run completes with the lock
// file of a clean run. Then a byte of a random object is flipped between runs, and the next run
// that reads (or writes) it heals it.
//
// The kill moments vary with the machine's speed; what is asserted holds wherever a kill lands.
// FAULT_INJECTION_SEED=<n> draws another campaign (default 23).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { Rng } from '../../src/nn/rng.js';
import { isTempFileName } from '../../src/store/atomic.js';
import { ownerOfName } from '../../src/store/owner.js';
import { readLock, Store } from '../../src/store/index.js';
import { API, CLI, TestProject } from '../helpers/project.js';

/** 1 source, 6 + 6 + 6 mixing stages, 1 total: 20 stage instances, each in a process of its own. */
const PIPELINE = `import { appendFile } from 'node:fs/promises';
import { readFile } from 'node:fs/promises';
import { defineStage, definePipeline, z } from ${JSON.stringify(API)};

const SLEEP_MS = Number(process.env.FAULT_SLEEP_MS ?? 0);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Written in two halves with a pause between, so that a kill can land in the middle of a write. */
async function writeSlowly(path: string, text: string): Promise<void> {
  await appendFile(path, text.slice(0, text.length >> 1));
  await sleep(SLEEP_MS);
  await appendFile(path, text.slice(text.length >> 1));
}

const source = defineStage({
  name: 'source',
  params: z.object({ seed: z.number().int() }),
  outputs: ['v'],
  isolation: 'process',
  async run(ctx) {
    await writeSlowly(ctx.output('v'), String(ctx.params.seed * 7919).repeat(500));
  },
});

const mix = defineStage({
  name: 'mix',
  params: z.object({ salt: z.number().int() }),
  inputs: ['xs'],
  outputs: ['v'],
  isolation: 'process',
  async run(ctx) {
    let v = ctx.params.salt;
    for (const f of ctx.inputList('xs')) for (const c of await readFile(f)) v = (v * 31 + c) % 1000003;
    await writeSlowly(ctx.output('v'), String(v).repeat(500));
    return { v };
  },
});

export default definePipeline({ name: 'faults', params: { seed: 1 } }, (p, cfg) => {
  const root = p.stage(source, { seed: cfg.seed });
  const six = [0, 1, 2, 3, 4, 5];
  const mids = six.map((i) => p.stage(mix, { xs: [root.out('v')], salt: i }, { id: \`mid\${i}\` }));
  const pairs = six.map((i) => p.stage(mix, { xs: [mids[i]!.out('v'), mids[(i + 1) % 6]!.out('v')], salt: 10 + i }, { id: \`pair\${i}\` }));
  const leaves = six.map((i) => p.stage(mix, { xs: [pairs[i]!.out('v')], salt: 20 + i }, { id: \`leaf\${i}\` }));
  p.stage(mix, { xs: leaves.map((l) => l.out('v')), salt: 99 }, { id: 'total' });
});
`;

const SEEDS = [1, 2];
const KILLS = 10;
const SLOW = { FAULT_SLEEP_MS: '150' };

/**
 * Whether a process of one of `groups` (the runs this test started) is running: a zombie, waiting
 * for a parent to reap it, is not, nor is another program that got a dead owner's pid again.
 */
function runningIn(pid: number, groups: ReadonlySet<number>): boolean {
  const f = statFields(pid);
  return f !== undefined && f[0] !== 'Z' && groups.has(Number(f[2]));
}

/** `/proc/<pid>/stat` after the command name: state, ppid, process group, ... */
function statFields(pid: number | string): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined; // gone meanwhile
  }
}

function processes(): Array<{ pid: number; state: string; ppid: number; group: number }> {
  const out: Array<{ pid: number; state: string; ppid: number; group: number }> = [];
  for (const name of readdirSync('/proc')) {
    const f = /^\d+$/.test(name) ? statFields(name) : undefined;
    if (f) out.push({ pid: Number(name), state: f[0]!, ppid: Number(f[1]), group: Number(f[2]) });
  }
  return out;
}

/** Whether a process of the group is still running (zombies, waiting to be reaped, are not). */
function groupRunning(group: number): boolean {
  return processes().some((p) => p.group === group && p.state !== 'Z');
}

/** The stage processes that `parent` started and that are running. */
function stageProcesses(parent: number): number[] {
  return processes()
    .filter((p) => p.ppid === parent && p.state !== 'Z')
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').includes('stage-worker');
      } catch {
        return false;
      }
    })
    .map((p) => p.pid)
    .sort((a, b) => a - b);
}

/** Who owns what a run leaves in the cache: working folders, temp files and leases. */
function leftovers(cache: string): Array<{ path: string; pid: number | undefined }> {
  const out: Array<{ path: string; pid: number | undefined }> = [];
  const list = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir) : []);
  for (const name of list(join(cache, 'tmp'))) out.push({ path: `tmp/${name}`, pid: ownerOfName(name)?.pid });
  for (const sharded of ['objects', 'runs']) {
    for (const prefix of list(join(cache, sharded))) {
      for (const name of list(join(cache, sharded, prefix))) if (isTempFileName(name)) out.push({ path: `${sharded}/${prefix}/${name}`, pid: ownerOfName(name)?.pid });
    }
  }
  for (const name of list(join(cache, 'meta'))) if (isTempFileName(name)) out.push({ path: `meta/${name}`, pid: ownerOfName(name)?.pid });
  for (const name of list(join(cache, 'leases'))) {
    let pid = ownerOfName(name)?.pid;
    if (pid === undefined) {
      try {
        pid = (JSON.parse(readFileSync(join(cache, 'leases', name), 'utf8')) as { pid?: number }).pid;
      } catch {
        // a lease being written when its owner died: no owner to be alive
      }
    }
    out.push({ path: `leases/${name}`, pid });
  }
  return out;
}

describe('fault injection: SIGKILL at random moments, byte flips between runs', () => {
  const project = new TestProject({ 'faults.ts': PIPELINE });
  const clean = new TestProject({ 'faults.ts': PIPELINE });
  /** The lock file of a clean run, per seed. */
  const cleanLocks = new Map<number, string>();
  /** The process groups of the runs started here. */
  const groups = new Set<number>();
  const rng = new Rng(Number(process.env.FAULT_INJECTION_SEED ?? 23));
  after(() => {
    project.remove();
    clean.remove();
  });

  before(() => {
    for (const seed of SEEDS) {
      const r = clean.cli(['run', 'faults.ts', '--set', `seed=${seed}`]);
      assert.equal(r.code, 0, r.stderr);
      cleanLocks.set(seed, clean.read('dvc-like.lock'));
    }
    // A first run fills the planning caches (type check, fingerprints: seconds when cold), so
    // that the kills below land while stages work, 1-6 s into a run here.
    assert.equal(project.cli(['run', 'faults.ts', '--set', `seed=${SEEDS[0]}`]).code, 0);
  });

  const checkAfterKill = async (what: string, selfExitedPid: number | undefined): Promise<void> => {
    const cache = project.path('cache');
    for (const item of leftovers(cache)) {
      assert.ok(item.pid === undefined || !runningIn(item.pid, groups), `${what}: ${item.path} belongs to process ${item.pid}, which is still running`);
      if (selfExitedPid !== undefined) assert.notEqual(item.pid, selfExitedPid, `${what}: the run exited by itself but left ${item.path}`);
    }
    const verify = project.cli(['verify']);
    assert.equal(verify.code, 0, `${what}: verify\n${verify.stdout}${verify.stderr}`);
    assert.match(verify.stdout, /all intact/);
    if (project.exists('dvc-like.lock')) await readLock(project.path('dvc-like.lock'), new Store(cache).layout);
  };

  test(`${KILLS} runs with --force killed at random moments (whole group, or one stage process); every seed then completes as a clean run`, async () => {
    for (let i = 0; i < KILLS; i++) {
      const seed = SEEDS[i % SEEDS.length]!;
      const oneStage = rng.next() < 0.5;
      const delayMs = 500 + rng.int(5000);
      const what = `kill ${i + 1} (seed ${seed}, ${oneStage ? 'one stage process' : 'whole group'} after ${delayMs} ms)`;
      // Its own process group: the run, and the stage processes it starts.
      const child = spawn(process.execPath, [CLI, 'run', 'faults.ts', '--set', `seed=${seed}`, '--force', '*', '--jobs', '3'], {
        cwd: project.dir,
        env: { ...process.env, ...SLOW },
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const group = child.pid!;
      groups.add(group);
      let stderr = '';
      child.stdout.resume();
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = once(child, 'exit');
      await Promise.race([sleep(delayMs), exited]);
      if (child.exitCode === null && child.signalCode === null) {
        // One stage process when one is running (else the group): the run goes on without it.
        const stages = oneStage ? stageProcesses(group) : [];
        process.kill(stages.length > 0 ? stages[rng.int(stages.length)]! : -group, 'SIGKILL');
      }
      const stuck = setTimeout(() => process.kill(-group, 'SIGKILL'), 120_000);
      await exited;
      clearTimeout(stuck);
      for (let t = 0; t < 200 && groupRunning(group); t++) await sleep(50);
      assert.equal(groupRunning(group), false, `${what}: a process of the run outlived it`);
      // Exit 0 (done before the kill) or 1 (a stage process killed), or killed by the signal.
      assert.ok(child.signalCode === 'SIGKILL' || child.exitCode === 0 || child.exitCode === 1, `${what}: exit ${child.exitCode} ${child.signalCode}\n${stderr}`);
      await checkAfterKill(what, child.signalCode === null ? group : undefined);
    }
    // What dead processes left is swept; then every seed completes with a clean run's results.
    assert.equal(project.cli(['gc']).code, 0);
    assert.deepEqual(leftovers(project.path('cache')), [], 'gc swept what the killed runs left');
    for (const seed of SEEDS) {
      const r = project.cli(['run', 'faults.ts', '--set', `seed=${seed}`]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(project.read('dvc-like.lock'), cleanLocks.get(seed), `seed ${seed}: the results of a clean run`);
    }
  });

  test('a byte of a random object flipped between runs: the next run that reads (or writes) it heals it', () => {
    const seed = SEEDS[0]!;
    assert.equal(project.cli(['run', 'faults.ts', '--set', `seed=${seed}`]).code, 0);
    type Entry = { inputs: Record<string, string | string[]>; outputs: Record<string, { digest: string }> };
    for (let round = 0; round < 3; round++) {
      const stages = Object.entries((parse(project.read('dvc-like.lock')) as { pipelines: Record<string, { stages: Record<string, Entry> }> }).pipelines.faults!.stages);
      const digests = [...new Set(stages.flatMap(([, e]) => Object.values(e.outputs).map((o) => o.digest)))].sort();
      const digest = digests[rng.int(digests.length)]!;
      const producers = stages.filter(([, e]) => Object.values(e.outputs).some((o) => o.digest === digest)).map(([id]) => id);
      const readers = stages.filter(([, e]) => Object.values(e.inputs).flat().includes(digest)).map(([id]) => id);
      project.flipByte(digest, rng.int(1000));
      // Readers that must compute read it (and have its producer recomputed); else the producer, forced, writes it again.
      const force = (readers.length > 0 ? readers : producers).flatMap((id) => ['--force', id]);
      const r = project.cli(['run', 'faults.ts', '--set', `seed=${seed}`, ...force]);
      const what = `round ${round + 1}: object ${digest.slice(0, 12)} (made by ${producers.join(', ')}; read by ${readers.join(', ') || 'none'})`;
      assert.equal(r.code, 0, `${what}\n${r.stderr}`);
      if (readers.length > 0) assert.equal(r.stderr.match(/is corrupt/g)?.length, 1, `${what}: said once\n${r.stderr}`);
      const verify = project.cli(['verify']);
      assert.match(verify.stdout, /all intact/, `${what}\n${verify.stdout}`);
      assert.equal(project.read('dvc-like.lock'), cleanLocks.get(seed), `${what}: the results of a clean run`);
    }
  });
});
