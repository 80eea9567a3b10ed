/**
 * Seeded initialisation of a network's tensors. Each tensor is drawn from its own stream,
 * hash(seed, hash(name)): the same seed gives the same tensor to the same name whatever else the
 * network holds, so adding a layer does not redraw the others.
 */
import { Rng, hashInts } from '../rng.js';
import { sizeOf } from '../tensormap.js';

export type InitScheme = 'glorot_normal' | 'he_normal' | 'zeros' | 'ones';

/** The schemes a kernel may be given (biases start at 0, batch-norm scales at 1). */
export type KernelInit = Extract<InitScheme, 'glorot_normal' | 'he_normal'>;
export const KERNEL_INITS: readonly KernelInit[] = ['glorot_normal', 'he_normal'];

function strHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Fan-in / fan-out as Keras and PyTorch compute them (receptive field times channels). */
function fans(shape: readonly number[]): [number, number] {
  if (shape.length === 2) return [shape[0]!, shape[1]!];
  const rf = shape.slice(0, -2).reduce((a, b) => a * b, 1);
  return [rf * shape[shape.length - 2]!, rf * shape[shape.length - 1]!];
}

/** The initial values of the tensor `name` of `shape` under `init`, for `seed`. */
export function initTensor(name: string, shape: readonly number[], init: InitScheme, seed: number): Float32Array {
  const n = sizeOf(shape);
  const out = new Float32Array(n);
  if (init === 'zeros') return out;
  if (init === 'ones') return out.fill(1);
  const [fanIn, fanOut] = fans(shape);
  const rng = new Rng(hashInts(seed, strHash(name)));
  if (init === 'glorot_normal') {
    // Keras glorot_normal: truncated normal (2 sd), sd corrected so the variance is 2/(in+out).
    const sd = Math.sqrt(2 / (fanIn + fanOut)) / 0.8796256610342398;
    for (let i = 0; i < n; i++) out[i] = rng.truncatedNormal() * sd;
  } else {
    // He (Kaiming) normal, fan-in mode, as torch.nn.init.kaiming_normal_.
    const sd = Math.sqrt(2 / fanIn);
    for (let i = 0; i < n; i++) out[i] = rng.normal() * sd;
  }
  return out;
}
