/**
 * Masks and pruning as plain data (no tf): magnitude pruning per layer (with rates per layer kind)
 * or global, iterative (a fraction of what remains) or one-shot (to a target density), layers left
 * unpruned, random masks (with rates, or with the per-layer densities of a reference mask),
 * densities and Hamming distances. Scores from SNIP and SynFlow (src/lth/saliency.ts) go through
 * the same selection (`selectByScores`).
 *
 * Determinism: selection keeps the highest scores; ties are broken by layer name order, then by
 * position (lower first); NaN scores count as -Infinity. Random scores are seeded per layer.
 */
import { PipelineError } from '../errors.js';
import { maskableNames, type LayerKind, type ParamSpec } from '../nn/models/index.js';
import { hashInts, Rng } from '../nn/rng.js';
import type { WeightMap } from '../nn/tensormap.js';

/** 0/1 per prunable weight, by name. */
export type Mask = Record<string, { shape: number[]; data: Uint8Array }>;
export type Scores = Record<string, Float32Array>;

export type PruneScope = 'layerwise' | 'global';

/** How much one pruning step removes. */
export interface PruneAmount {
  scope: PruneScope;
  /** Iterative: fraction of the remaining weights pruned (global, or layerwise default). */
  rate?: number;
  /** Layerwise: rate per layer kind (overrides `rate` for that kind). */
  rates?: Partial<Record<LayerKind, number>>;
  /** One-shot: fraction of the weights that remain (overall for global, per layer for layerwise). */
  density?: number;
  /** Layers left unpruned (their mask stays as it is, normally all ones). */
  keep?: readonly string[];
}

export interface LayerInfo {
  /** Prunable weight names, in the model's order. */
  prunable: readonly string[];
  shapes: Record<string, readonly number[]>;
  kinds: Record<string, LayerKind>;
  /**
   * Batch-norm scales and shifts, with their shapes: a mask may hold them too (channel pruning
   * zeroes a pruned channel's scale and shift, src/lth/channel-masks.ts), but pruning never selects
   * them, a mask without them leaves them dense, and densities do not count them.
   */
  affine?: Record<string, readonly number[]>;
}

export function layerInfoOf(model: { prunable: readonly string[]; params: readonly ParamSpec[]; layerKinds: Record<string, LayerKind> }): LayerInfo {
  const shapes: Record<string, number[]> = {};
  for (const p of model.params) if (model.prunable.includes(p.name)) shapes[p.name] = p.shape;
  const affine: Record<string, number[]> = {};
  const maskable = new Set(maskableNames(model));
  for (const p of model.params) if (maskable.has(p.name) && !model.prunable.includes(p.name)) affine[p.name] = p.shape;
  return { prunable: [...model.prunable], shapes, kinds: { ...model.layerKinds }, affine };
}

/**
 * Whether a mask entry is a batch-norm scale or shift (`<bn>.gamma`, `<bn>.beta`: the layer
 * builders' names, src/nn/models/layers.ts; prunable kernels are `<layer>.kernel`), not a weight.
 */
export function isAffineEntry(name: string): boolean {
  return name.endsWith('.gamma') || name.endsWith('.beta');
}

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The all-ones mask of a model's prunable weights. */
export function denseMask(info: LayerInfo): Mask {
  const m: Mask = {};
  for (const n of info.prunable) m[n] = { shape: [...info.shapes[n]!], data: new Uint8Array(size(info.shapes[n]!)).fill(1) };
  return m;
}

/**
 * `mask` completed with all-ones tensors for prunable weights it lacks (batch-norm scales and
 * shifts it holds are kept, those it lacks left out); checks shapes.
 */
export function completeMask(info: LayerInfo, mask: Mask | undefined, where = 'mask'): Mask {
  const out = denseMask(info);
  for (const [n, t] of Object.entries(mask ?? {})) {
    const ref = info.shapes[n] ?? info.affine?.[n];
    if (!ref) throw new PipelineError('PARAM_INVALID', `${where} has '${n}', which is not a prunable weight`, { where });
    if (t.data.length !== size(ref)) throw new PipelineError('PARAM_INVALID', `${where}: '${n}' has ${t.data.length} entries, expected ${size(ref)}`, { where });
    out[n] = { shape: [...ref], data: Uint8Array.from(t.data, (v) => (v ? 1 : 0)) };
  }
  return out;
}

