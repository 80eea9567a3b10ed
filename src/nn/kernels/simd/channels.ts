/** WebAssembly text of the per-channel passes of batch norm (see ../batchnorm.ts). */
import { get, set, add, mul, c } from './wat.js';

/**
 * A reduction over the rows of [rows, C] tensors into per-channel sums (added to what the output
 * arrays hold), for the channels [cBegin, cEnd) (multiples of 4). Rows are taken in blocks of
 * `blk` that stay in L1 while each 4-channel group is summed down the block (one partial sum per
 * block, then added to the total: better rounding than one long running sum).
 * `body` reads the element(s) at byte offset $off and updates the v128 accumulators $s0/$s1.
 */
function channelReduceFunc(name: string, inputs: string[], outs: string[], setup: string, body: string): string {
  const params = [...inputs, ...outs].map((p) => `(param ${p} i32)`).join(' ');
  return `
(func (export "${name}") ${params} (param $rows i32) (param $C i32) (param $blk i32) (param $cBegin i32) (param $cEnd i32)
  (local $r0 i32) (local $r1 i32) (local $c i32) (local $off i32) (local $end i32) (local $rowB i32)
  (local $s0 v128) (local $s1 v128) (local $m v128) (local $v v128)
  ${set('$rowB', `(i32.shl ${get('$C')} ${c(2)})`)}
  (loop $blocks
    ${set('$r1', add(get('$r0'), get('$blk')))}
    (if (i32.gt_u ${get('$r1')} ${get('$rows')}) (then ${set('$r1', get('$rows'))}))
    ${set('$c', get('$cBegin'))}
    (loop $chans
      ${set('$s0', '(v128.const i32x4 0 0 0 0)')} ${set('$s1', '(v128.const i32x4 0 0 0 0)')}
      ${setup}
      ${set('$off', add(mul(get('$r0'), get('$rowB')), `(i32.shl ${get('$c')} ${c(2)})`))}
      ${set('$end', add(mul(get('$r1'), get('$rowB')), `(i32.shl ${get('$c')} ${c(2)})`))}
      (loop $rl
        ${body}
        ${set('$off', add(get('$off'), get('$rowB')))}
        (br_if $rl (i32.lt_u ${get('$off')} ${get('$end')})))
      ${outs
        .map((o, i) => `(v128.store ${add(get(o), `(i32.shl ${get('$c')} ${c(2)})`)} (f32x4.add (v128.load ${add(get(o), `(i32.shl ${get('$c')} ${c(2)})`)}) ${get(`$s${i}`)}))`)
        .join(' ')}
      ${set('$c', add(get('$c'), c(4)))}
      (br_if $chans (i32.lt_u ${get('$c')} ${get('$cEnd')})))
    ${set('$r0', get('$r1'))}
    (br_if $blocks (i32.lt_u ${get('$r0')} ${get('$rows')}))))`;
}

const at = (ptr: string): string => `(v128.load ${add(get(ptr), get('$off'))})`;
const f4 = (op: string, a: string, b: string): string => `(f32x4.${op} ${a} ${b})`;

/** sum[c] += sum over rows of x[r, c]. */
export const chanSum = (): string => channelReduceFunc('chan_sum', ['$x'], ['$sum'], '', set('$s0', f4('add', get('$s0'), at('$x'))));

/** xc = x - mean[c] (written), ssq[c] += sum of xc^2. */
export const bnCenter = (): string =>
  channelReduceFunc(
    'bn_center',
    ['$x', '$mean', '$xc'],
    ['$ssq'],
    set('$m', `(v128.load ${add(get('$mean'), `(i32.shl ${get('$c')} ${c(2)})`)})`),
    `${set('$v', f4('sub', at('$x'), get('$m')))}
        (v128.store ${add(get('$xc'), get('$off'))} ${get('$v')})
        ${set('$s0', f4('add', get('$s0'), f4('mul', get('$v'), get('$v'))))}`,
  );

/** sdy[c] += sum of dy, sdyxc[c] += sum of dy * xc. */
export const chanDot = (): string =>
  channelReduceFunc(
    'chan_dot',
    ['$dy', '$xc'],
    ['$sdy', '$sdyxc'],
    '',
    `${set('$v', at('$dy'))}
        ${set('$s0', f4('add', get('$s0'), get('$v')))}
        ${set('$s1', f4('add', get('$s1'), f4('mul', get('$v'), at('$xc'))))}`,
  );

/**
 * y = u * a[c] + v * b[c] + d[c] over [rows, C] (with `two` false: y = u * a[c] + b[c]), row by
 * row; the per-channel vectors are re-read from L1.
 */
export function chanAffineFunc(two: boolean): string {
  const ch = (p: string): string => `(v128.load ${add(get(p), get('$k'))})`;
  const value = two ? f4('add', f4('add', f4('mul', at('$u'), ch('$a')), f4('mul', at('$v'), ch('$b'))), ch('$d')) : f4('add', f4('mul', at('$u'), ch('$a')), ch('$b'));
  return `
(func (export "${two ? 'chan_affine2' : 'chan_affine'}") (param $u i32) (param $a i32) ${two ? '(param $v i32)' : ''} (param $b i32) ${two ? '(param $d i32)' : ''}
  (param $y i32) (param $rows i32) (param $C i32)
  (local $off i32) (local $end i32) (local $k i32) (local $rowB i32)
  ${set('$rowB', `(i32.shl ${get('$C')} ${c(2)})`)}
  ${set('$end', mul(get('$rows'), get('$rowB')))}
  (loop $el
    (v128.store ${add(get('$y'), get('$off'))} ${value})
    ${set('$off', add(get('$off'), c(16)))}
    ${set('$k', add(get('$k'), c(16)))}
    (if (i32.eq ${get('$k')} ${get('$rowB')}) (then ${set('$k', c(0))}))
    (br_if $el (i32.lt_u ${get('$off')} ${get('$end')}))))`;
}
