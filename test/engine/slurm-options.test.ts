// Issue #21: what a Slurm job asks for, from a stage's resources and the settings (no cluster needed).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseMemoryMb, parseWallClockMs, resolveResources } from '../../src/engine/definition/resources.js';
import { grown, sbatchArgs, slurmTime, splitOptions, type JobShape } from '../../src/engine/host/slurm/options.js';
import { executorOf, splitSets } from '../../src/cli/slurm.js';
import { isPipelineError } from '../../src/errors.js';

test('resources: memory and time in their units, mistakes named', () => {
  assert.equal(parseMemoryMb('4G', 'm'), 4096);
  assert.equal(parseMemoryMb(512, 'm'), 512);
  assert.equal(parseMemoryMb('1.5GB', 'm'), 1536);
  assert.equal(parseWallClockMs('90m', 't'), 5_400_000);
  assert.equal(parseWallClockMs('2d', 't'), 172_800_000);
  assert.deepEqual(resolveResources({ cpu: 2, gpu: 1, memory: '300M', time: '6h' }, 'stage x', 'p.ts:3'), { cpu: 2, gpu: 1, memoryMb: 300, timeMs: 21_600_000 });
  assert.deepEqual(resolveResources(undefined, 'stage x', undefined), { cpu: 1, gpu: 0, memoryMb: undefined, timeMs: undefined });
  assert.throws(() => resolveResources({ memory: 'lots' }, "stage 'x'", 'p.ts:3'), (e) => isPipelineError(e) && e.code === 'PIPELINE_INVALID' && e.where === 'p.ts:3' && /resources.memory 'lots' is not a memory size/.test(e.message));
  assert.throws(() => resolveResources({ cpu: 0 }, "stage 'x'", 'p.ts:3'), /resources.cpu must be an integer >= 1/);
});

test('sbatch options of a job shape; Slurm time rounded up to the minute', () => {
  const shape: JobShape = { cpu: 2, gpu: 1, memoryMb: 4096, timeMs: 90 * 60_000 + 1, partition: 'gpu', account: 'lab', qos: undefined, extra: ['--nice=10'] };
  assert.deepEqual(sbatchArgs(shape), ['--cpus-per-task=2', '--gpus=1', '--mem=4096M', '--time=0-01:31:00', '--partition=gpu', '--account=lab', '--nice=10']);
  assert.equal(slurmTime(1), '0-00:01:00');
  assert.equal(slurmTime(36 * 3_600_000), '1-12:00:00');
  assert.deepEqual(splitOptions('  --constraint=avx2   --nice=10 '), ['--constraint=avx2', '--nice=10']);
});

test('a resubmission after TIMEOUT or OUT_OF_MEMORY grows what ran out', () => {
  const shape: JobShape = { cpu: 1, gpu: 0, memoryMb: undefined, timeMs: 60_000, partition: undefined, account: undefined, qos: undefined, extra: [] };
  assert.equal(grown(shape, 'TIMEOUT', 3, undefined).timeMs, 180_000);
  assert.equal(grown(shape, 'OUT_OF_MEMORY', 2, 1024).memoryMb, 2048);
  assert.equal(grown(shape, 'OUT_OF_MEMORY', 2, undefined), shape, 'unknown memory: nothing to grow');
});

test('--set slurm.<stage>.<option>=<value> is split from the pipeline params; an unknown executor or option is exit 2', () => {
  assert.deepEqual(splitSets(['profile=paper', 'slurm.train-dense.partition=gpu', 'slurm.k:500/rewind.time=2h', 'L1/prune.rate=0.1']), {
    pipeline: ['profile=paper', 'L1/prune.rate=0.1'],
    slurm: [
      { pattern: 'train-dense', options: { partition: 'gpu' } },
      { pattern: 'k:500/rewind', options: { time: '2h' } },
    ],
  });
  assert.throws(() => splitSets(['slurm.train-dense.partiton=gpu']), (e) => isPipelineError(e) && e.code === 'USAGE' && /expected slurm.<stage name, id or glob>.<option>=<value>/.test(e.message));
  assert.throws(() => executorOf('kubernetes'), (e) => isPipelineError(e) && e.code === 'USAGE' && /unknown executor/.test(e.message));
  assert.equal(executorOf(undefined), 'local');
});
