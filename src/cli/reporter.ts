/**
 * Progress of a run. On a terminal: one live line per running stage with its own progress, and a
 * permanent line when a stage finishes. Elsewhere (CI logs, pipes): plain log lines, stage
 * progress at most every few seconds per stage.
 */
import type { RunReporter } from '../engine/index.js';
import type { StageProgress } from '../engine/index.js';
import { formatDuration, formatMetrics } from './format.js';

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const LOG_PROGRESS_EVERY_MS = 10_000;

export interface Reporter extends RunReporter {
  /** A warning line that does not disturb the live display (a bad remote entry, a failed push). */
  warning(id: string | undefined, message: string): void;
  /** The last lines a stage printed (shown when it fails). */
  tail(id: string): readonly string[];
  close(): void;
}

const TAIL_LINES = 30;

/** Keeps the last lines of every stage's output, and counts the stages that are over. */
abstract class BaseReporter {
  private readonly tails = new Map<string, string[]>();
  /** The stages that are over (a set: a stage whose output turned out corrupt is done twice). */
  private readonly over = new Set<string>();

  constructor(private readonly total: number | undefined) {}

  /** ` (7/18)`: stage `id` is over, out of the pipeline's (nothing when the total is unknown). */
  protected count(id: string): string {
    this.over.add(id);
    return this.total ? ` (${this.over.size}/${this.total})` : '';
  }

  protected overall(): string {
    return this.total ? `${this.over.size}/${this.total} stages` : '';
  }

  protected keep(id: string, message: string): void {
    const t = this.tails.get(id) ?? [];
    t.push(message);
    if (t.length > TAIL_LINES) t.shift();
    this.tails.set(id, t);
  }

  tail(id: string): readonly string[] {
    return this.tails.get(id) ?? [];
  }
}

export async function createReporter(stream: NodeJS.WriteStream = process.stderr, opts: { verbose?: boolean; total?: number } = {}): Promise<Reporter> {
  if (!stream.isTTY) return new LogReporter(stream, opts.verbose ?? false, opts.total);
  // Only a terminal needs the live display (and its dependencies).
  const { createLogUpdate } = await import('log-update');
  return new TtyReporter(stream, opts.verbose ?? false, createLogUpdate(stream), opts.total);
}

/**
 * ` eta 1m05s` from a stage's progress so far (training stages report the fraction of their
 * iterations, so this is their it/s extrapolated); nothing until there is enough to go on.
 */
export function etaOf(startedMs: number, p: StageProgress, now = Date.now()): string {
  const f = p.fraction;
  const elapsed = now - startedMs;
  if (f === undefined || f < 0.02 || f >= 1 || elapsed < 2000) return '';
  return ` eta ${formatDuration((elapsed * (1 - f)) / f)}`;
}

interface Running {
  started: number;
  progress: StageProgress;
}

class TtyReporter extends BaseReporter implements Reporter {
  private readonly running = new Map<string, Running>();
  private frame = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly verbose: boolean,
    private readonly update: ReturnType<typeof import('log-update').createLogUpdate>,
    total: number | undefined,
  ) {
    super(total);
    this.timer = setInterval(() => this.render(), 100);
    this.timer.unref();
  }

  private render(): void {
    this.frame++;
    const lines: string[] = this.running.size > 0 && this.overall() ? [this.overall()] : [];
    const width = this.stream.columns ?? 100;
    for (const [id, r] of this.running) {
      const spin = SPINNER[this.frame % SPINNER.length];
      const pct = r.progress.fraction !== undefined ? `${String(Math.floor(r.progress.fraction * 100)).padStart(3)}% ` : '';
      const line = `${spin} ${id}  ${pct}${r.progress.message ?? ''}  ${formatDuration(Date.now() - r.started)}${etaOf(r.started, r.progress)}`;
      lines.push(line.length > width ? `${line.slice(0, width - 1)}…` : line);
    }
    this.update(lines.join('\n'));
  }

  private print(line: string): void {
    this.update.clear();
    this.stream.write(`${line}\n`);
    this.render();
  }

  start(id: string): void {
    this.running.set(id, { started: Date.now(), progress: {} });
    this.render();
  }
  progress(id: string, p: StageProgress): void {
    const r = this.running.get(id);
    if (r) r.progress = p;
  }
  log(id: string, message: string): void {
    this.keep(id, message);
    if (this.verbose) this.print(`  ${id} | ${message}`);
  }
  waiting(id: string, owner: string): void {
    this.print(`… ${id}: waiting for ${owner}, which is computing the same key`);
  }
  done(id: string, info: { outcome: string; durationMs: number; metrics: Record<string, unknown> }): void {
    this.running.delete(id);
    const n = this.count(id);
    if (info.outcome !== 'ran') return this.print(`· ${id}  ${info.outcome}${n}`);
    const m = formatMetrics(info.metrics as never);
    this.print(`✓ ${id}  ${formatDuration(info.durationMs)}${m ? `  ${m}` : ''}${n}`);
  }
  failed(id: string, error: Error): void {
    this.running.delete(id);
    this.print(`✗ ${id}  ${error.message.split('\n')[0]}${this.count(id)}`);
  }
  skipped(id: string, reason: string): void {
    this.running.delete(id);
    this.print(`- ${id}  skipped: ${reason}${this.count(id)}`);
  }
  warning(id: string | undefined, message: string): void {
    this.print(`! ${id ? `${id}: ` : ''}warning: ${message}`);
  }
  close(): void {
    clearInterval(this.timer);
    this.update.clear();
    this.update.done();
  }
}

