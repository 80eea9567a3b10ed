/** Runs the repo's pipelines through the real CLI with the cache and lock file in a temp folder. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, REPO } from '../helpers/project.js';

/** The scalar metrics the CLI printed on the `[done] <id>` line of a run's output. */
export function doneMetrics(out: string, id: string): Record<string, number | string> {
  const line = out.split('\n').find((l) => l.startsWith('[done]') && l.split(/\s+/)[1] === id);
  if (!line) throw new Error(`no [done] line for ${id}`);
  const m: Record<string, number | string> = {};
  for (const [, k, v] of line.matchAll(/(\w+)=(\S+)/g)) m[k!] = Number.isNaN(Number(v)) ? v! : Number(v);
  return m;
}

/** A row of `pipeline show --json`. */
export interface ShowRow {
  id: string;
  state: string;
  backend: string | null;
  metrics?: Record<string, unknown>;
  outputs: Record<string, { digest: string; size: number; path: string }> | null;
}

export class PipelineRunner {
  readonly dir = mkdtempSync(join(tmpdir(), 'lth-pipe-'));

  run(pipeline: string, args: string[] = [], env: Record<string, string> = {}): { code: number; out: string; executed: string[] } {
    const r = spawnSync(
      process.execPath,
      [CLI, 'run', join(REPO, 'pipelines', pipeline), '--cache', join(this.dir, 'cache'), '--lock', join(this.dir, 'dvc-like.lock'), ...args],
      { cwd: REPO, env: { ...process.env, LTH_QUIET_BACKEND: '1', ...env }, encoding: 'utf8', timeout: 600_000 },
    );
    const out = `${r.stdout}\n${r.stderr}`;
    const executed = out
      .split('\n')
      .map((l) => /^\[done\]\s+(\S+)/.exec(l)?.[1])
      .filter((x): x is string => Boolean(x))
      .sort();
    return { code: r.status ?? -1, out, executed };
  }

  /** `pipeline status` with this runner's cache and lock file: its exit code and output. */
  status(pipeline: string, args: string[] = [], env: Record<string, string> = {}): { code: number; out: string } {
    return this.command('status', pipeline, args, env);
  }

  /** `pipeline <command> <pipeline> [args...]` with this runner's cache and lock file. */
  command(command: string, pipeline: string, args: string[] = [], env: Record<string, string> = {}): { code: number; out: string; stdout: string } {
    const r = spawnSync(process.execPath, [CLI, command, join(REPO, 'pipelines', pipeline), '--cache', join(this.dir, 'cache'), '--lock', join(this.dir, 'dvc-like.lock'), ...args], {
      cwd: REPO,
      encoding: 'utf8',
      env: { ...process.env, ...env },
    });
    return { code: r.status ?? -1, out: `${r.stdout}\n${r.stderr}`, stdout: r.stdout };
  }

  show(pipeline: string, args: string[] = []): ShowRow[] {
    const r = spawnSync(process.execPath, [CLI, 'show', join(REPO, 'pipelines', pipeline), '--json', '--cache', join(this.dir, 'cache'), '--lock', join(this.dir, 'dvc-like.lock'), ...args], {
      cwd: REPO,
      encoding: 'utf8',
    });
    return JSON.parse(r.stdout) as ShowRow[];
  }

  /** A run again with the same arguments executes nothing: all `stages` come from the cache. */
  assertSecondRunExecutesNothing(pipeline: string, args: string[], stages: number): void {
    const r = this.run(pipeline, args);
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(r.executed, []);
    assert.match(r.out, new RegExp(`0 ran, ${stages} from cache`));
  }

  /** `pipeline table --format json`: the pipeline's tables, by name. */
  tables(pipeline: string, args: string[]): Map<string, { name: string; rows: Array<Record<string, unknown>> }> {
    const t = this.command('table', pipeline, [...args, '--format', 'json']);
    assert.equal(t.code, 0, t.out);
    const tables = JSON.parse(t.stdout) as Array<{ name: string; rows: Array<Record<string, unknown>> }>;
    return new Map(tables.map((x) => [x.name, x]));
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
