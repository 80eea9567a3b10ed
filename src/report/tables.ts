/**
 * Resolved tables as Markdown, CSV, LaTeX (booktabs), JSON and HTML. Pure functions of the
 * resolved numbers: the same cache gives the same bytes.
 *
 * A cell aggregated over replicates prints as `mean [min, max]` (Markdown, HTML, LaTeX); CSV gives
 * such a column three fields, `key`, `key_min`, `key_max`; JSON gives every number unrounded.
 */
import { joinSentences, type CellFormat } from './spec.js';
import type { ResolvedCell, ResolvedColumn, ResolvedTable } from './resolve.js';

export const TABLE_FORMATS = ['md', 'csv', 'latex', 'json'] as const;
export type TableFormat = (typeof TABLE_FORMATS)[number];

function fixed(v: number, digits: number): string {
  const s = v.toFixed(digits);
  return /^-0(\.0*)?$/.test(s) ? s.slice(1) : s;
}

/** One number printed with a column's format. */
export function formatNumber(v: number, format: CellFormat): string {
  const [kind, arg] = format.split(':') as [string, string | undefined];
  const digits = arg === undefined ? 2 : Number(arg);
  switch (kind) {
    case 'percent':
      return fixed(v * 100, digits);
    case 'fixed':
      return fixed(v, digits);
    case 'int':
      return fixed(Math.round(v), 0);
    case 'sci':
      return v.toExponential(digits);
    case 'yesno':
      return v >= 1 ? 'yes' : v <= 0 ? 'no' : fixed(v, 2);
    default:
      return String(v);
  }
}

export interface CellText {
  /** The value (mean over replicates). */
  main: string;
  /** `[min, max]` when replicates differ. */
  range?: [string, string];
}

export function cellText(cell: ResolvedCell, format: CellFormat): CellText {
  switch (cell.kind) {
    case 'empty':
      return { main: '-' };
    case 'text':
      return { main: cell.value };
    case 'boolean': {
      const yes = Math.round(cell.share * cell.n);
      if (format === 'yesno' || format === 'text') return { main: cell.share === 1 ? 'yes' : cell.share === 0 ? 'no' : `${yes}/${cell.n}` };
      return { main: formatNumber(cell.share, format) };
    }
    case 'number': {
      const main = formatNumber(cell.mean, format);
      if (cell.n > 1) {
        const lo = formatNumber(cell.min, format);
        const hi = formatNumber(cell.max, format);
        if (lo !== hi || lo !== main) return { main, range: [lo, hi] };
      }
      return { main };
    }
  }
}

function plain(c: CellText): string {
  return c.range ? `${c.main} [${c.range[0]}, ${c.range[1]}]` : c.main;
}

