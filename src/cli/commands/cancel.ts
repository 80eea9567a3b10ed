/** `pipeline cancel <pipeline>`: cancel the pipeline's Slurm jobs that are still pending or running. */
import { FINAL_STATES, SlurmCommands } from '../../engine/host/slurm/commands.js';
import { SlurmFiles } from '../../engine/host/slurm/records.js';
import { importPipeline } from '../../engine/index.js';
import { writeJson } from '../format.js';
import { openWorkspace, type WorkspaceOptions } from '../workspace.js';

export async function cancelCommand(file: string, opts: WorkspaceOptions & { json: boolean }): Promise<number> {
  const ws = openWorkspace(opts, file);
  const name = (await importPipeline(file)).name;
  const files = new SlurmFiles(ws.store.root);
  const records = files.records(name);
  const commands = new SlurmCommands();
  const states = await commands.states(records.map((r) => r.jobId));
  const live = records.filter((r) => {
    const st = states.get(r.jobId);
    return st !== undefined && !FINAL_STATES.has(st.state);
  });
  await commands.cancel(live.map((r) => r.jobId));
  for (const r of records) if (!live.includes(r)) files.removeRecord(name, r.id);
  if (opts.json) writeJson({ pipeline: name, cancelled: live.map((r) => ({ id: r.id, jobId: r.jobId })) });
  else if (live.length === 0) process.stdout.write(`${name}: no Slurm job of this pipeline is pending or running\n`);
  else {
    for (const r of live) process.stdout.write(`cancelled ${r.jobId.padEnd(12)} ${r.id}\n`);
    process.stderr.write(`${name}: ${live.length} Slurm job(s) cancelled; finished stages stay cached: \`pipeline run\` continues from them\n`);
  }
  return 0;
}
