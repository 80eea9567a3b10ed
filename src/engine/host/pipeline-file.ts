/**
 * A pipeline file named on the command line must exist before anything loads it (the type check,
 * the import): a typo in the path is a user error that lists the pipeline files that do exist in
 * that folder, nearest name first, not a compiler's "File not found".
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, relative, resolve } from 'node:path';
import { PipelineError } from '../../errors.js';

const SHOWN = 8;

/** The file's absolute path; PIPELINE_LOAD when it is not a file. */
export async function checkPipelineFile(file: string): Promise<string> {
  const abs = resolve(file);
  const isFile = await stat(abs).then((s) => s.isFile(), () => false);
  if (isFile) return abs;
  const folder = dirname(abs);
  const names = await readdir(folder).catch(() => undefined);
  const found = nearestFirst(basename(abs), await pipelineFilesIn(folder, names ?? []));
  const shownFolder = relative(process.cwd(), folder) || '.';
  throw new PipelineError('PIPELINE_LOAD', `no pipeline file ${file}`, {
    hint:
      names === undefined
        ? `there is no folder ${shownFolder}`
        : found.length === 0
          ? `${shownFolder} holds no pipeline file (a .ts file that calls definePipeline)`
          : `pipeline files in ${shownFolder}: ${found.slice(0, SHOWN).join(', ')}${found.length > SHOWN ? ', ...' : ''}`,
  });
}

/** TypeScript files of a folder that define a pipeline (by their text: nothing is imported). */
async function pipelineFilesIn(folder: string, names: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const name of names.filter((n) => /\.[cm]?ts$/.test(n) && !n.endsWith('.d.ts'))) {
    const text = await readFile(resolve(folder, name), 'utf8').catch(() => '');
    if (text.includes('definePipeline')) out.push(name);
  }
  return out;
}

/** Names ordered by edit distance to `wanted`, then alphabetically. */
export function nearestFirst(wanted: string, names: readonly string[]): string[] {
  const d = new Map(names.map((n) => [n, editDistance(wanted, n)]));
  return [...names].sort((a, b) => d.get(a)! - d.get(b)! || a.localeCompare(b));
}

/** Levenshtein distance (one row at a time). */
export function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next.push(Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    row = next;
  }
  return row[b.length]!;
}
