/**
 * What differs between two lock files (e.g. two git revisions of `dvc-like.lock`): per pipeline,
 * its params, and per stage instance, params and metrics (flattened to dot paths), whether the code
 * or the key changed, and which instances were added or removed.
 */
import type { JsonValue, LockDoc, LockStage } from '../store/index.js';

export interface ValueChange {
  path: string;
  old: JsonValue | undefined;
  new: JsonValue | undefined;
}

export interface StageDiff {
  id: string;
  stage: string;
  status: 'added' | 'removed' | 'changed' | 'same';
  params: ValueChange[];
  metrics: ValueChange[];
  codeChanged: boolean;
  keyChanged: boolean;
}

export interface PipelineDiff {
  name: string;
  status: 'added' | 'removed' | 'changed' | 'same';
  params: ValueChange[];
  stages: StageDiff[];
}

/** Scalars at dot paths; arrays and objects inside arrays are kept whole. */
export function flatten(obj: Record<string, JsonValue> | undefined, prefix = ''): Map<string, JsonValue> {
  const out = new Map<string, JsonValue>();
  for (const [k, v] of Object.entries(obj ?? {})) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) for (const [p, x] of flatten(v, path)) out.set(p, x);
    else out.set(path, v);
  }
  return out;
}

function same(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function diffValues(a: Record<string, JsonValue> | undefined, b: Record<string, JsonValue> | undefined): ValueChange[] {
  const fa = flatten(a);
  const fb = flatten(b);
  const paths = [...new Set([...fa.keys(), ...fb.keys()])].sort();
  return paths.filter((p) => !same(fa.get(p), fb.get(p))).map((p) => ({ path: p, old: fa.get(p), new: fb.get(p) }));
}

function diffStage(id: string, a: LockStage | undefined, b: LockStage | undefined): StageDiff {
  const params = diffValues(a?.params, b?.params);
  const metrics = diffValues(a?.metrics, b?.metrics);
  const codeChanged = !!a && !!b && a.code !== b.code;
  const keyChanged = !!a && !!b && a.key !== b.key;
  const status = !a ? 'added' : !b ? 'removed' : params.length || metrics.length || codeChanged || keyChanged ? 'changed' : 'same';
  return { id, stage: (b ?? a)!.stage, status, params: a && b ? params : [], metrics: a && b ? metrics : [], codeChanged, keyChanged };
}

export function diffLocks(a: LockDoc, b: LockDoc, opts: { pipelines?: readonly string[] } = {}): PipelineDiff[] {
  const names = [...new Set([...Object.keys(a.pipelines), ...Object.keys(b.pipelines)])].sort().filter((n) => !opts.pipelines?.length || opts.pipelines.includes(n));
  return names.map((name) => {
    const pa = a.pipelines[name];
    const pb = b.pipelines[name];
    const ids = [...new Set([...Object.keys(pa?.stages ?? {}), ...Object.keys(pb?.stages ?? {})])].sort();
    const stages = ids.map((id) => diffStage(id, pa?.stages[id], pb?.stages[id]));
    const params = pa && pb ? diffValues(pa.params, pb.params) : [];
    const status = !pa ? 'added' : !pb ? 'removed' : params.length || stages.some((s) => s.status !== 'same') ? 'changed' : 'same';
    return { name, status, params, stages };
  });
}

export function showValue(v: JsonValue | undefined): string {
  if (v === undefined) return '(none)';
  if (typeof v === 'number' && !Number.isInteger(v)) return String(Number(v.toPrecision(6)));
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function delta(c: ValueChange): string {
  if (typeof c.old !== 'number' || typeof c.new !== 'number') return '';
  const d = c.new - c.old;
  return `${d >= 0 ? '+' : ''}${Number(d.toPrecision(4))}`;
}

export function diffToText(diffs: readonly PipelineDiff[], opts: { all?: boolean; labels: [string, string] }): string {
  const lines: string[] = [`--- ${opts.labels[0]}`, `+++ ${opts.labels[1]}`];
  let any = false;
  for (const p of diffs) {
    if (p.status === 'same' && !opts.all) continue;
    any = true;
    lines.push('', `${p.name}${p.status === 'added' ? ' (added)' : p.status === 'removed' ? ' (removed)' : ''}`);
    for (const c of p.params) lines.push(`  param ${c.path}: ${showValue(c.old)} -> ${showValue(c.new)}`);
    for (const s of p.stages) {
      if (s.status === 'same' && !opts.all) continue;
      const mark = { added: '+', removed: '-', changed: '~', same: ' ' }[s.status];
      lines.push(`  ${mark} ${s.id} (${s.stage})${s.status === 'added' || s.status === 'removed' ? ` ${s.status}` : ''}`);
      for (const c of s.params) lines.push(`      param ${c.path}: ${showValue(c.old)} -> ${showValue(c.new)}`);
      for (const c of s.metrics) lines.push(`      metric ${c.path}: ${showValue(c.old)} -> ${showValue(c.new)}${delta(c) ? ` (${delta(c)})` : ''}`);
      if (s.codeChanged) lines.push('      code changed');
      if (s.keyChanged && !s.params.length && !s.codeChanged) lines.push('      key changed (inputs changed)');
    }
  }
  if (!any) lines.push('', 'no differences');
  return `${lines.join('\n')}\n`;
}

export function diffToMarkdown(diffs: readonly PipelineDiff[]): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  const lines = ['| pipeline | stage instance | change | name | old | new | delta |', '| :--- | :--- | :--- | :--- | ---: | ---: | ---: |'];
  for (const p of diffs) {
    for (const c of p.params) lines.push(`| ${esc(p.name)} | | pipeline param | ${esc(c.path)} | ${esc(showValue(c.old))} | ${esc(showValue(c.new))} | |`);
    for (const s of p.stages) {
      if (s.status === 'added' || s.status === 'removed') lines.push(`| ${esc(p.name)} | ${esc(s.id)} | ${s.status} | | | | |`);
      for (const c of s.params) lines.push(`| ${esc(p.name)} | ${esc(s.id)} | param | ${esc(c.path)} | ${esc(showValue(c.old))} | ${esc(showValue(c.new))} | ${delta(c)} |`);
      for (const c of s.metrics) lines.push(`| ${esc(p.name)} | ${esc(s.id)} | metric | ${esc(c.path)} | ${esc(showValue(c.old))} | ${esc(showValue(c.new))} | ${delta(c)} |`);
      if (s.codeChanged) lines.push(`| ${esc(p.name)} | ${esc(s.id)} | code | | | | |`);
    }
  }
  return `${lines.join('\n')}\n`;
}
