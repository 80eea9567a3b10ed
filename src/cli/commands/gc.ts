/** `pipeline gc`: drop cache entries and objects that neither the lock file nor recent runs use. */
import { readLock } from '../../store/index.js';
import { collectGarbage } from '../../store/maintenance.js';
import { formatBytes, writeJson } from '../format.js';
import { openWorkspace, type WorkspaceOptions } from '../workspace.js';

export interface GcCommandOptions extends WorkspaceOptions {
  dryRun: boolean;
  keepLast: number;
  json: boolean;
}

export async function gcCommand(opts: GcCommandOptions): Promise<number> {
  const ws = openWorkspace(opts);
  const lock = await readLock(ws.lockPath, ws.store.layout);
  const report = await collectGarbage(ws.store, [lock], { dryRun: opts.dryRun, keepLast: opts.keepLast });
  const bytes = report.removedObjects.reduce((a, o) => a + o.size, 0);
  if (opts.json) {
    writeJson({
      dryRun: opts.dryRun,
      removedObjects: report.removedObjects,
      removedBytes: bytes,
      removedRuns: report.removedRuns,
      removedTmp: report.removedTmp,
      removedLeases: report.removedLeases,
      keptObjects: report.keptObjects,
      keptRuns: report.keptRuns,
    });
    return 0;
  }
  const verb = opts.dryRun ? 'would remove' : 'removed';
  if (opts.dryRun) {
    for (const o of report.removedObjects) process.stdout.write(`${o.digest}  ${formatBytes(o.size)}\n`);
    for (const p of [...report.removedTmp, ...report.removedLeases]) process.stdout.write(`${p}\n`);
  }
  // What dead processes left is named only when there was some.
  const leftovers = [
    report.removedTmp.length > 0 ? `${report.removedTmp.length} abandoned temp files or working folders` : '',
    report.removedLeases.length > 0 ? `${report.removedLeases.length} stale leases` : '',
  ].filter(Boolean);
  process.stdout.write(
    `${verb} ${report.removedObjects.length} objects (${formatBytes(bytes)}) and ${report.removedRuns.length} run records${leftovers.map((l) => `, ${l}`).join('')}; ` +
      `kept ${report.keptObjects} objects and ${report.keptRuns} run records (lock file ${ws.lockPath}, last ${opts.keepLast} per stage instance)\n`,
  );
  return 0;
}
