/**
 * The built-in algorithmic dataset `modular-addition` (Power et al. 2022, "Grokking: generalization
 * beyond overfitting on small algorithmic datasets"): every equation `a op b = c (mod p)` for `op`
 * in `+ - * /` (division is multiplication by the inverse of b mod p, so b ranges over 1..p-1),
 * generated from its params, no files. The pairs are split by a seeded shuffle: the first
 * `floor(trainFraction * pairs)` train, the rest test, as the authors (and gouki510/Grokking-Tickets'
 * `gen_train_test`) split them.
 *
 * An example is the two operands as token ids, a float32 "image" of shape [1, 2, 1] (`[a, b]`),
 * taken as it is (mean 0, std 1): the networks for it (an embedding MLP, a transformer) look the
 * tokens up in an embedding. Its label is c. There is no held-out validation set in these papers:
 * the curves are on the test pairs, so the validation split is the test split.
 */
import { PipelineError } from '../../errors.js';
import { hashInts, permutation } from '../rng.js';
import type { Split } from '../train-data.js';
import type { ImageSet } from './batch.js';

/** The operations, in the papers' notation. */
export const MODULAR_OPS = ['+', '-', '*', '/'] as const;
export type ModularOp = (typeof MODULAR_OPS)[number];

export interface ModularDatasetOptions {
  /** The modulus: the number of tokens and of classes (default 97, as Power et al.; 2..256, prime for '/'). */
  p?: number;
  /** The operation (default '+'). */
  op?: ModularOp;
  /** Fraction of the pairs used for training (default 0.4, gouki510/Grokking-Tickets' config; in (0, 1)). */
  trainFraction?: number;
  /** Seed of the train/test shuffle (default 0). */
  seed?: number;
}

/** The shape of one example: the two operand tokens. */
export const MODULAR_SHAPE: readonly [number, number, number] = [1, 2, 1];

const MODULAR_STREAM = 0x90d;

function invalid(message: string): PipelineError {
  return new PipelineError('PARAM_INVALID', message, { where: 'loadDataset', hint: "modular: { p, op, trainFraction, seed } with p in 2..256 (prime for '/'), op one of + - * /, trainFraction in (0, 1)" });
}

function isPrime(n: number): boolean {
  if (n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

/** b^-1 mod p for prime p (Fermat: b^(p-2)); p <= 256 keeps every product exact in a double. */
export function modInverse(b: number, p: number): number {
  let result = 1;
  let base = b % p;
  for (let e = p - 2; e > 0; e >>= 1) {
    if (e & 1) result = (result * base) % p;
    base = (base * base) % p;
  }
  return result;
}

/** `a op b mod p` (operands in 0..p-1; for '/', b in 1..p-1). */
export function modularLabel(a: number, b: number, op: ModularOp, p: number): number {
  switch (op) {
    case '+':
      return (a + b) % p;
    case '-':
      return (((a - b) % p) + p) % p;
    case '*':
      return (a * b) % p;
    case '/':
      return (a * modInverse(b, p)) % p;
  }
}

/** The options with their defaults, checked. */
export function modularOptions(o: ModularDatasetOptions = {}): Required<ModularDatasetOptions> {
  const full = { p: o.p ?? 97, op: o.op ?? '+', trainFraction: o.trainFraction ?? 0.4, seed: o.seed ?? 0 };
  if (!(Number.isInteger(full.p) && full.p >= 2 && full.p <= 256)) throw invalid(`modular: p ${full.p} must be an integer in 2..256 (it is the number of classes)`);
  if (!(MODULAR_OPS as readonly string[]).includes(full.op)) throw invalid(`modular: op ${JSON.stringify(full.op)} is not one of ${MODULAR_OPS.join(' ')}`);
  if (full.op === '/' && !isPrime(full.p)) throw invalid(`modular: division needs a prime p (every b != 0 invertible), not ${full.p}`);
  if (!(full.trainFraction > 0 && full.trainFraction < 1)) throw invalid(`modular: trainFraction ${full.trainFraction} must be in (0, 1)`);
  if (!Number.isInteger(full.seed)) throw invalid(`modular: seed ${full.seed} must be an integer`);
  return full;
}

/** Every pair (a, b) of the operation, in order a-major: p^2 pairs, or p(p-1) for '/' (b != 0). */
export function modularPairs(p: number, op: ModularOp): Array<[number, number]> {
  const pairs: Array<[number, number]> = [];
  for (let a = 0; a < p; a++) for (let b = op === '/' ? 1 : 0; b < p; b++) pairs.push([a, b]);
  return pairs;
}

function toSet(pairs: ReadonlyArray<readonly [number, number]>, op: ModularOp, p: number): ImageSet {
  const images = new Float32Array(pairs.length * 2);
  const labels = new Uint8Array(pairs.length);
  pairs.forEach(([a, b], k) => {
    images[2 * k] = a;
    images[2 * k + 1] = b;
    labels[k] = modularLabel(a, b, op, p);
  });
  return { n: pairs.length, shape: MODULAR_SHAPE, images, labels };
}

/**
 * The splits: train is the first `floor(trainFraction * pairs)` pairs of a permutation seeded by
 * (seed, p, op), test the rest; each in shuffled order; validation is test (see the module's comment).
 */
export function modularSplits(opts: ModularDatasetOptions = {}): Record<Split, ImageSet> {
  const { p, op, trainFraction, seed } = modularOptions(opts);
  const pairs = modularPairs(p, op);
  const cut = Math.floor(trainFraction * pairs.length);
  if (cut < 1 || cut >= pairs.length) throw invalid(`modular: trainFraction ${trainFraction} of ${pairs.length} pairs leaves an empty split`);
  const perm = permutation(pairs.length, hashInts(seed, p, MODULAR_OPS.indexOf(op), MODULAR_STREAM));
  const shuffled = Array.from(perm, (i) => pairs[i]!);
  const test = toSet(shuffled.slice(cut), op, p);
  return { train: toSet(shuffled.slice(0, cut), op, p), validation: test, test };
}
