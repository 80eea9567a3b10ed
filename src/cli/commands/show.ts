/** `pipeline show`: a table of stage instances: id, state, key prefix, duration, metrics. */
import { loadPipeline, planPipeline } from '../../engine/index.js';
import { readLock } from '../../store/index.js';
import { formatDuration, formatMetrics, textTable } from '../format.js';
import { openWorkspace, type WorkspaceOptions } from '../workspace.js';

export interface ShowOptions extends WorkspaceOptions {
  set: string[];
  json: boolean;
}

export async function showCommand(file: string, opts: ShowOptions): Promise<number> {
  const ws = openWorkspace(opts, file);
  const pipeline = await loadPipeline(file, opts.set);
  const lock = await readLock(ws.lockPath);
  const plan = await planPipeline(pipeline, ws.store, ws.fingerprinter, lock.pipelines[pipeline.definition.name]);
  const rows = [...plan.stages.values()].map((s) => ({
    id: s.node.id,
    stage: s.node.def.name,
    state: s.state,
    key: s.key ?? null,
    durationMs: s.record?.durationMs ?? null,
    startedAt: s.record?.startedAt ?? null,
    host: s.record?.host ?? null,
    params: s.node.params.effective,
    metrics: s.record?.metrics ?? null,
  }));
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return 0;
  }
  const table = textTable(
    ['id', 'stage', 'state', 'key', 'duration', 'metrics'],
    rows.map((r) => [r.id, r.stage, r.state, r.key?.slice(0, 12) ?? '-', r.durationMs === null ? '-' : formatDuration(r.durationMs), formatMetrics(r.metrics ?? undefined)]),
  );
  process.stdout.write(`${table}\n`);
  return 0;
}
