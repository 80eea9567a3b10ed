/**
 * Elastic lottery tickets (Chen et al. 2021, "The Elastic Lottery Ticket Hypothesis"; their code:
 * VITA-Group/ElasticLTH, lottery/branch/morphism.py `change_depth_cifar_resnet`): a ticket of one
 * depth of a ResNet family turned into a ticket of another depth by replicating residual blocks
 * (stretching) or dropping them (squeezing), stage by stage, with their masks and rewound weights;
 * the first convolution, its batch norm and the classifier are copied as they are.
 *
 * Layout: the residual blocks are `layer<stage>.<block>.*` (src/nn/models/resnet.ts, and a
 * project's `defineModel` ResNets written with `l.basicBlock(c, { name: 'layer<s>.<i>' })`); every
 * stage of a network has the same number of blocks, as in the CIFAR ResNets.
 *
 * The block mapping is the authors' per-stage `src:dst,dst;...` (the same for every stage), chosen
 * as their example `0:0;1:1,2;2:3,4;3:5,6;4:7,8` (5 blocks to 9): block 0 (the one with the stride
 * and the projection shortcut) stays one block; the other n - 1 blocks are spread in order over the
 * other m - 1 places, each into a run of consecutive copies (runs as equal as possible, the earlier
 * ones longer). Squeezing m blocks into n partitions the source the same way and keeps the first
 * block of each run, so squeezing a stretched ticket back gives the original bit for bit.
 */
import { PipelineError } from '../errors.js';

/** The residual stages of a network: per stage (1-based in the names), its number of blocks. */
export interface ResnetLayout {
  /** Stage numbers as in the names (`layer1`, `layer2`, ...), in order. */
  readonly stages: number[];
  /** Blocks per stage (the same in every stage). */
  readonly blocks: number;
}

const BLOCK = /^layer(\d+)\.(\d+)\.(.+)$/;

/** The residual layout of a network from its weight names; throws if it has none or stages differ in length. */
export function resnetLayout(names: readonly string[], where: string): ResnetLayout {
  const perStage = new Map<number, Set<number>>();
  for (const n of names) {
    const m = BLOCK.exec(n);
    if (!m) continue;
    const s = Number(m[1]);
    if (!perStage.has(s)) perStage.set(s, new Set());
    perStage.get(s)!.add(Number(m[2]));
  }
  const stages = [...perStage.keys()].sort((a, b) => a - b);
  if (stages.length === 0) {
    throw new PipelineError('PARAM_INVALID', 'the network has no residual blocks named layer<stage>.<block>', { where, hint: 'elastic tickets apply to ResNets: cifar_resnet_<depth>, or a defineModel network of l.basicBlock(c, { name: "layer<s>.<i>" })' });
  }
  const counts = stages.map((s) => perStage.get(s)!.size);
  if (!counts.every((c) => c === counts[0])) throw new PipelineError('PARAM_INVALID', `the stages have ${counts.join(', ')} blocks: elastic tickets need the same number in every stage`, { where });
  for (const s of stages) {
    const ids = [...perStage.get(s)!].sort((a, b) => a - b);
    if (ids.some((id, i) => id !== i)) throw new PipelineError('PARAM_INVALID', `stage layer${s}: blocks ${ids.join(', ')} are not numbered 0..${ids.length - 1}`, { where });
  }
  return { stages, blocks: counts[0]! };
}

/** n - 1 items split into k runs in order, as equal as possible, the earlier runs longer: the run lengths. */
function runLengths(items: number, runs: number): number[] {
  return Array.from({ length: runs }, (_, i) => Math.floor(items / runs) + (i < items % runs ? 1 : 0));
}

/**
 * The per-stage block mapping from `from` to `to` blocks: for each source block, the target blocks
 * it is copied to (empty: dropped). See the module comment for the rule.
 */
export function blockMapping(from: number, to: number): number[][] {
  if (!(Number.isInteger(from) && Number.isInteger(to) && from >= 1 && to >= 1)) throw new PipelineError('PARAM_INVALID', `block counts ${from} and ${to} must be positive integers`);
  if (from === 1 && to > 1) throw new PipelineError('PARAM_INVALID', 'a stage of one block has no block to replicate (its block 0 changes the resolution)', { hint: 'stretch from a network of at least two blocks per stage (cifar_resnet_14 and deeper)' });
  const map: number[][] = Array.from({ length: from }, () => []);
  map[0]!.push(0);
  if (to >= from) {
    // Stretch: source block i >= 1 fills run i - 1 of the m - 1 target places.
    let next = 1;
    runLengths(to - 1, from - 1).forEach((len, i) => {
      for (let k = 0; k < len; k++) map[i + 1]!.push(next++);
    });
  } else {
    // Squeeze: the n - 1 source blocks after the first in m - 1 runs; the first block of each run is kept.
    let first = 1;
    runLengths(from - 1, to - 1).forEach((len, j) => {
      map[first]!.push(j + 1);
      first += len;
    });
  }
  return map;
}

/** Tensors by weight name: a weight map or a mask. */
type Named<T> = Record<string, T>;

/**
 * The tensors of a network of `from` blocks per stage as those of a network of `to` blocks: each
 * `layer<s>.<i>.*` copied to the target blocks of `blockMapping`, everything else as it is. The
 * result must hold exactly `targetNames` (the target network's tensors of this kind).
 */
export function changeDepth<T>(source: Named<T>, from: number, to: number, targetNames: readonly string[], where: string): Named<T> {
  const map = blockMapping(from, to);
  const out: Named<T> = {};
  for (const [name, t] of Object.entries(source)) {
    const m = BLOCK.exec(name);
    if (!m) {
      out[name] = t;
      continue;
    }
    const block = Number(m[2]);
    if (block >= from) throw new PipelineError('INTERNAL', `${name}: block ${block} of a network of ${from} blocks per stage`, { where });
    for (const j of map[block]!) out[`layer${m[1]}.${j}.${m[3]}`] = t;
  }
  const want = new Set(targetNames);
  const extra = Object.keys(out).filter((n) => !want.has(n));
  const missing = [...want].filter((n) => !(n in out));
  if (extra.length || missing.length) {
    throw new PipelineError('PARAM_INVALID', `the two networks differ beyond their depth: ${[...extra.map((n) => `${n} has no place in the target`), ...missing.map((n) => `${n} of the target comes from nothing`)].slice(0, 4).join('; ')}`, { where, hint: 'stretch and squeeze between members of one ResNet family (same widths, same stages)' });
  }
  return out;
}

/** The authors' spelling of a mapping (`0:0;1:1,2;2:3,4`), for the metrics. */
export function mappingString(map: readonly number[][]): string {
  return map.flatMap((to, i) => (to.length ? [`${i}:${to.join(',')}`] : [])).join(';');
}
