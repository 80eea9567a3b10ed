/**
 * `pipeline get <pipeline.ts> <stage-id> [output] -o <path>`: an output out of the cache, verified
 * (re-hashed) on the way; `--format torch` writes a checkpoint or mask in PyTorch's conventions.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { PipelineError } from '../../errors.js';
import { writeFileAtomic } from '../../store/index.js';
import { writeJson } from '../format.js';
import { planInWorkspace, type WorkspaceOptions } from '../workspace.js';

export const GET_FORMATS = ['raw', 'torch'] as const;

export interface GetCommandOptions extends WorkspaceOptions {
  set: string[];
  output: string;
  format: (typeof GET_FORMATS)[number];
  json: boolean;
}

export async function getCommand(file: string, stageId: string, outputName: string | undefined, opts: GetCommandOptions): Promise<number> {
  const { ws, plan } = await planInWorkspace(file, opts);
  const sp = plan.stages.get(stageId);
  if (!sp) {
    const ids = [...plan.stages.keys()];
    const near = ids.filter((id) => id.includes(stageId) || stageId.includes(id)).slice(0, 8);
    throw new PipelineError('USAGE', `the pipeline has no stage '${stageId}'`, { where: file, hint: `stage ids: ${(near.length ? near : ids.slice(0, 12)).join(', ')}${near.length || ids.length <= 12 ? '' : ', ...'} (\`pipeline dag ${file}\` lists all)` });
  }
  const output = outputName ?? sp.node.outputs[0];
  if (output === undefined || !sp.node.outputs.includes(output)) {
    throw new PipelineError('USAGE', output === undefined ? `stage '${stageId}' has no outputs` : `stage '${stageId}' has no output '${output}'`, { where: `stage ${stageId}`, hint: `its outputs: ${sp.node.outputs.join(', ')}` });
  }
  const rerun = `pipeline run ${file}${opts.set.map((s) => ` --set ${s}`).join('')}`;
  const info = sp.state !== 'stale' ? sp.record?.outputs[output] : undefined;
  if (!info) {
    throw new PipelineError('RESULT_MISSING', `stage '${stageId}' has no result for its current params and inputs`, {
      where: `stage ${stageId}`,
      hint: `run it first: ${rerun} (or pull it from the team's remote: pipeline pull)`,
    });
  }
  const source = await ws.store.objects.verifiedResult(info.digest, `output '${output}' of stage '${stageId}'`, rerun);
  const target = resolve(opts.output);
  let bytes: Uint8Array = await readFile(source);
  if (opts.format === 'torch') {
    const { toTorchFile } = await import('../../nn/torch-format.js');
    // A checkpoint trained under a mask carries it, as torch.nn.utils.prune does.
    const maskDigest = output !== 'mask' ? sp.inputs?.mask : undefined;
    const maskBytes = typeof maskDigest === 'string' ? await readFile(await ws.store.objects.verifiedResult(maskDigest, `input 'mask' of stage '${stageId}'`, rerun)) : undefined;
    bytes = toTorchFile(bytes, `${stageId}/${output}`, maskBytes);
  }
  await writeFileAtomic(target, bytes);
  if (opts.json) writeJson({ stage: stageId, output, digest: info.digest, format: opts.format, path: target, bytes: bytes.length });
  else process.stdout.write(`${stageId}/${output} (${info.digest.slice(0, 12)}) -> ${target}${opts.format === 'torch' ? ' (PyTorch state dict)' : ''}\n`);
  return 0;
}
