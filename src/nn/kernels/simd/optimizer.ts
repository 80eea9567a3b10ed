/** WebAssembly text of the fused masked optimizer update, one function per combination of flags. */
import { OPTIMIZER_TYPES } from '../../optimizer-types.js';
import type { OptimizerKind } from './index.js';

export interface Flags {
  kind: OptimizerKind;
  mask: boolean;
  wd: boolean;
  state: boolean;
}

/**
 * The element-wise update as WebAssembly expressions over one lane group: `t` is 'f32x4' (four
 * elements, v128 loads at `$i`) or 'f32' (one element). The order of operations is exactly that
 * of the composed update in src/nn/optim.ts, so results are bitwise the same.
 */
function updateBody(f: Flags, t: 'f32x4' | 'f32'): string {
  const vec = t === 'f32x4';
  const load = (ptr: string): string => `(${vec ? 'v128' : 'f32'}.load (i32.add (local.get ${ptr}) (local.get $i)))`;
  const store = (ptr: string, v: string): string => `(${vec ? 'v128' : 'f32'}.store (i32.add (local.get ${ptr}) (local.get $i)) ${v})`;
  const scalar = (name: string): string => (vec ? `(f32x4.splat (local.get ${name}))` : `(local.get ${name})`);
  const op = (o: string, a: string, b?: string): string => `(${t}.${o} ${a}${b === undefined ? '' : ' ' + b})`;
  const lane = (n: string): string => `(local.get ${n}${vec ? 'v' : 's'})`;
  const setLane = (n: string, v: string): string => `(local.set ${n}${vec ? 'v' : 's'} ${v})`;
  const lines: string[] = [setLane('$g', load('$g'))];
  if (f.mask) lines.push(setLane('$g', op('mul', lane('$g'), load('$mask'))));
  // L2 decay joins the gradient; AdamW's (decoupled) multiplies the weight by $wd = 1 - lr * weightDecay.
  const decoupled = f.kind === 'adamw';
  if (f.wd && !decoupled) lines.push(setLane('$g', op('add', lane('$g'), op('mul', load('$p'), scalar('$wd')))));
  let upd: string;
  if (f.kind === 'sgd') {
    upd = op('mul', lane('$g'), scalar('$lr'));
  } else if (f.kind === 'momentum' || f.kind === 'nesterov') {
    lines.push(setLane('$b', f.state ? op('add', op('mul', load('$s1'), scalar('$mom')), lane('$g')) : lane('$g')));
    lines.push(store('$o1', lane('$b')));
    upd =
      f.kind === 'nesterov'
        ? op('mul', op('add', lane('$g'), op('mul', lane('$b'), scalar('$mom'))), scalar('$lr'))
        : op('mul', lane('$b'), scalar('$lr'));
  } else {
    const gc1 = op('mul', lane('$g'), scalar('$c1'));
    lines.push(setLane('$b', f.state ? op('add', op('mul', load('$s1'), scalar('$b1')), gc1) : gc1));
    const g2c2 = op('mul', op('mul', lane('$g'), lane('$g')), scalar('$c2'));
    lines.push(setLane('$v', f.state ? op('add', op('mul', load('$s2'), scalar('$b2')), g2c2) : g2c2));
    lines.push(store('$o1', lane('$b')), store('$o2', lane('$v')));
    const denom = op('add', op('sqrt', op('div', lane('$v'), scalar('$bc2'))), scalar('$eps'));
    upd = op('div', op('mul', lane('$b'), scalar('$step')), denom);
  }
  let np = op('sub', f.wd && decoupled ? op('mul', load('$p'), scalar('$wd')) : load('$p'), upd);
  if (f.mask) np = op('mul', np, load('$mask'));
  lines.push(store('$np', np));
  return lines.join('\n      ');
}

export function updateName(f: Flags): string {
  return `upd_${f.kind}_${f.mask ? 'm' : ''}${f.wd ? 'w' : ''}${f.state ? 's' : ''}`;
}

export function updateFunc(f: Flags): string {
  return `
(func (export "${updateName(f)}")
  (param $n i32) (param $p i32) (param $g i32) (param $mask i32) (param $s1 i32) (param $s2 i32)
  (param $np i32) (param $o1 i32) (param $o2 i32)
  (param $lr f32) (param $wd f32) (param $mom f32) (param $b1 f32) (param $b2 f32) (param $c1 f32)
  (param $c2 f32) (param $bc2 f32) (param $eps f32) (param $step f32)
  (local $i i32) (local $end i32) (local $vend i32)
  (local $gv v128) (local $bv v128) (local $vv v128) (local $gs f32) (local $bs f32) (local $vs f32)
  (local.set $end (i32.shl (local.get $n) (i32.const 2)))
  (local.set $vend (i32.and (local.get $end) (i32.const -16)))
  (block $vdone
    (br_if $vdone (i32.ge_u (local.get $i) (local.get $vend)))
    (loop $vl
      ${updateBody(f, 'f32x4')}
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br_if $vl (i32.lt_u (local.get $i) (local.get $vend)))))
  (block $sdone
    (br_if $sdone (i32.ge_u (local.get $i) (local.get $end)))
    (loop $sl
      ${updateBody(f, 'f32')}
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br_if $sl (i32.lt_u (local.get $i) (local.get $end))))))`;
}

export const ALL_FLAGS: Flags[] = OPTIMIZER_TYPES.flatMap((kind) =>
  [false, true].flatMap((mask) =>
    [false, true].flatMap((wd) => (kind === 'sgd' ? [false] : [false, true]).map((state) => ({ kind, mask, wd, state }))),
  ),
);
