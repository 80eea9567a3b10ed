/**
 * IDX files (the MNIST format): a 4-byte magic number `0x00 0x00 <type> <ndims>`, `ndims`
 * big-endian uint32 dimensions, then the data. Only unsigned bytes (type 0x08) are used here:
 * 0x00000801 is a vector of labels, 0x00000803 a stack of images.
 *
 * A dataset in IDX layout is four files in one folder (MNIST's names, gzipped or not): training
 * and test images and labels. This module finds them, reads them into splits, and checks one file
 * without loading it (streamed: magic number, dimensions against the byte count, gzip integrity,
 * label range, and the example count against its partner file's header) before a run starts.
 */
import { createReadStream, statSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createGunzip, gunzipSync } from 'node:zlib';
import { isPipelineError, PipelineError } from '../../errors.js';
import type { ImageSet } from './batch.js';

export interface IdxArray {
  /** Dimensions, outermost first, e.g. [60000, 28, 28]. */
  readonly dims: readonly number[];
  /** The values, row-major. */
  readonly data: Uint8Array;
}

/** Magic number of a uint8 IDX file with `ndims` dimensions (0x0801 for labels, 0x0803 images). */
export function idxMagic(ndims: number): number {
  return 0x0800 + ndims;
}

const HINT =
  'the file is truncated or not the expected IDX file: delete it so that it is downloaded again, or replace it with the original';

function corrupt(file: string, what: string): PipelineError {
  return new PipelineError('DATASET_CORRUPT', `${file}: ${what}`, { where: file, hint: HINT });
}

/** Gunzips `bytes` if they start with the gzip magic (0x1f 0x8b); a broken stream is DATASET_CORRUPT. */
export function maybeGunzip(bytes: Uint8Array, file: string): Uint8Array {
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      return gunzipSync(bytes);
    } catch (e) {
      throw new PipelineError('DATASET_CORRUPT', `${file}: gzip data is damaged or truncated (${(e as Error).message})`, {
        where: file,
        hint: HINT,
        cause: e,
      });
    }
  }
  return bytes;
}

/**
 * Parses an (already decompressed) uint8 IDX file, checking the magic number against
 * `expectedNdims` and that the byte count matches the dimensions exactly (`headerOnly`: only the
 * magic number and the dimensions; `data` is then empty).
 * @throws PipelineError DATASET_CORRUPT naming `file`.
 */
