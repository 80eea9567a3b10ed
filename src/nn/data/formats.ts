/**
 * The file formats side by side ({@link FileFormat}): where a format's files are in a folder, how
 * they are read into splits, and how one file is checked before a run. Everything that depends on
 * the format goes through here, so the loader and the pipeline-side lookup (src/lth/data.ts) find
 * the same files.
 */
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ImageSet } from './batch.js';
import { CIFAR10, CIFAR100, type CifarLayout, checkCifarFile, cifarExpected, cifarFilesIn, readCifarSplits } from './cifar.js';
import { IDX_FILE_NAMES, checkIdxFile, idxFilesIn, readIdxSplits } from './idx.js';
import type { FileFormat } from './registry.js';

const CIFAR_LAYOUTS: Readonly<Record<Exclude<FileFormat, 'idx'>, CifarLayout>> = { cifar10: CIFAR10, cifar100: CIFAR100 };

/** The CIFAR layout of a format (undefined for IDX). */
export function cifarLayoutOf(format: FileFormat): CifarLayout | undefined {
  return format === 'idx' ? undefined : CIFAR_LAYOUTS[format];
}

/** The files of `format` in `dir` (IDX: the four files in their fixed order; CIFAR: the batch files, or the archive), or why not. */
export function formatFilesIn(format: FileFormat, dir: string): { files: string[] } | { files?: undefined; why: string } {
  const layout = cifarLayoutOf(format);
  if (!layout) {
    const r = idxFilesIn(dir);
    return r.files ? { files: r.files } : { why: r.missing.length === 4 ? 'no files' : `missing ${r.missing.join(', ')}` };
  }
  const files = cifarFilesIn(dir, layout);
  return files ? { files } : { why: `no ${cifarExpected(layout)}` };
}

/** What a folder of `format` holds, for messages. */
export function expectedFiles(format: FileFormat): string {
  const layout = cifarLayoutOf(format);
  return layout ? cifarExpected(layout) : Object.values(IDX_FILE_NAMES).join(', ');
}

/** True if `path` is a single file that holds a whole dataset of `format` (a CIFAR archive). */
export function isArchiveOf(format: FileFormat, path: string): boolean {
  return format !== 'idx' && path.endsWith('.tar.gz') && (statSync(path, { throwIfNoEntry: false })?.isFile() ?? false);
}

/** Reads what {@link formatFilesIn} found into training and test splits (labels checked below `classes`). */
export async function readFormatSplits(format: FileFormat, files: readonly string[], classes: number): Promise<{ train: ImageSet; test: ImageSet }> {
  const layout = cifarLayoutOf(format);
  return layout ? readCifarSplits(files, layout, classes) : readIdxSplits(files, classes);
}

/** The folder (or archive) the files were read from, for provenance. */
export function sourceOf(files: readonly string[]): string {
  return files.length === 1 && files[0]!.endsWith('.tar.gz') ? files[0]! : dirname(files[0]!);
}

/**
 * Checks one file of a dataset of `format` without loading the dataset: magic numbers, sizes,
 * counts, gzip integrity, label ranges (see {@link checkIdxFile} and {@link checkCifarFile}).
 * @throws PipelineError DATASET_CORRUPT naming the file and what is wrong.
 */
export async function checkDatasetFile(format: FileFormat, file: string, classes: number): Promise<void> {
  const layout = cifarLayoutOf(format);
  if (layout) await checkCifarFile(file, layout, classes);
  else await checkIdxFile(file, classes);
}
