/**
 * The built-in datasets' official files: found in the usual folders (src/nn/data/locate.ts),
 * checked against the published checksums (see {@link VerifyMode}), downloaded when allowed and
 * not found anywhere.
 */
import { stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { isPipelineError, PipelineError } from '../../errors.js';
import type { ImageSet } from './batch.js';
import { downloadFile, DownloadFailed } from './download.js';
import { cifarLayoutOf, formatFilesIn, isArchiveOf, readFormatSplits, sourceOf } from './formats.js';
import { candidateDirs, downloadDir, isOffline } from './locate.js';
import type { FileDatasetName, OfficialSource } from './registry.js';
import { DATASET_SUBDIR, OFFICIAL_FILES, type OfficialFile, officialFile, otherDatasetWithSize } from './sources.js';
import { preferredChecksum, verifyFile } from './verify.js';

/**
 * How found files are checked against the published checksums:
 * - `'official'` (default): a file whose size is exactly the official size (or that of a known
 *   repack, such as Debian's Fashion-MNIST) must also have its checksum (else DATASET_CORRUPT); a
 *   file of another size is taken as your own data in the same format and only checked
 *   structurally (magic numbers, sizes, labels). A file that has the official size of the *other*
 *   MNIST-like dataset (MNIST vs Fashion-MNIST) is rejected.
 * - `'strict'`: every file must be the official one (size and checksum, or a known repack); for
 *   paper runs. An extracted CIFAR folder (no published checksums) must hold exactly the official
 *   50000 + 10000 records.
 * - `'none'`: no checksums, structural checks only.
 * Downloaded files are always checked against the official checksum. Verified files are
 * remembered (path, size, mtime) in `.lth-verified.json` beside them, so the check is cheap on repeat.
 */
export type VerifyMode = 'official' | 'strict' | 'none';

export interface OfficialLoadOptions {
  path?: string | undefined;
  download?: boolean | undefined;
  verify?: VerifyMode | undefined;
  log?: ((line: string) => void) | undefined;
  progress?: boolean | undefined;
}

/** Checks a found file against the official one, per `mode` (see {@link VerifyMode}). */
async function checkFound(dataset: FileDatasetName, file: string, mode: VerifyMode): Promise<void> {
  if (mode === 'none') return;
  const name = basename(file);
  const size = (await stat(file)).size;
  const other = otherDatasetWithSize(dataset, name, size);
  if (other) {
    throw new PipelineError('DATASET_CORRUPT', `${file} has the size of the official ${other} file, not ${dataset}`, {
      where: file,
      hint: `${dataset} and ${other} use the same file names: keep them in separate folders (<dir>/${dataset}, <dir>/${other})`,
    });
  }
  const official = officialFile(dataset, name);
  const hint = official && `delete it so that it is downloaded again, or replace it with the original from ${official.urls[0]}`;
  const sum = official && preferredChecksum(official);
  if (official && sum && size === official.size) return verifyFile(file, sum, hint);
  const repack = official?.repacks?.find((r) => r.size === size);
  const repackSum = repack && preferredChecksum(repack);
  if (repackSum) return verifyFile(file, repackSum, `${hint} (its size is that of ${repack.by}'s copy, whose checksum it lacks)`);
  if (mode === 'strict') {
    throw new PipelineError(
      'DATASET_CORRUPT',
      official
        ? `${file} is ${size} bytes, not the official ${official.size}`
        : `${file} is not an official ${dataset} file (verify: 'strict' accepts only ${OFFICIAL_FILES[dataset].map((f) => f.name).join(', ')})`,
      { where: file, hint: "use the original files, or load with verify: 'official' to accept your own data" },
    );
  }
}

function missingError(dataset: FileDatasetName, looked: string[], files: readonly OfficialFile[], target: string, why: string): PipelineError {
  const names = files.map((f) => f.name).join(', ');
  return new PipelineError('DATASET_MISSING', `${dataset} not found. Looked in:\n${looked.map((l) => `    ${l}`).join('\n')}\n  ${why}`, {
    where: join(target, files[0]!.name),
    hint:
      `set PIPELINE_DATA_DIR (pipeline --data-dir) to a folder holding ${names} (directly or in its ${DATASET_SUBDIR[dataset]}/ folder), ` +
      `or run with network (download allowed, PIPELINE_OFFLINE unset) to download ${files.map((f) => f.urls[0]).join(' ')} into ${target}`,
  });
}

function downloadBlocked(opts: OfficialLoadOptions): string | undefined {
  if (isOffline()) return 'Downloading is off (PIPELINE_OFFLINE=1).';
  if (opts.download === false) return 'Downloading is off (download: false).';
  return undefined;
}

/** Downloads the files; when no server can be reached at all, the not-found error (where it looked, what to set). */
async function downloadAll(dataset: FileDatasetName, target: string, opts: OfficialLoadOptions, looked: string[]): Promise<void> {
  for (const f of OFFICIAL_FILES[dataset]) {
    try {
      await downloadFile(f.urls, join(target, f.name), {
        checksum: preferredChecksum(f)!,
        size: f.size,
        label: `${dataset} ${f.name}`,
        ...(opts.log ? { log: opts.log } : {}),
        ...(opts.progress !== undefined ? { progress: opts.progress } : {}),
      });
    } catch (e) {
      if (isPipelineError(e) && e.cause instanceof DownloadFailed && e.cause.offline) {
        const why = e.message.split('\n').slice(1).map((l) => l.trim()).join('; ');
        throw missingError(dataset, looked, OFFICIAL_FILES[dataset], target, `Downloading failed: ${why} (set PIPELINE_OFFLINE=1 to say so up front).`);
      }
      throw e;
    }
  }
}

/**
 * Finds the files of a built-in dataset (the `path` option first: a folder, or a CIFAR archive),
 * checks them per `verify`, downloads them when they are nowhere and downloading is allowed.
 * @throws PipelineError DATASET_MISSING, DATASET_CORRUPT.
 */
export async function findOfficialFiles(dataset: FileDatasetName, source: OfficialSource, opts: OfficialLoadOptions): Promise<string[]> {
  const mode = opts.verify ?? 'official';
  if (opts.path && isArchiveOf(source.format, opts.path)) {
    await checkFound(dataset, opts.path, mode);
    return [opts.path];
  }
  const looked: string[] = [];
  for (const c of candidateDirs(dataset, opts.path)) {
    const r = formatFilesIn(source.format, c.dir);
    if (r.files) {
      for (const f of r.files) await checkFound(dataset, f, mode);
      return r.files;
    }
    looked.push(`${c.dir} (${c.why}): ${r.why}`);
  }
  const target = downloadDir(dataset, opts.path);
  const blocked = downloadBlocked(opts);
  if (blocked) throw missingError(dataset, looked, source.files, target, blocked);
  await downloadAll(dataset, target, opts, looked);
  const r = formatFilesIn(source.format, target);
  if (!r.files) throw missingError(dataset, looked, source.files, target, `The download into ${target} left ${r.why}.`);
  return r.files;
}

/** Loads a built-in dataset's training and test splits from its official files (see {@link findOfficialFiles}). */
export async function loadOfficial(dataset: FileDatasetName, source: OfficialSource, opts: OfficialLoadOptions): Promise<{ train: ImageSet; test: ImageSet; source: string }> {
  const files = await findOfficialFiles(dataset, source, opts);
  const split = await readFormatSplits(source.format, files, source.numClasses);
  const layout = cifarLayoutOf(source.format);
  const folder = !(files.length === 1 && files[0]!.endsWith('.tar.gz'));
  if (opts.verify === 'strict' && layout && folder && (split.train.n !== layout.officialCounts.train || split.test.n !== layout.officialCounts.test)) {
    const where = sourceOf(files);
    throw new PipelineError('DATASET_CORRUPT', `${where} holds ${split.train.n} + ${split.test.n} records, not ${layout.officialCounts.train} + ${layout.officialCounts.test}`, {
      where,
      hint: "use the original batches, or load with verify: 'official' to accept your own data",
    });
  }
  return { ...split, source: sourceOf(files) };
}
