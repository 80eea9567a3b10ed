/** `pipeline verify`: re-hash every object; corrupt ones are quarantined and recomputed next run. */
import { verifyObjects } from '../../store/maintenance.js';
import { writeJson } from '../format.js';
import { openWorkspace, type WorkspaceOptions } from '../workspace.js';

export async function verifyCommand(opts: WorkspaceOptions & { json: boolean }): Promise<number> {
  const ws = openWorkspace(opts);
  const report = await verifyObjects(ws.store);
  if (opts.json) {
    writeJson(report);
    return report.corrupt.length === 0 ? 0 : 1;
  }
  for (const c of report.corrupt) process.stdout.write(`corrupt ${c.digest} -> moved to ${c.movedTo}\n`);
  process.stdout.write(`checked ${report.checked} objects: ${report.corrupt.length === 0 ? 'all intact' : `${report.corrupt.length} corrupt (quarantined; the stages that made them will run again)`}\n`);
  return report.corrupt.length === 0 ? 0 : 1;
}
