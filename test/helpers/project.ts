/**
 * End-to-end test helpers: a throw-away project folder with pipeline files, and the real CLI run
 * in a child process against it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = join(REPO, 'bin', 'pipeline.js');
/** Import specifier of the public API, for pipeline files written by tests. */
export const API = join(REPO, 'src', 'index.ts');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class TestProject {
  readonly dir: string;

  /** `under`: the folder to make it in (default: the system's temp folder). */
  constructor(files: Record<string, string> = {}, under = tmpdir()) {
    mkdirSync(under, { recursive: true });
    this.dir = mkdtempSync(join(under, 'lth-test-'));
    this.write('package.json', '{ "type": "module" }\n');
    for (const [name, text] of Object.entries(files)) this.write(name, text);
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  write(name: string, text: string): void {
    mkdirSync(dirname(this.path(name)), { recursive: true });
    writeFileSync(this.path(name), text);
  }

  read(name: string): string {
    return readFileSync(this.path(name), 'utf8');
  }

  exists(name: string): boolean {
    return existsSync(this.path(name));
  }

  /** Runs `pipeline <args>` in the project folder and waits for it. */
  cli(args: string[], env: Record<string, string> = {}): CliResult {
    const r = spawnSync(process.execPath, [CLI, ...args], { cwd: this.dir, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 180_000 });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  /** Starts `pipeline <args>` without waiting. */
  spawn(args: string[], env: Record<string, string> = {}) {
    return spawn(process.execPath, [CLI, ...args], { cwd: this.dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  }

  /** The lock file's bytes and the cache's files (not its meta folder of planning caches): equal snapshots, nothing changed. */
  snapshot(): string {
    const files: string[] = [];
    const walk = (dir: string): void => {
      if (!existsSync(dir)) return;
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(dir, e.name));
        else files.push(join(dir, e.name));
      }
    };
    walk(this.path('cache'));
    return JSON.stringify({ lock: this.exists('dvc-like.lock') ? this.read('dvc-like.lock') : null, files: files.filter((f) => !f.includes('/meta/')).sort() });
  }

  /** Lines stages appended to `executions.log` (one per execution). */
  executions(): string[] {
    return this.exists('executions.log') ? this.read('executions.log').split('\n').filter(Boolean) : [];
  }

  clearExecutions(): void {
    rmSync(this.path('executions.log'), { force: true });
  }

  /** Flips the lowest bit of one byte of a cached object (a disk's bit flip: same size, other bytes). */
  flipByte(digest: string, at = 0): void {
    const file = this.path(`cache/objects/${digest.slice(0, 2)}/${digest.slice(2)}`);
    const bytes = readFileSync(file);
    bytes[at % bytes.length]! ^= 1;
    chmodSync(file, 0o644);
    writeFileSync(file, bytes);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function waitFor(cond: () => boolean, timeoutMs = 60_000, everyMs = 50): Promise<void> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (cond()) resolve();
      else if (Date.now() - start > timeoutMs) reject(new Error(`condition not met within ${timeoutMs} ms`));
      else setTimeout(tick, everyMs);
    };
    tick();
  });
}
