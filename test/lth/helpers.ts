/** Runs a stage in this process, as the engine would (validated params, file inputs, an output dir). */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { executeStageJob } from '../../src/engine/runner/execute.js';
import { outputsOf, type StageDefinition } from '../../src/engine/definition/stage.js';

export interface StageRun {
  outDir: string;
  metrics: Record<string, unknown>;
  out(name: string): string;
}

export async function runStage(def: StageDefinition<any, any, any>, params: Record<string, unknown>, inputs: Record<string, string | string[]> = {}): Promise<StageRun> {
  const parsed = def.schema.parse(params) as Record<string, unknown>;
  const outDir = mkdtempSync(join(tmpdir(), `lth-stage-${def.name}-`));
  const outputs = [...outputsOf(def as StageDefinition, parsed)];
  const r = await executeStageJob(
    def as StageDefinition,
    { id: def.name, key: 'test', stage: def.name, moduleFile: '', params: parsed, inputs, outputs, outDir, scratchDir: join(outDir, '.scratch') },
    { progress: () => {}, log: () => {}, signal: new AbortController().signal },
  );
  return { outDir, metrics: r.metrics, out: (name) => join(outDir, name) };
}

export const bytes = (path: string) => readFileSync(path);

/** Bitwise equality of two Float32Arrays. */
export function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** LeNet-compatible synthetic data options (28x28x1, 10 classes), small. */
export const SYNTH = { dataset: 'synthetic', data: { synthetic: { shape: [28, 28, 1], numClasses: 10, trainSize: 200, validationSize: 40, testSize: 40 } } } as const;