export function countOnes(data: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < data.length; i++) n += data[i] ? 1 : 0;
  return n;
}

export interface DensityReport {
  /** Fraction of prunable weights remaining (batch-norm scale and shift entries are not counted). */
  overall: number;
  remaining: number;
  total: number;
  layers: Record<string, number>;
}

export function densityOf(mask: Mask): DensityReport {
  let remaining = 0;
  let total = 0;
  const layers: Record<string, number> = {};
  for (const n of Object.keys(mask).sort()) {
    if (isAffineEntry(n)) continue;
    const t = mask[n]!;
    const ones = countOnes(t.data);
    layers[n] = t.data.length ? ones / t.data.length : 1;
    remaining += ones;
    total += t.data.length;
  }
  return { overall: total ? remaining / total : 1, remaining, total, layers };
}

/** Number of positions where two masks differ (over the union of their tensors; missing = ones). */
export function hammingDistance(a: Mask, b: Mask): number {
  let d = 0;
  for (const n of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = a[n]?.data;
    const y = b[n]?.data;
    const len = Math.max(x?.length ?? 0, y?.length ?? 0);
    for (let i = 0; i < len; i++) if ((x ? x[i]! !== 0 : true) !== (y ? y[i]! !== 0 : true)) d++;
  }
  return d;
}

function checkFraction(v: number, what: string, where: string): void {
  if (!(Number.isFinite(v) && v >= 0 && v <= 1)) throw new PipelineError('PARAM_INVALID', `${what} must be in [0, 1], got ${v}`, { where });
}

/**
 * Keeps, among the positions that are 1 in `current`, the `keep` highest-scoring ones of the
 * layers `names` (one pool for all of them). Returns the new data per layer.
 */
function keepTop(names: readonly string[], scores: Scores, current: Mask, keep: number): Record<string, Uint8Array> {
  let pool = 0;
  for (const n of names) pool += countOnes(current[n]!.data);
  const out: Record<string, Uint8Array> = {};
  for (const n of names) out[n] = new Uint8Array(current[n]!.data.length);
  if (keep <= 0 || pool === 0) return out;
  if (keep >= pool) {
    for (const n of names) out[n]!.set(current[n]!.data);
    return out;
  }
  const all = new Float32Array(pool);
  let j = 0;
  const val = (s: number) => (Number.isNaN(s) ? -Infinity : s);
  for (const n of names) {
    const m = current[n]!.data;
    const s = scores[n]!;
    for (let i = 0; i < m.length; i++) if (m[i]) all[j++] = val(s[i]!);
  }
  all.sort();
  const threshold = all[pool - keep]!;
  // Strictly above the threshold: all kept. Equal: kept in (layer, position) order until full.
  let above = 0;
  for (let i = pool - 1; i >= 0 && all[i]! > threshold; i--) above++;
  let ties = keep - above;
  for (const n of names) {
    const m = current[n]!.data;
    const s = scores[n]!;
    const o = out[n]!;
    for (let i = 0; i < m.length; i++) {
      if (!m[i]) continue;
      const v = val(s[i]!);
      if (v > threshold) o[i] = 1;
      else if (v === threshold && ties > 0) {
        o[i] = 1;
        ties--;
      }
    }
  }
  return out;
}

/**
 * One pruning step: removes low-scoring weights among those that remain in `current` (magnitude
 * pruning passes |w| as scores). Layers in `keep` and layers without scores are left as they are.
 */
