/**
 * IDX files (the MNIST format): a 4-byte magic number `0x00 0x00 <type> <ndims>`, `ndims`
 * big-endian uint32 dimensions, then the data. Only unsigned bytes (type 0x08) are used here:
 * 0x00000801 is a vector of labels, 0x00000803 a stack of images.
 */
import { gunzipSync } from 'node:zlib';
import { readFile } from 'node:fs/promises';
import { PipelineError } from '../../errors.js';

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
 * `expectedNdims` and that the byte count matches the dimensions exactly.
 * @throws PipelineError DATASET_CORRUPT naming `file`.
 */
export function parseIdx(bytes: Uint8Array, file: string, expectedNdims: number): IdxArray {
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
