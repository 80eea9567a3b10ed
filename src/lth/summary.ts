/**
 * imp-summary: the table of an IMP run: per level, the density and the test accuracy (and
 * early-stopping iteration) of the winning ticket and of the baselines, from the metrics of the
 * retrain stages. Outputs `table.md` (markdown) and the rows as metrics.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { defineStage, type JsonValue } from '../engine/index.js';

interface RetrainMetrics {
  testAccuracy?: number;
  density?: number;
  earlyStopIteration?: number | null;
}

async function readMetrics(files: readonly string[]): Promise<RetrainMetrics[]> {
  return Promise.all(files.map(async (f) => JSON.parse(await readFile(f, 'utf8')) as RetrainMetrics));
}

const pct = (v: number | undefined) => (v === undefined ? '' : (100 * v).toFixed(2));

export const impSummary = defineStage({
  name: 'imp-summary',
  description: 'per-level table: density, winning ticket vs baselines (test accuracy, early stopping)',
  params: z.object({ title: z.string().default('Iterative magnitude pruning') }),
  // metrics artifacts of retrain stages: dense (one), tickets (per level), reinit / random ([] or per level)
  inputs: ['dense', 'tickets', 'reinit', 'random'],
  outputs: ['table'],
  isolation: 'inline',
  async run(ctx) {
    const [dense] = await readMetrics(ctx.inputList('dense'));
    const tickets = await readMetrics(ctx.inputList('tickets'));
    const reinit = await readMetrics(ctx.inputList('reinit'));
    const random = await readMetrics(ctx.inputList('random'));
    const rows: Array<Record<string, JsonValue>> = [];
    const head = ['level', 'weights remaining %', 'ticket acc %', 'ticket early stop'];
    if (reinit.length) head.push('reinit acc %', 'reinit early stop');
    if (random.length) head.push('random-pruned acc %', 'random-pruned early stop');
    const lines = [`# ${ctx.params.title}`, '', `| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`];
    const all = [{ level: 0, t: { ...dense, density: 1 } as RetrainMetrics, r: undefined, q: undefined }, ...tickets.map((t, i) => ({ level: i + 1, t, r: reinit[i], q: random[i] }))];
    for (const { level, t, r, q } of all) {
      const row: Record<string, JsonValue> = { level, density: t.density ?? null, ticket: t.testAccuracy ?? null, ticketEarlyStop: t.earlyStopIteration ?? null };
      const cells = [String(level), pct(t.density), pct(t.testAccuracy), String(t.earlyStopIteration ?? '')];
      if (reinit.length) {
        row.reinit = r?.testAccuracy ?? null;
        cells.push(pct(r?.testAccuracy), String(r?.earlyStopIteration ?? ''));
      }
      if (random.length) {
        row.random = q?.testAccuracy ?? null;
        cells.push(pct(q?.testAccuracy), String(q?.earlyStopIteration ?? ''));
      }
      rows.push(row);
      lines.push(`| ${cells.join(' | ')} |`);
    }
    await ctx.writeText('table', `${lines.join('\n')}\n`);
    ctx.log(lines.join('\n'));
    const last = tickets[tickets.length - 1];
    return {
      finalDensity: last?.density ?? 1,
      ticketAcc: last?.testAccuracy ?? null,
      ...(reinit.length ? { reinitAcc: reinit[reinit.length - 1]?.testAccuracy ?? null } : {}),
      ...(random.length ? { randomPrunedAcc: random[random.length - 1]?.testAccuracy ?? null } : {}),
      denseAcc: dense?.testAccuracy ?? null,
      rows,
    };
  },
});
