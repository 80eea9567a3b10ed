/**
 * CIFAR-10, binary version: each batch file is a sequence of 3073-byte records, one label byte
 * (0-9) then 3072 pixel bytes: the red, green and blue planes of a 32 x 32 image, row-major.
 * Read from the official `cifar-10-binary.tar.gz` (streamed with `tar`, nothing is extracted to
 * disk) or from its extracted `cifar-10-batches-bin/` folder.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { list } from 'tar';
import { PipelineError } from '../../errors.js';

export const CIFAR_SIDE = 32;
export const CIFAR_PIXELS = CIFAR_SIDE * CIFAR_SIDE * 3;
export const CIFAR_RECORD = 1 + CIFAR_PIXELS;
export const CIFAR_CLASSES = 10;
export const CIFAR_TRAIN_FILES = [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`);
export const CIFAR_TEST_FILE = 'test_batch.bin';
export const CIFAR_ALL_FILES = [...CIFAR_TRAIN_FILES, CIFAR_TEST_FILE];
export const CIFAR_ARCHIVE = 'cifar-10-binary.tar.gz';
export const CIFAR_FOLDER = 'cifar-10-batches-bin';

/** Decoded images (NHWC uint8) and labels. */
export interface RawImages {
  readonly n: number;
  readonly images: Uint8Array;
  readonly labels: Uint8Array;
}

const HINT = 'the file is truncated or not a CIFAR-10 binary batch: delete it and download it again';

/**
 * Decodes CIFAR-10 binary records (planar RGB) into NHWC uint8 images and labels.
 * @throws PipelineError DATASET_CORRUPT naming `file` if the size is not a whole number of
 *   records or a label is not in 0..9.
 */
export function parseCifarBatch(bytes: Uint8Array, file: string): RawImages {
  if (bytes.length === 0 || bytes.length % CIFAR_RECORD !== 0) {
    throw new PipelineError(
      'DATASET_CORRUPT',
      `${file}: ${bytes.length} bytes is not a whole number of ${CIFAR_RECORD}-byte CIFAR-10 records (truncated?)`,
      { where: file, hint: HINT },
    );
  }
  const n = bytes.length / CIFAR_RECORD;
  const images = new Uint8Array(n * CIFAR_PIXELS);
  const labels = new Uint8Array(n);
  const plane = CIFAR_SIDE * CIFAR_SIDE;
  for (let r = 0; r < n; r++) {
    const base = r * CIFAR_RECORD;
    const label = bytes[base]!;
    if (label >= CIFAR_CLASSES) {
      throw new PipelineError('DATASET_CORRUPT', `${file}: record ${r} has label ${label}, expected 0-9`, {
        where: file,
        hint: HINT,
      });
    }
    labels[r] = label;
    const out = r * CIFAR_PIXELS;
    for (let p = 0; p < plane; p++) {
      images[out + 3 * p] = bytes[base + 1 + p]!;
      images[out + 3 * p + 1] = bytes[base + 1 + plane + p]!;
      images[out + 3 * p + 2] = bytes[base + 1 + 2 * plane + p]!;
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

/** Reads the six batch files from a folder (e.g. `cifar-10-batches-bin/`). */
export async function readCifarFolder(dir: string): Promise<CifarRaw> {
  const read = async (name: string) => {
    const file = join(dir, name);
    return parseCifarBatch(await readFile(file), file);
  };
  const train: RawImages[] = [];
  for (const f of CIFAR_TRAIN_FILES) train.push(await read(f));
  return { train: concatImages(train), test: await read(CIFAR_TEST_FILE) };
}

/** True if `dir` holds all six batch files. */
export async function hasCifarFolder(dir: string): Promise<boolean> {
  for (const f of CIFAR_ALL_FILES) {
    const s = await stat(join(dir, f)).catch(() => undefined);
    if (!s?.isFile()) return false;
  }
  return true;
}

/**
 * Streams the batch files out of a `cifar-10-binary.tar.gz` (entries named
 * `<anything>/data_batch_N.bin` and `<anything>/test_batch.bin`).
 * @throws PipelineError DATASET_CORRUPT if the archive is damaged or lacks a batch.
 */
export async function readCifarArchive(archive: string): Promise<CifarRaw> {
  const found = new Map<string, Uint8Array>();
  const short = new Set<string>();
  try {
    await list({
      file: archive,
      strict: true,
      onReadEntry(entry) {
        const base = entry.path.split('/').pop() ?? '';
        if (!CIFAR_ALL_FILES.includes(base) || entry.type !== 'File') return;
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
  const missing = CIFAR_ALL_FILES.filter((f) => !found.has(f) || short.has(f));
  if (missing.length > 0) {
    throw new PipelineError(
      'DATASET_CORRUPT',
      `${archive}: the archive lacks (or has truncated) ${missing.join(', ')}`,
      { where: archive, hint: 'the archive is truncated or not cifar-10-binary.tar.gz: delete it and download it again' },
    );
  }
  const parse = (f: string) => parseCifarBatch(found.get(f)!, `${archive}:${f}`);
  return { train: concatImages(CIFAR_TRAIN_FILES.map(parse)), test: parse(CIFAR_TEST_FILE) };
}

/** Encodes NHWC uint8 images and labels as CIFAR-10 binary records; for tests and tools. */
export function encodeCifarBatch(images: Uint8Array, labels: Uint8Array): Uint8Array {
  const n = labels.length;
  const out = new Uint8Array(n * CIFAR_RECORD);
  const plane = CIFAR_SIDE * CIFAR_SIDE;
  for (let r = 0; r < n; r++) {
    const base = r * CIFAR_RECORD;
    out[base] = labels[r]!;
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) out[base + 1 + c * plane + p] = images[r * CIFAR_PIXELS + 3 * p + c]!;
    }
  }
  return out;
}
