/** `pipeline dag`: the graph as an indented text tree, or as Mermaid for docs and notebooks. */
import { loadPipeline, refsOf, type LoadedPipeline, type StageNode } from '../../engine/index.js';
import { writeJson } from '../format.js';

export interface DagOptions {
  set: string[];
  mermaid: boolean;
  json: boolean;
}

export async function dagCommand(file: string, opts: DagOptions): Promise<number> {
  const pipeline = await loadPipeline(file, opts.set);
  if (opts.json) {
    writeJson({ pipeline: pipeline.definition.name, stages: pipeline.order.map((n) => ({ id: n.id, stage: n.def.name })), edges: edges(pipeline) });
    return 0;
  }
  process.stdout.write(`${opts.mermaid ? toMermaid(pipeline) : toTextTree(pipeline)}\n`);
  return 0;
}

function edges(pipeline: LoadedPipeline): Array<{ from: string; to: string; label: string }> {
  const out: Array<{ from: string; to: string; label: string }> = [];
  for (const node of pipeline.order) {
    for (const { input, ref } of refsOf(node)) {
      if (ref.kind === 'output') out.push({ from: ref.stageId, to: node.id, label: ref.output === input ? input : `${ref.output} → ${input}` });
    }
  }
  return out;
}

/** Roots first; a stage with several parents is drawn in full once, then referred to with ↑. */
export function toTextTree(pipeline: LoadedPipeline): string {
  const children = new Map<string, string[]>();
  const hasParent = new Set<string>();
  for (const e of edges(pipeline)) {
    const list = children.get(e.from) ?? [];
    if (!list.includes(e.to)) list.push(e.to);
    children.set(e.from, list);
    hasParent.add(e.to);
  }
  const lines: string[] = [`${pipeline.definition.name} (${pipeline.order.length} stages)`];
  const drawn = new Set<string>();
  const label = (n: StageNode): string => (n.id === n.def.name || n.id.endsWith(`/${n.def.name}`) ? n.id : `${n.id} (${n.def.name})`);
  const draw = (id: string, prefix: string, last: boolean): void => {
    const node = pipeline.nodes.get(id)!;
    const seen = drawn.has(id);
    lines.push(`${prefix}${last ? '└─ ' : '├─ '}${label(node)}${seen ? ' ↑' : ''}`);
    if (seen) return;
    drawn.add(id);
    const kids = children.get(id) ?? [];
    kids.forEach((k, i) => draw(k, `${prefix}${last ? '   ' : '│  '}`, i === kids.length - 1));
  };
  const roots = pipeline.order.filter((n) => !hasParent.has(n.id));
  roots.forEach((r, i) => draw(r.id, '', i === roots.length - 1));
  return lines.join('\n');
}

export function toMermaid(pipeline: LoadedPipeline): string {
  const ids = new Map(pipeline.order.map((n, i) => [n.id, `s${i}`]));
  const lines = ['flowchart TD'];
  for (const n of pipeline.order) lines.push(`  ${ids.get(n.id)}["${n.id.replace(/"/g, '#quot;')}<br/><small>${n.def.name}</small>"]`);
  for (const e of edges(pipeline)) lines.push(`  ${ids.get(e.from)} -->|${e.label.replace(/[|"]/g, '_')}| ${ids.get(e.to)}`);
  return lines.join('\n');
}