class LogReporter extends BaseReporter implements Reporter {
  private readonly lastProgress = new Map<string, number>();
  private readonly started = new Map<string, number>();
  /**
   * Lines not written yet: those of one turn of the event loop go out in one write. A fully
   * cached 1,000-stage run finishes every stage in one turn, and 1,000 writes to a pipe took
   * ~17 ms of its ~0.5 s (CPU profile, bench/engine.ts); one takes well under 1 ms. Written at
   * the end of the turn (setImmediate), at close(), and at exit (process.exit() included).
   */
  private pending: string[] = [];
  private readonly flushAtExit = (): void => this.flush();

  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly verbose: boolean,
    total: number | undefined,
  ) {
    super(total);
  }

  private line(s: string): void {
    if (this.pending.length === 0) {
      setImmediate(() => this.flush());
      process.once('exit', this.flushAtExit);
    }
    this.pending.push(s);
  }
  private flush(): void {
    if (this.pending.length === 0) return;
    process.off('exit', this.flushAtExit);
    const text = `${this.pending.join('\n')}\n`;
    this.pending = [];
    this.stream.write(text);
  }
  start(id: string): void {
    this.started.set(id, Date.now());
    this.line(`[start]  ${id}`);
  }
  progress(id: string, p: StageProgress): void {
    const now = Date.now();
    if (now - (this.lastProgress.get(id) ?? this.started.get(id) ?? 0) < LOG_PROGRESS_EVERY_MS) return;
    this.lastProgress.set(id, now);
    const pct = p.fraction !== undefined ? `${Math.floor(p.fraction * 100)}% ` : '';
    this.line(`[progress] ${id} ${pct}${p.message ?? ''}${etaOf(this.started.get(id) ?? now, p, now)}`);
  }
  log(id: string, message: string): void {
    this.keep(id, message);
    if (this.verbose) this.line(`  ${id} | ${message}`);
  }
  waiting(id: string, owner: string): void {
    this.line(`[wait]   ${id}: ${owner} is computing the same key`);
  }
  done(id: string, info: { outcome: string; durationMs: number; metrics: Record<string, unknown> }): void {
    const n = this.count(id);
    // Metrics are shown for what ran only (not formatted for the thousands of cached lines).
    if (info.outcome !== 'ran') return this.line(`[${info.outcome}] ${id}${n}`);
    const m = formatMetrics(info.metrics as never);
    this.line(`[done]   ${id} ${formatDuration(info.durationMs)}${m ? ` ${m}` : ''}${n}`);
  }
  failed(id: string, error: Error): void {
    this.line(`[failed] ${id}: ${error.message.split('\n')[0]}${this.count(id)}`);
  }
  skipped(id: string, reason: string): void {
    this.line(`[skip]   ${id}: ${reason}${this.count(id)}`);
  }
  warning(id: string | undefined, message: string): void {
    this.line(`[warn]   ${id ? `${id}: ` : ''}${message}`);
  }
  close(): void {
    this.flush();
  }
}
