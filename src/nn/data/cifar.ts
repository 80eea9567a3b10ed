/**
 * CIFAR-10 and CIFAR-100, binary versions: each batch file is a sequence of fixed-size records,
 * the label byte(s) then 3072 pixel bytes (the red, green and blue planes of a 32 x 32 image,
 * row-major).
 * - CIFAR-10: 1 label byte (0-9); `data_batch_1..5.bin` and `test_batch.bin`, in
 *   `cifar-10-batches-bin/` of `cifar-10-binary.tar.gz`.
 * - CIFAR-100: a coarse label byte (0-19) then a fine label byte (0-99); the fine labels are the
 *   classes; `train.bin` and `test.bin`, in `cifar-100-binary/` of `cifar-100-binary.tar.gz`.
 * Read from the archive (streamed with `tar`, nothing is extracted to disk) or from the extracted
 * folder (or the batch files directly in a folder).
 */
import { readFile, stat } from 'node:fs/promises';
import { statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { list } from 'tar';
import { PipelineError } from '../../errors.js';
import type { ImageSet } from './batch.js';

export const CIFAR_SIDE = 32;
export const CIFAR_PIXELS = CIFAR_SIDE * CIFAR_SIDE * 3;

/** The layout of one CIFAR binary version. */
export interface CifarLayout {
  readonly title: string;
  /** Label bytes before the pixels of each record. */
  readonly labelBytes: number;
  /** Which of them is the class (CIFAR-100: 1, the fine label). */
  readonly classByte: number;
  /** Classes of the class byte, and the range of every label byte in order (checked). */
  readonly classes: number;
  readonly labelRanges: readonly number[];
  readonly trainFiles: readonly string[];
  readonly testFile: string;
  /** The folder inside the archive. */
  readonly folder: string;
  readonly archive: string;
  /** Records in the official training and test files. */
  readonly officialCounts: { readonly train: number; readonly test: number };
}

export const CIFAR10: CifarLayout = {
  title: 'CIFAR-10',
  labelBytes: 1,
  classByte: 0,
  classes: 10,
  labelRanges: [10],
  trainFiles: [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`),
  testFile: 'test_batch.bin',
  folder: 'cifar-10-batches-bin',
  archive: 'cifar-10-binary.tar.gz',
  officialCounts: { train: 50000, test: 10000 },
};

export const CIFAR100: CifarLayout = {
  title: 'CIFAR-100',
  labelBytes: 2,
  classByte: 1,
  classes: 100,
  labelRanges: [20, 100],
  trainFiles: ['train.bin'],
  testFile: 'test.bin',
  folder: 'cifar-100-binary',
  archive: 'cifar-100-binary.tar.gz',
  officialCounts: { train: 50000, test: 10000 },
};

/** Bytes of one record. */
export function recordSize(layout: CifarLayout): number {
  return layout.labelBytes + CIFAR_PIXELS;
}
/** All batch files of a layout, training files first. */
export function cifarFiles(layout: CifarLayout): string[] {
  return [...layout.trainFiles, layout.testFile];
}

/** Decoded images (NHWC uint8) and labels. */
export interface RawImages {
  readonly n: number;
  readonly images: Uint8Array;
  readonly labels: Uint8Array;
}

const hint = (layout: CifarLayout) => `the file is truncated or not a ${layout.title} binary batch: delete it and download it again`;

function corrupt(file: string, what: string, layout: CifarLayout): PipelineError {
  return new PipelineError('DATASET_CORRUPT', `${file}: ${what}`, { where: file, hint: hint(layout) });
}

function sizeProblem(bytes: number, layout: CifarLayout): string | undefined {
  const record = recordSize(layout);
  if (bytes > 0 && bytes % record === 0) return undefined;
  return `${bytes} bytes is not a whole number of ${record}-byte ${layout.title} records (truncated?)`;
}

/** The first label byte of the record at `base` out of its range, as a message. */
function labelProblem(bytes: Uint8Array, base: number, r: number, layout: CifarLayout, classes: number): string | undefined {
  for (let j = 0; j < layout.labelBytes; j++) {
    const max = j === layout.classByte ? classes : layout.labelRanges[j]!;
    const v = bytes[base + j]!;
    if (v >= max) return `record ${r} has ${layout.labelBytes > 1 ? `label byte ${j} ` : 'label '}${v}, expected 0-${max - 1}`;
  }
  return undefined;
}

/**
 * Decodes binary records (planar RGB) into NHWC uint8 images and the class labels.
 * @throws PipelineError DATASET_CORRUPT naming `file` if the size is not a whole number of
 *   records or a label is out of range (the class label: below `classes`).
 */
export function parseCifarBatch(bytes: Uint8Array, file: string, layout: CifarLayout = CIFAR10, classes = layout.classes): RawImages {
  const bad = sizeProblem(bytes.length, layout);
  if (bad) throw corrupt(file, bad, layout);
  const record = recordSize(layout);
  const n = bytes.length / record;
  const images = new Uint8Array(n * CIFAR_PIXELS);
  const labels = new Uint8Array(n);
  const plane = CIFAR_SIDE * CIFAR_SIDE;
  for (let r = 0; r < n; r++) {
    const base = r * record;
    const wrong = labelProblem(bytes, base, r, layout, classes);
    if (wrong) throw corrupt(file, wrong, layout);
    labels[r] = bytes[base + layout.classByte]!;
    const px = base + layout.labelBytes;
    const out = r * CIFAR_PIXELS;
    for (let p = 0; p < plane; p++) {
      images[out + 3 * p] = bytes[px + p]!;
      images[out + 3 * p + 1] = bytes[px + plane + p]!;
      images[out + 3 * p + 2] = bytes[px + 2 * plane + p]!;
    }
  }
  return { n, images, labels };
}

/** Concatenates decoded batches in order. */
export function concatImages(parts: readonly RawImages[]): RawImages {
  const n = parts.reduce((s, p) => s + p.n, 0);
  const images = new Uint8Array(n * CIFAR_PIXELS);
  const labels = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    images.set(p.images, at * CIFAR_PIXELS);
    labels.set(p.labels, at);
    at += p.n;
  }
  return { n, images, labels };
}

export interface CifarRaw {
  readonly train: RawImages;
  readonly test: RawImages;
}

/** Reads the batch files from a folder (e.g. `cifar-10-batches-bin/`). */
export async function readCifarFolder(dir: string, layout: CifarLayout = CIFAR10, classes = layout.classes): Promise<CifarRaw> {
  const read = async (name: string) => {
    const file = join(dir, name);
    return parseCifarBatch(await readFile(file), file, layout, classes);
  };
  const train: RawImages[] = [];
  for (const f of layout.trainFiles) train.push(await read(f));
  return { train: concatImages(train), test: await read(layout.testFile) };
}

/**
 * Streams the batch files out of an archive (entries named `<anything>/<batch file>`).
 * @throws PipelineError DATASET_CORRUPT if the archive is damaged or lacks a batch.
 */
export async function readCifarArchive(archive: string, layout: CifarLayout = CIFAR10, classes = layout.classes): Promise<CifarRaw> {
  const wanted = cifarFiles(layout);
  const found = new Map<string, Uint8Array>();
  const short = new Set<string>();
  try {
    await list({
      file: archive,
      strict: true,
      onReadEntry(entry) {
        const base = entry.path.split('/').pop() ?? '';
        if (!wanted.includes(base) || entry.type !== 'File') return;
        const size = entry.size ?? 0;
        const buf = new Uint8Array(size);
        let at = 0;
        entry.on('data', (chunk: Buffer) => {
          if (at + chunk.length <= size) buf.set(chunk, at);
          at += chunk.length;
        });
        entry.on('end', () => {
          if (at !== size) short.add(base);
          found.set(base, buf);
        });
      },
    });
  } catch (e) {
    throw new PipelineError('DATASET_CORRUPT', `${archive}: cannot read the archive (${(e as Error).message})`, {
      where: archive,
      hint: 'the archive is truncated or damaged: delete it and download it again',
      cause: e,
    });
  }
  const missing = wanted.filter((f) => !found.has(f) || short.has(f));
  if (missing.length > 0) {
    throw new PipelineError('DATASET_CORRUPT', `${archive}: the archive lacks (or has truncated) ${missing.join(', ')}`, {
      where: archive,
      hint: `the archive is truncated or not ${layout.archive}: delete it and download it again`,
    });
  }
  const parse = (f: string) => parseCifarBatch(found.get(f)!, `${archive}:${f}`, layout, classes);
  return { train: concatImages(layout.trainFiles.map(parse)), test: parse(layout.testFile) };
}

const isFile = (p: string): boolean => statSync(p, { throwIfNoEntry: false })?.isFile() ?? false;

/**
 * The files of a CIFAR dataset in `dir`: the batch files of the extracted folder
 * (`<dir>/<folder>/`, or directly in `dir`), else the archive; undefined when neither is there.
 */
export function cifarFilesIn(dir: string, layout: CifarLayout): string[] | undefined {
  for (const folder of [join(dir, layout.folder), dir]) {
    const files = cifarFiles(layout).map((f) => join(folder, f));
    if (files.every(isFile)) return files;
  }
  const archive = join(dir, layout.archive);
  return isFile(archive) ? [archive] : undefined;
}

/** What {@link cifarFilesIn} looks for, for messages. */
export function cifarExpected(layout: CifarLayout): string {
  return `${layout.archive}, ${layout.folder}/ or ${cifarFiles(layout).join(', ')}`;
}

const asSet = (r: RawImages): ImageSet => ({ n: r.n, shape: [CIFAR_SIDE, CIFAR_SIDE, 3], images: r.images, labels: r.labels });

/** Reads what {@link cifarFilesIn} found (the archive, or the batch files) into training and test splits. */
export async function readCifarSplits(files: readonly string[], layout: CifarLayout, classes = layout.classes): Promise<{ train: ImageSet; test: ImageSet }> {
  const raw = files.length === 1 && files[0]!.endsWith('.tar.gz') ? await readCifarArchive(files[0]!, layout, classes) : await readCifarFolder(dirname(files[0]!), layout, classes);
  return { train: asSet(raw.train), test: asSet(raw.test) };
}

/**
 * Checks one file of a CIFAR dataset before a run: a batch file by its size (a whole number of
 * records) and its label bytes; an archive by reading it through (gzip and tar integrity, every
 * batch present and whole, sizes and labels).
 * @throws PipelineError DATASET_CORRUPT naming the file and what is wrong.
 */
export async function checkCifarFile(file: string, layout: CifarLayout, classes = layout.classes): Promise<void> {
  if (basename(file) === layout.archive || file.endsWith('.tar.gz')) {
    await readCifarArchive(file, layout, classes);
    return;
  }
  const bad = sizeProblem((await stat(file)).size, layout);
  if (bad) throw corrupt(file, bad, layout);
  const bytes = await readFile(file);
  const record = recordSize(layout);
  for (let r = 0, base = 0; base < bytes.length; r++, base += record) {
    const wrong = labelProblem(bytes, base, r, layout, classes);
    if (wrong) throw corrupt(file, wrong, layout);
  }
}

/** Encodes NHWC uint8 images and labels as binary records; for tests and tools. CIFAR-100: `coarse` labels go first. */
export function encodeCifarBatch(images: Uint8Array, labels: Uint8Array, layout: CifarLayout = CIFAR10, coarse?: Uint8Array): Uint8Array {
  const n = labels.length;
  const record = recordSize(layout);
  const out = new Uint8Array(n * record);
  const plane = CIFAR_SIDE * CIFAR_SIDE;
  for (let r = 0; r < n; r++) {
    const base = r * record;
    for (let j = 0; j < layout.labelBytes; j++) out[base + j] = j === layout.classByte ? labels[r]! : (coarse?.[r] ?? 0);
    const px = base + layout.labelBytes;
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) out[px + c * plane + p] = images[r * CIFAR_PIXELS + 3 * p + c]!;
    }
  }
  return out;
}