export function parseIdx(bytes: Uint8Array, file: string, expectedNdims: number, opts: { headerOnly?: boolean } = {}): IdxArray {
  if (bytes.length < 4) throw corrupt(file, `too short for an IDX header (${bytes.length} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  const want = idxMagic(expectedNdims);
  if (magic !== want) {
    throw corrupt(
      file,
      `wrong IDX magic number 0x${magic.toString(16).padStart(8, '0')} (expected 0x${want.toString(16).padStart(8, '0')}: unsigned bytes, ${expectedNdims} dimension${expectedNdims === 1 ? '' : 's'})`,
    );
  }
  const header = 4 + 4 * expectedNdims;
  if (bytes.length < header) throw corrupt(file, `truncated IDX header (${bytes.length} of ${header} bytes)`);
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < expectedNdims; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    count *= d;
  }
  if (opts.headerOnly) return { dims, data: new Uint8Array(0) };
  const have = bytes.length - header;
  if (have < count) {
    throw corrupt(file, `truncated: dimensions ${dims.join(' x ')} need ${count} data bytes, found ${have}`);
  }
  if (have > count) {
    throw corrupt(file, `${have - count} unexpected bytes after the ${dims.join(' x ')} data`);
  }
  return { dims, data: bytes.subarray(header) };
}

/** Reads, gunzips (if compressed) and parses an IDX file. */
export async function readIdxFile(file: string, expectedNdims: number): Promise<IdxArray> {
  const raw = await readFile(file);
  return parseIdx(maybeGunzip(raw, file), file, expectedNdims);
}

/** Encodes a uint8 IDX file (uncompressed); for tests and tools. */
export function encodeIdx(dims: readonly number[], data: Uint8Array): Uint8Array {
  const header = 4 + 4 * dims.length;
  const out = new Uint8Array(header + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, idxMagic(dims.length), false);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, header);
  return out;
}

/** The four IDX files of an MNIST-like dataset, by role (the gzipped names; uncompressed ones drop `.gz`). */
export const IDX_FILE_NAMES = {
  trainImages: 'train-images-idx3-ubyte.gz',
  trainLabels: 'train-labels-idx1-ubyte.gz',
  testImages: 't10k-images-idx3-ubyte.gz',
  testLabels: 't10k-labels-idx1-ubyte.gz',
} as const;
export type IdxRole = keyof typeof IDX_FILE_NAMES;
const ROLES = Object.keys(IDX_FILE_NAMES) as IdxRole[];

const isFile = (p: string): boolean => statSync(p, { throwIfNoEntry: false })?.isFile() ?? false;

/**
 * The four IDX files in `dir` in the order of {@link IDX_FILE_NAMES} (`.gz` preferred,
 * uncompressed accepted), or the names that are missing.
 */
export function idxFilesIn(dir: string): { files: string[]; missing: [] } | { files?: undefined; missing: string[] } {
  const files: string[] = [];
  const missing: string[] = [];
  for (const role of ROLES) {
    const f = idxFileOf(dir, role);
    if (f) files.push(f);
    else missing.push(IDX_FILE_NAMES[role]);
  }
  return missing.length === 0 ? { files, missing: [] } : { missing };
}

function idxFileOf(dir: string, role: IdxRole): string | undefined {
  const gz = join(dir, IDX_FILE_NAMES[role]);
  const plain = gz.slice(0, -3);
  return isFile(gz) ? gz : isFile(plain) ? plain : undefined;
}

/** The role of an IDX file by its name, if it is one of the four. */
export function idxRoleOf(file: string): IdxRole | undefined {
  const name = basename(file);
  return ROLES.find((r) => name === IDX_FILE_NAMES[r] || name === IDX_FILE_NAMES[r].slice(0, -3));
}

const isLabels = (role: IdxRole): boolean => role === 'trainLabels' || role === 'testLabels';
const PARTNER: Readonly<Record<IdxRole, IdxRole>> = { trainImages: 'trainLabels', trainLabels: 'trainImages', testImages: 'testLabels', testLabels: 'testImages' };

/** DATASET_CORRUPT unless every label is below `classes`. */
export function checkLabels(labels: Uint8Array, classes: number, file: string): void {
  for (let i = 0; i < labels.length; i++) {
    if (labels[i]! >= classes) {
      throw new PipelineError('DATASET_CORRUPT', `${file}: label ${labels[i]} at ${i} is not in 0..${classes - 1}`, {
        where: file,
        hint: 'the file is damaged or not a label file of this dataset',
      });
    }
  }
}

function countMismatch(labelsFile: string, labelCount: number, imagesFile: string, imageCount: number): PipelineError {
  return new PipelineError('DATASET_CORRUPT', `${labelsFile} has ${labelCount} labels for the ${imageCount} images of ${imagesFile}`, {
    where: labelsFile,
    hint: 'the image and label files do not belong together: replace them with the originals',
  });
}

/**
 * Reads the four IDX files (in the order of {@link IDX_FILE_NAMES}) into training and test splits.
 * @throws PipelineError DATASET_CORRUPT (a bad file, labels that do not match their images, a
 *   label not below `classes`, test images of another size than the training images).
 */
export async function readIdxSplits(files: readonly string[], classes: number): Promise<{ train: ImageSet; test: ImageSet }> {
  const [trainImages, trainLabels, testImages, testLabels] = files as [string, string, string, string];
  const read = async (imagesFile: string, labelsFile: string): Promise<ImageSet> => {
    const images = await readIdxFile(imagesFile, 3);
    const labels = await readIdxFile(labelsFile, 1);
    const [n, h, w] = images.dims as [number, number, number];
    if (labels.dims[0] !== n) throw countMismatch(labelsFile, labels.dims[0]!, imagesFile, n);
    checkLabels(labels.data, classes, labelsFile);
    return { n, shape: [h, w, 1], images: images.data, labels: labels.data };
  };
  const train = await read(trainImages, trainLabels);
  const test = await read(testImages, testLabels);
  if (train.shape[0] !== test.shape[0] || train.shape[1] !== test.shape[1]) {
    throw new PipelineError('DATASET_CORRUPT', `${testImages}: images are ${test.shape[0]}x${test.shape[1]}, training images ${train.shape[0]}x${train.shape[1]}`, {
      where: testImages,
    });
  }
  return { train, test };
}

/**
 * Streams `file` (gunzipped if it starts with the gzip magic), handing each chunk to `onChunk`
 * until it returns false. A damaged or truncated gzip stream is DATASET_CORRUPT.
 */
async function streamContent(file: string, onChunk: (chunk: Buffer) => boolean): Promise<void> {
  const head = Buffer.alloc(2);
  const fh = await open(file, 'r');
  try {
    await fh.read(head, 0, 2, 0);
  } finally {
    await fh.close();
  }
  const raw = createReadStream(file);
  const gz = head[0] === 0x1f && head[1] === 0x8b;
  const stream = gz ? raw.pipe(createGunzip()) : raw;
  try {
    for await (const chunk of stream) if (!onChunk(chunk as Buffer)) break;
  } catch (e) {
    if (isPipelineError(e) || !gz) throw e;
    throw new PipelineError('DATASET_CORRUPT', `${file}: gzip data is damaged or truncated (${(e as Error).message})`, { where: file, hint: HINT, cause: e });
  } finally {
    raw.destroy();
    stream.destroy();
  }
}

/** The dimensions in the header of an IDX file with `ndims` dimensions (reads only the header); undefined if unreadable. */
async function idxHeaderDims(file: string, ndims: number): Promise<number[] | undefined> {
  const need = 4 + 4 * ndims;
  let got = Buffer.alloc(0);
  try {
    await streamContent(file, (chunk) => {
      got = Buffer.concat([got, chunk]);
      return got.length < need;
    });
  } catch {
    return undefined; // its own check reports it
  }
  if (got.length < need || got.readUInt32BE(0) !== idxMagic(ndims)) return undefined;
  return Array.from({ length: ndims }, (_, i) => got.readUInt32BE(4 + 4 * i));
}

/**
 * Checks one file of an IDX dataset without keeping it in memory: its role from its name (one of
 * {@link IDX_FILE_NAMES}), the magic number, the dimensions against the byte count, gzip
 * integrity, every label below `classes`, and its example count against the header of its partner
 * (the labels of its images, or the images of its labels) when that is in the same folder.
 * @throws PipelineError DATASET_CORRUPT naming the file and what is wrong.
 */
export async function checkIdxFile(file: string, classes: number): Promise<void> {
  const role = idxRoleOf(file);
  if (!role) {
    throw new PipelineError('DATASET_CORRUPT', `${file} is not one of the IDX files ${Object.values(IDX_FILE_NAMES).join(', ')}`, { where: file, hint: 'name the files as MNIST does' });
  }
  const ndims = isLabels(role) ? 1 : 3;
  const header = 4 + 4 * ndims;
  let head = Buffer.alloc(0);
  let dims: number[] | undefined;
  let count = 0;
  let seen = 0;
  await streamContent(file, (chunk) => {
    let data = chunk;
    if (!dims) {
      head = Buffer.concat([head, chunk]);
      if (head.length < header) return true;
      parseIdx(new Uint8Array(head.buffer, head.byteOffset, header), file, ndims, { headerOnly: true });
      dims = Array.from({ length: ndims }, (_, i) => head.readUInt32BE(4 + 4 * i));
      count = dims.reduce((a, b) => a * b, 1);
      data = head.subarray(header);
    }
    if (isLabels(role)) {
      for (let i = 0; i < data.length; i++) {
        if (data[i]! >= classes) throw corrupt(file, `label ${data[i]} at ${seen + i} is not in 0..${classes - 1}`);
      }
    }
    seen += data.length;
    return true;
  });
  if (!dims) {
    if (head.length >= 4) parseIdx(new Uint8Array(head), file, ndims); // a wrong magic number says so
    throw corrupt(file, `truncated IDX header (${head.length} of ${header} bytes)`);
  }
  if (seen < count) throw corrupt(file, `truncated: dimensions ${dims.join(' x ')} need ${count} data bytes, found ${seen}`);
  if (seen > count) throw corrupt(file, `${seen - count} unexpected bytes after the ${dims.join(' x ')} data`);
  const partnerRole = PARTNER[role];
  const partner = idxFileOf(dirname(file), partnerRole);
  if (!partner) return;
  const other = await idxHeaderDims(partner, isLabels(partnerRole) ? 1 : 3);
  if (other && other[0] !== dims[0]) {
    if (isLabels(role)) throw countMismatch(file, dims[0]!, partner, other[0]!);
    throw countMismatch(partner, other[0]!, file, dims[0]!);
  }
}
