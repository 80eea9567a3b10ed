/**
 * A stage instance with its key settled, as the plain data that computing it needs (`StageTask`):
 * written once, for every path that hands a stage to a runner (the scheduler's child processes,
 * queue workers, Slurm jobs).
 */
import type { BoundInput, InputDigests, StageTask } from '../protocol.js';
import type { StageNode } from '../definition/pipeline.js';
import { namedCodeModules, namedCodeOf } from '../definition/named-code.js';
import { METRICS_OUTPUT } from '../definition/stage.js';

/** The modules a stage's runner imports first: those that register the code its params name. */
function preloadOf(node: StageNode): { preload?: string[] } {
  const files = namedCodeModules(namedCodeOf(node.def.schema, node.params.effective));
  return files.length > 0 ? { preload: files } : {};
}

/** Each input binding with the digests bound to it (and the path of an external file). */
export function bindingsOf(node: StageNode, inputs: InputDigests): Record<string, BoundInput> {
  return Object.fromEntries(
    Object.entries(node.inputs).map(([name, binding]) => {
      const refs = Array.isArray(binding) ? binding : [binding];
      const digests = Array.isArray(inputs[name]) ? (inputs[name] as string[]) : [inputs[name] as string];
      return [name, { list: Array.isArray(binding), items: refs.map((r, i) => ({ digest: digests[i]!, ...(r.kind === 'file' ? { path: r.path } : {}) })) }];
    }),
  );
}

export function taskOf(node: StageNode, key: string, inputs: InputDigests, codeFingerprint: string): StageTask {
  return {
    id: node.id,
    key,
    stage: node.def.name,
    moduleFile: node.def.site.file,
    params: node.params.effective,
    bindings: bindingsOf(node, inputs),
    outputs: node.outputs.filter((o) => o !== METRICS_OUTPUT),
    codeFingerprint,
    ...preloadOf(node),
  };
}
