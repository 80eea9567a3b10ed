/** `pipeline setup native`: build (or remove) the native TensorFlow backend; see src/nn/native/setup.ts. */
import { removeNative, setupNative } from '../../nn/native/setup.js';
import { nativeDir } from '../../nn/native/layout.js';
import { writeJson } from '../format.js';

export interface SetupCommandOptions {
  gpu: boolean;
  tfVersion?: string;
  remove: boolean;
  json: boolean;
}

export async function setupCommand(o: SetupCommandOptions): Promise<number> {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  if (o.remove) {
    const removed = await removeNative();
    if (o.json) writeJson({ removed, dir: nativeDir() });
    else out(removed ? `removed the native backend (${nativeDir()}); the WASM backend is used` : 'no native backend was built: nothing to remove');
    return 0;
  }
  const started = Date.now();
  let stepStarted = started;
  const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;
  let last = '';
  const r = await setupNative({
    gpu: o.gpu,
    ...(o.tfVersion !== undefined ? { tfVersion: o.tfVersion } : {}),
    onStep: (i, n, what) => {
      if (o.json) return;
      if (last) out(`      ${last}: ${seconds(stepStarted)}`);
      stepStarted = Date.now();
      last = what.split(' ')[0]!;
      out(`[${i}/${n}] ${what}`);
    },
  });
  const m = r.manifest;
  if (o.json) {
    writeJson({ built: r.built, dir: r.dir, seconds: (Date.now() - started) / 1000, manifest: m });
    return 0;
  }
  if (!r.built) {
    out(`the native backend is already built: TensorFlow ${m.tensorflow} (${m.variant}) from ${m.wheel.name}, in ${r.dir}`);
    return 0;
  }
  out(`      ${last}: ${seconds(stepStarted)}`);
  out(`built the native backend in ${seconds(started)}: TensorFlow ${m.tensorflow} (${m.variant}) from ${m.wheel.name}`);
  out(`  wheel sha256 ${m.wheel.sha256}`);
  out(`  ${r.dir}; LTH_BACKEND=auto (the default) now trains on it, LTH_BACKEND=wasm does not`);
  return 0;
}
