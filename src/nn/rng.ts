/**
 * Stateless, seeded randomness. Every random draw in src/nn is a pure function of explicit
 * integers (a seed and, during training, an iteration or epoch), so that nothing needs to be
 * saved in a checkpoint to continue a run bit for bit.
 */

/** 32-bit mix of any number of integers (murmur3-style finaliser over a running hash). */
export function hashInts(...xs: number[]): number {
  let h = 0x9e3779b9 | 0;
  for (const x of xs) {
    // Fold numbers beyond 32 bits in as two halves, so large seeds do not collide mod 2^32.
    const lo = x >>> 0;
    const hi = Math.floor(x / 4294967296) >>> 0;
    for (const part of hi === 0 ? [lo] : [lo, hi]) {
      let k = Math.imul(part, 0xcc9e2d51);
      k = (k << 15) | (k >>> 17);
      k = Math.imul(k, 0x1b873593);
      h ^= k;
      h = (h << 13) | (h >>> 19);
      h = (Math.imul(h, 5) + 0xe6546b64) | 0;
    }
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A small, fast, seeded PRNG (mulberry32). Deterministic across platforms. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = hashInts(seed) | 0;
  }
  /** Uniform in [0, 1) with 32 bits of resolution. */
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** Standard normal (Box-Muller; one value per call, the second is discarded for simplicity). */
  normal(): number {
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  /** Normal truncated to +-2 standard deviations (redraw outside), as Keras' truncated_normal. */
  truncatedNormal(): number {
    for (;;) {
      const z = this.normal();
      if (z > -2 && z < 2) return z;
    }
  }
}

/** Fisher-Yates permutation of 0..n-1 from a seed. */
export function permutation(n: number, seed: number): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  const rng = new Rng(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}

let permCache: { n: number; seed: number; perm: Int32Array } | undefined;

/**
 * The example indices of training batch `iteration` (0-based): epochs of `floor(n / batchSize)`
 * batches over a fresh permutation per epoch, keyed by (seed, epoch). The last partial batch of
 * each epoch is dropped, so every batch has the same size. Pure function of its arguments.
 */
export function defaultBatchIndices(
  n: number,
  batchSize: number,
  seed: number,
  iteration: number,
): Int32Array {
  const perEpoch = Math.max(1, Math.floor(n / batchSize));
  const epoch = Math.floor(iteration / perEpoch);
  const pos = (iteration % perEpoch) * batchSize;
  const key = hashInts(seed, epoch, 0x0da7a);
  if (!permCache || permCache.n !== n || permCache.seed !== key) {
    permCache = { n, seed: key, perm: permutation(n, key) };
  }
  const out = new Int32Array(batchSize);
  for (let i = 0; i < batchSize; i++) out[i] = permCache.perm[(pos + i) % n]!;
  return out;
}
