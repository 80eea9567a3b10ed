/** Small formatting helpers shared by the commands. */
import { createRequire } from 'node:module';
import type { JsonValue } from '../store/index.js';

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.round(s - m * 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/** Top-level scalar metrics as `name=value`, numbers to 4 significant digits. */
export function formatMetrics(metrics: Record<string, JsonValue> | undefined, max = 4): string {
  if (!metrics) return '';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(metrics)) {
    if (v === null || typeof v === 'object') continue;
    parts.push(`${k}=${typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(4)) : v}`);
  }
  return parts.length > max ? `${parts.slice(0, max).join(' ')} ...` : parts.join(' ');
}

/** A plain text table without borders (aligned columns), readable in logs and terminals. */
const requireLazily = createRequire(import.meta.url);

export function textTable(head: string[], rows: string[][]): string {
  // Loaded on use: `run` imports this module and must start fast.
  const Table = requireLazily('cli-table3') as typeof import('cli-table3');
  const table = new Table({
    head,
    chars: { top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '', left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '  ' },
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
  });
  table.push(...rows);
  return table.toString().split('\n').map((l) => l.trimEnd()).join('\n');
}

/** `--json`: one JSON document on stdout. */
export function writeJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
