/**
 * Plain-data tensors: how weights, masks and optimizer state cross module and process boundaries
 * (no tf objects, so they can be hashed, written to safetensors and sent between processes).
 */
import { PipelineError } from '../errors.js';

export interface PlainTensor<D extends Float32Array | Uint8Array = Float32Array | Uint8Array> {
  shape: number[];
  data: D;
}

/** Named tensors. Weights and optimizer state are Float32Array; masks may be Uint8Array (0/1). */
export type TensorMap = Record<string, PlainTensor>;
export type WeightMap = Record<string, PlainTensor<Float32Array>>;
export type MaskMap = Record<string, PlainTensor<Float32Array | Uint8Array>>;

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Deep copy (new typed arrays). */
export function cloneMap<M extends TensorMap>(m: M): M {
  const out: TensorMap = {};
  for (const k of Object.keys(m).sort()) {
    const t = m[k]!;
    out[k] = { shape: [...t.shape], data: t.data.slice() };
  }
  return out as M;
}

/** Check that `m` has exactly the tensors and shapes of `ref` (names in `only`, if given). */
export function checkShapes(
  m: TensorMap,
  ref: Record<string, { shape: readonly number[] }>,
  what: string,
  only?: readonly string[],
): void {
  for (const name of only ?? Object.keys(ref)) {
    const t = m[name];
    const r = ref[name];
    if (!r) continue;
    if (!t) {
      throw new PipelineError('PARAM_INVALID', `${what} lacks tensor '${name}'`, { where: what });
    }
    if (t.shape.length !== r.shape.length || t.shape.some((d, i) => d !== r.shape[i]) || t.data.length !== sizeOf(r.shape)) {
      throw new PipelineError('PARAM_INVALID', `${what}: '${name}' has shape [${t.shape}], expected [${r.shape}]`, {
        where: what,
      });
    }
  }
}

/** Fraction of ones in a mask map (over all its tensors). */
export function maskDensity(mask: MaskMap): number {
  let ones = 0;
  let total = 0;
  for (const t of Object.values(mask)) {
    for (let i = 0; i < t.data.length; i++) if (t.data[i] !== 0) ones++;
    total += t.data.length;
  }
  return total === 0 ? 1 : ones / total;
}
