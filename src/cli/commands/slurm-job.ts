/** `pipeline slurm-job <manifest> <index>`: one stage of a Slurm job, on its compute node (src/engine/host/slurm/node-job.ts). */
import { PipelineError } from '../../errors.js';
import { runSlurmJob } from '../../engine/host/slurm/node-job.js';

export async function slurmJobCommand(manifest: string, index: number): Promise<number> {
  if (!Number.isInteger(index) || index < 0) throw new PipelineError('USAGE', `slurm-job: task index '${index}' is not a whole number`);
  // scancel and the time limit send SIGTERM first: the stage sees its signal abort and stops.
  const controller = new AbortController();
  process.once('SIGTERM', () => controller.abort());
  process.once('SIGINT', () => controller.abort());
  await runSlurmJob(manifest, index, (line) => void process.stdout.write(`${line}\n`), controller.signal);
  return 0;
}