export function selectByScores(info: LayerInfo, scores: Scores, current: Mask | undefined, amount: PruneAmount, where = 'prune'): Mask {
  const cur = completeMask(info, current, where);
  const keepSet = new Set(amount.keep ?? []);
  for (const k of keepSet) {
    if (!info.prunable.includes(k)) {
      throw new PipelineError('PARAM_INVALID', `layer '${k}' to keep unpruned is not a prunable weight`, { where, hint: `prunable: ${info.prunable.join(', ')}` });
    }
  }
  const names = info.prunable.filter((n) => !keepSet.has(n) && scores[n]);
  for (const n of names) {
    if (scores[n]!.length !== cur[n]!.data.length) throw new PipelineError('INTERNAL', `scores of '${n}' have the wrong size`, { where });
  }
  if (amount.density !== undefined) checkFraction(amount.density, 'density', where);
  if (amount.rate !== undefined) checkFraction(amount.rate, 'rate', where);
  for (const [k, v] of Object.entries(amount.rates ?? {})) checkFraction(v, `rate of ${k} layers`, where);
  if (amount.density === undefined && amount.rate === undefined && !amount.rates) {
    throw new PipelineError('PARAM_INVALID', 'give a pruning rate (iterative) or a target density (one-shot)', { where });
  }
  const out: Mask = {};
  for (const n of info.prunable) out[n] = { shape: [...cur[n]!.shape], data: cur[n]!.data.slice() };
  if (amount.scope === 'global') {
    let remaining = 0;
    let total = 0;
    for (const n of names) {
      remaining += countOnes(cur[n]!.data);
      total += cur[n]!.data.length;
    }
    const keep = amount.density !== undefined ? Math.min(remaining, Math.round(amount.density * total)) : Math.round(remaining * (1 - (amount.rate ?? 0)));
    const sel = keepTop(names, scores, cur, keep);
    for (const n of names) out[n]!.data = sel[n]!;
  } else {
    for (const n of names) {
      const remaining = countOnes(cur[n]!.data);
      const total = cur[n]!.data.length;
      const rate = amount.rates?.[info.kinds[n]!] ?? amount.rate;
      const keep =
        amount.density !== undefined ? Math.min(remaining, Math.round(amount.density * total)) : rate === undefined ? remaining : Math.round(remaining * (1 - rate));
      out[n]!.data = keepTop([n], scores, cur, keep)[n]!;
    }
  }
  return out;
}

/** |w| of the prunable weights. */
export function magnitudeScores(info: LayerInfo, weights: WeightMap): Scores {
  const s: Scores = {};
  for (const n of info.prunable) {
    const w = weights[n];
    if (!w) throw new PipelineError('PARAM_INVALID', `weights lack the prunable tensor '${n}'`, { where: 'prune' });
    s[n] = Float32Array.from(w.data, Math.abs);
  }
  return s;
}

/** FNV-1a hash of a name (per-layer seeds). */
export function strHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Uniform random scores, seeded per (seed, layer name). */
export function randomScores(info: LayerInfo, seed: number): Scores {
  const s: Scores = {};
  for (const n of info.prunable) {
    const rng = new Rng(hashInts(seed, strHash(n), 0x9a7d));
    const a = new Float32Array(size(info.shapes[n]!));
    for (let i = 0; i < a.length; i++) a[i] = rng.next();
    s[n] = a;
  }
  return s;
}

/** Magnitude pruning: one step of `amount` on the weights' magnitudes. */
export function magnitudePrune(info: LayerInfo, weights: WeightMap, current: Mask | undefined, amount: PruneAmount): Mask {
  return selectByScores(info, magnitudeScores(info, weights), current, amount, 'prune (magnitude)');
}

/** A random mask with exactly the per-layer number of ones of `reference` (the random-pruning baseline). */
export function randomMaskLike(info: LayerInfo, reference: Mask, seed: number): Mask {
  const ref = completeMask(info, reference, 'reference mask');
  const scores = randomScores(info, seed);
  const dense = denseMask(info);
  const out: Mask = {};
  for (const n of info.prunable) {
    out[n] = { shape: [...ref[n]!.shape], data: keepTop([n], scores, dense, countOnes(ref[n]!.data))[n]! };
  }
  return out;
}

/** The weights with pruned entries set to zero (a copy; tensors without a mask are copied as they are). */
export function applyMask(weights: WeightMap, mask: Mask): WeightMap {
  const out: WeightMap = {};
  for (const n of Object.keys(weights).sort()) {
    const w = weights[n]!;
    const m = mask[n];
    const data = w.data.slice();
    if (m) {
      if (m.data.length !== data.length) throw new PipelineError('PARAM_INVALID', `mask '${n}' does not fit the weights`, { where: 'applyMask' });
      for (let i = 0; i < data.length; i++) if (!m.data[i]) data[i] = 0;
    }
    out[n] = { shape: [...w.shape], data };
  }
  return out;
}