function mdEscape(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function tableToMarkdown(t: ResolvedTable): string {
  const lines: string[] = [];
  if (t.title) lines.push(`### ${t.title}`, '');
  lines.push(`| ${t.columns.map((c) => mdEscape(c.label)).join(' | ')} |`);
  lines.push(`| ${t.columns.map((c) => (c.align === 'right' ? '---:' : ':---')).join(' | ')} |`);
  for (const row of t.rows) lines.push(`| ${t.columns.map((c) => mdEscape(plain(cellText(row[c.key]!, c.format)))).join(' | ')} |`);
  if (t.caption) lines.push('', t.caption);
  return `${lines.join('\n')}\n`;
}

function csvField(s: string): string {
  return /[",\n\r]/.test(s) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s;
}

/** RFC 4180 (CRLF-free: `\n` line ends), one header line of column keys. */
export function tableToCsv(t: ResolvedTable): string {
  const head: string[] = [];
  for (const c of t.columns) head.push(c.key, ...(c.aggregated ? [`${c.key}_min`, `${c.key}_max`] : []));
  const lines = [head.map(csvField).join(',')];
  for (const row of t.rows) {
    const fields: string[] = [];
    for (const c of t.columns) {
      const text = cellText(row[c.key]!, c.format);
      const main = text.main === '-' ? '' : text.main;
      fields.push(main);
      if (c.aggregated) fields.push(...(text.range ?? (main === '' ? ['', ''] : [main, main])));
    }
    lines.push(fields.map(csvField).join(','));
  }
  return `${lines.join('\n')}\n`;
}

export function latexEscape(s: string): string {
  return s.replace(/[\\&%$#_{}~^]/g, (ch) => {
    switch (ch) {
      case '\\':
        return '\\textbackslash{}';
      case '~':
        return '\\textasciitilde{}';
      case '^':
        return '\\textasciicircum{}';
      default:
        return `\\${ch}`;
    }
  });
}

/** A `table` float with a booktabs `tabular` (needs `\usepackage{booktabs}`). */
export function tableToLatex(t: ResolvedTable): string {
  const lines = ['\\begin{table}[t]', '\\centering'];
  // The title and the caption are two sentences of one \caption: the title gets its full stop.
  if (t.title || t.caption) lines.push(`\\caption{${latexEscape(joinSentences(t.title, t.caption))}}`);
  lines.push(`\\label{tab:${t.name}}`);
  lines.push(`\\begin{tabular}{${t.columns.map((c) => (c.align === 'right' ? 'r' : 'l')).join('')}}`);
  lines.push('\\toprule');
  lines.push(`${t.columns.map((c) => latexEscape(c.label)).join(' & ')} \\\\`);
  lines.push('\\midrule');
  for (const row of t.rows) {
    const cells = t.columns.map((c) => {
      const text = cellText(row[c.key]!, c.format);
      const main = latexEscape(text.main === '-' ? '--' : text.main);
      return text.range ? `${main}\\,{\\scriptsize[${latexEscape(text.range[0])}, ${latexEscape(text.range[1])}]}` : main;
    });
    lines.push(`${cells.join(' & ')} \\\\`);
  }
  lines.push('\\bottomrule', '\\end{tabular}', '\\end{table}');
  return `${lines.join('\n')}\n`;
}

/** The table with unrounded numbers: `{mean, min, max, n}` for numbers, `{share, n}` for booleans. */
export function tableToJsonValue(t: ResolvedTable): unknown {
  return {
    name: t.name,
    title: t.title ?? null,
    caption: t.caption ?? null,
    columns: t.columns.map((c) => ({ key: c.key, label: c.label, format: c.format })),
    rows: t.rows.map((row) =>
      Object.fromEntries(
        t.columns.map((c) => {
          const cell = row[c.key]!;
          switch (cell.kind) {
            case 'empty':
              return [c.key, null];
            case 'text':
              return [c.key, cell.value];
            case 'boolean':
              return [c.key, cell.n === 1 ? cell.share === 1 : { share: cell.share, n: cell.n }];
            case 'number':
              return [c.key, cell.n === 1 ? cell.mean : { mean: cell.mean, min: cell.min, max: cell.max, n: cell.n }];
          }
        }),
      ),
    ),
  };
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);
}

export function tableToHtml(t: ResolvedTable): string {
  const align = (c: ResolvedColumn): string => (c.align === 'right' ? ' class="num"' : '');
  const out = [`<table class="report-table" id="table-${escapeHtml(t.name)}" data-table="${escapeHtml(t.name)}">`];
  if (t.title) out.push(`<caption>${escapeHtml(t.title)}</caption>`);
  out.push(`<thead><tr>${t.columns.map((c) => `<th${align(c)} scope="col">${escapeHtml(c.label)}</th>`).join('')}</tr></thead>`);
  out.push('<tbody>');
  for (const row of t.rows) {
    const cells = t.columns.map((c) => {
      const text = cellText(row[c.key]!, c.format);
      return `<td${align(c)}>${escapeHtml(text.main)}${text.range ? ` <span class="range">[${escapeHtml(text.range[0])}, ${escapeHtml(text.range[1])}]</span>` : ''}</td>`;
    });
    out.push(`<tr>${cells.join('')}</tr>`);
  }
  out.push('</tbody></table>');
  if (t.caption) out.push(`<p class="caption">${escapeHtml(t.caption)}</p>`);
  return out.join('\n');
}

export function renderTables(tables: readonly ResolvedTable[], format: TableFormat): string {
  switch (format) {
    case 'md':
      return tables.map(tableToMarkdown).join('\n');
    case 'csv':
      return tables.map(tableToCsv).join('\n');
    case 'latex':
      return tables.map(tableToLatex).join('\n');
    case 'json':
      return `${JSON.stringify(tables.map(tableToJsonValue), null, 2)}\n`;
  }
}
