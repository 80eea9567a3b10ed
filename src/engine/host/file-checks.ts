/**
 * The checks of external input files (`p.file(path, { check })`): run while inputs are resolved,
 * before anything runs, and remembered by (check id, path, content digest) in
 * `meta/file-checks.json`, so that a large file is vetted once, not at every run, and a changed
 * file is vetted again. The path is part of it: a check may read meaning from a file's name (the
 * same bytes can be a good image file and a bad label file).
 */
import { readFile } from 'node:fs/promises';
import { writeFileAtomic, type Store } from '../../store/index.js';
import type { FileCheck } from '../definition/pipeline.js';

const FILE = 'file-checks.json';
/** Passed checks known to this process (also those another process recorded, once read). */
const passed = new Set<string>();

async function recorded(store: Store): Promise<Record<string, true>> {
  try {
    const parsed = JSON.parse(await readFile(store.layout.metaPath(FILE), 'utf8')) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, true>;
  } catch {
    // none yet, or unreadable: check again
  }
  return {};
}

/** Runs `check` on the file at `path` (whose content digest is `digest`) unless it passed before. */
export async function runFileCheck(path: string, digest: string, check: FileCheck, store: Store): Promise<void> {
  const key = `${check.id} ${digest} ${path}`;
  if (passed.has(key)) return;
  if ((await recorded(store))[key]) {
    passed.add(key);
    return;
  }
  await check.run(path);
  passed.add(key);
  // Read again just before writing: another process may have recorded checks meanwhile (a lost
  // entry only means a check runs once more).
  const all = { ...(await recorded(store)), [key]: true as const };
  await writeFileAtomic(store.layout.metaPath(FILE), JSON.stringify(all)).catch(() => undefined);
}
