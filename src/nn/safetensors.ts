/**
 * safetensors (https://github.com/huggingface/safetensors) reader and writer, hand-written: there
 * is no well-maintained JavaScript writer, and the format is small.
 *
 * Layout: 8-byte little-endian unsigned header length N; N bytes of JSON header
 * `{"<name>": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
 *   "__metadata__": {"key": "string value"}}`, padded with spaces to a multiple of 8 bytes; then the
 * tensor bytes (little-endian, C order), offsets relative to the end of the header.
 *
 * Determinism: tensors are written sorted by name (header and data in the same order), metadata
 * keys sorted, no whitespace in the JSON, so equal inputs give equal bytes.
 *
 * Also the project's checkpoint and mask files on top of it (`encodeCheckpoint`, `encodeMask`).
 */
import { PipelineError } from '../errors.js';
import type { Checkpoint, CurvePoint } from './train.js';
import { sizeOf, type MaskMap, type TensorMap, type WeightMap } from './tensormap.js';

export type SafeDtype = 'F32' | 'U8' | 'BOOL' | 'I64';

export interface SafeTensor {
  dtype: SafeDtype;
  shape: number[];
  /** BigInt64Array for I64 (PyTorch's counters, such as batch norm's num_batches_tracked). */
  data: Float32Array | Uint8Array | BigInt64Array;
}

export interface SafeFile {
  tensors: Record<string, SafeTensor>;
  metadata: Record<string, string>;
}

const BYTES: Record<SafeDtype, number> = { F32: 4, U8: 1, BOOL: 1, I64: 8 };
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function bad(msg: string, where = 'safetensors'): PipelineError {
  return new PipelineError('STORE_CORRUPT', msg, { where });
}

/** Serialise tensors and string metadata to safetensors bytes. */
export function encodeSafetensors(tensors: Record<string, SafeTensor>, metadata: Record<string, string> = {}): Uint8Array {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  const meta: Record<string, string> = {};
  for (const k of Object.keys(metadata).sort()) {
    if (typeof metadata[k] !== 'string') throw new PipelineError('INTERNAL', `safetensors metadata '${k}' must be a string`);
    meta[k] = metadata[k]!;
  }
  if (Object.keys(meta).length > 0) header.__metadata__ = meta;
  let offset = 0;
  for (const name of names) {
    if (name === '__metadata__') throw new PipelineError('INTERNAL', 'a tensor cannot be named __metadata__');
    const t = tensors[name]!;
    const n = sizeOf(t.shape);
    if (t.data.length !== n) throw new PipelineError('INTERNAL', `tensor '${name}': ${t.data.length} values for shape [${t.shape}]`);
    if ((t.dtype === 'F32') !== t.data instanceof Float32Array || (t.dtype === 'I64') !== t.data instanceof BigInt64Array) {
      throw new PipelineError('INTERNAL', `tensor '${name}': dtype ${t.dtype} does not match its data`);
    }
    const len = n * BYTES[t.dtype];
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + len] };
    offset += len;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const out = new Uint8Array(8 + json.length + offset);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let pos = 8 + json.length;
  for (const name of names) {
    const t = tensors[name]!;
    if (t.data instanceof Float32Array) {
      if (LITTLE_ENDIAN) out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos);
      else for (let i = 0; i < t.data.length; i++) dv.setFloat32(pos + 4 * i, t.data[i]!, true);
    } else if (t.data instanceof BigInt64Array) {
      for (let i = 0; i < t.data.length; i++) dv.setBigInt64(pos + 8 * i, t.data[i]!, true);
    } else {
      if (t.dtype === 'BOOL') for (let i = 0; i < t.data.length; i++) out[pos + i] = t.data[i] ? 1 : 0;
      else out.set(t.data, pos);
    }
    pos += t.data.byteLength;
  }
  return out;
}

/** Parse safetensors bytes (F32, U8, BOOL and I64 tensors; others are rejected). */
export function decodeSafetensors(bytes: Uint8Array, where = 'safetensors'): SafeFile {
  if (bytes.length < 8) throw bad('file shorter than its 8-byte header length', where);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  if (n > bytes.length - 8) throw bad(`header length ${n} exceeds the file`, where);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8')) as Record<string, unknown>;
  } catch (e) {
    throw bad(`header is not JSON: ${(e as Error).message}`, where);
  }
  const base = 8 + n;
  const tensors: Record<string, SafeTensor> = {};
  let metadata: Record<string, string> = {};
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = v as Record<string, string>;
      continue;
    }
    const e = v as { dtype: string; shape: number[]; data_offsets: [number, number] };
    if (!(e.dtype in BYTES)) throw bad(`tensor '${name}' has unsupported dtype ${e.dtype}`, where);
    const dtype = e.dtype as SafeDtype;
    const [b, en] = e.data_offsets;
    const count = sizeOf(e.shape);
    if (en - b !== count * BYTES[dtype] || base + en > bytes.length || b < 0) {
      throw bad(`tensor '${name}' has inconsistent offsets [${b}, ${en}]`, where);
    }
    // A copy of its own (offset 0): `bytes` may be a Node Buffer, whose slice() is a view.
    const slice = new Uint8Array(bytes.subarray(base + b, base + en));
    let data: Float32Array | Uint8Array | BigInt64Array;
    const sdv = new DataView(slice.buffer);
    if (dtype === 'F32') {
      data = new Float32Array(count);
      for (let i = 0; i < count; i++) data[i] = sdv.getFloat32(4 * i, true);
    } else if (dtype === 'I64') {
      data = new BigInt64Array(count);
      for (let i = 0; i < count; i++) data[i] = sdv.getBigInt64(8 * i, true);
    } else data = slice;
    tensors[name] = { dtype, shape: [...e.shape], data };
  }
  return { tensors, metadata };
}

const CHECKPOINT_FORMAT = 'lth-checkpoint/1';
const MASK_FORMAT = 'lth-mask/1';
const OPT_PREFIX = 'optimizer/';

/**
 * A checkpoint as safetensors: weights under their own names (F32), optimizer state under
 * `optimizer/<state name>`, metadata `format`, `iteration`, `curve` (JSON) and whatever the
 * caller adds (model, seeds, backend, ...: strings).
 */
export function encodeCheckpoint(ck: Checkpoint, metadata: Record<string, string> = {}): Uint8Array {
  const tensors: Record<string, SafeTensor> = {};
  for (const [k, v] of Object.entries(ck.weights)) tensors[k] = { dtype: 'F32', shape: v.shape, data: v.data };
  for (const [k, v] of Object.entries(ck.optimizer)) tensors[OPT_PREFIX + k] = { dtype: 'F32', shape: v.shape, data: v.data };
  return encodeSafetensors(tensors, {
    ...metadata,
    format: CHECKPOINT_FORMAT,
    iteration: String(ck.iteration),
    curve: JSON.stringify(ck.curve.map((c) => [c.iteration, c.trainLoss, c.valLoss, c.valAccuracy, ...(c.trainAccuracy !== undefined ? [c.trainEvalLoss, c.trainAccuracy] : [])])),
    pending_loss: JSON.stringify(ck.pendingLoss),
  });
}

export function decodeCheckpoint(bytes: Uint8Array, where = 'checkpoint'): Checkpoint & { metadata: Record<string, string> } {
  const f = decodeSafetensors(bytes, where);
  if (f.metadata.format !== CHECKPOINT_FORMAT) throw bad(`not an ${CHECKPOINT_FORMAT} file (format ${f.metadata.format})`, where);
  const weights: WeightMap = {};
  const optimizer: WeightMap = {};
  for (const [k, v] of Object.entries(f.tensors)) {
    if (!(v.data instanceof Float32Array)) throw bad(`tensor '${k}' is not F32`, where);
    if (k.startsWith(OPT_PREFIX)) optimizer[k.slice(OPT_PREFIX.length)] = { shape: v.shape, data: v.data };
    else weights[k] = { shape: v.shape, data: v.data };
  }
  // JSON has no NaN: the first point's train loss is null.
  const rows = JSON.parse(f.metadata.curve ?? '[]') as Array<[number, number | null, number, number, number?, number?]>;
  const curve: CurvePoint[] = rows.map(([iteration, trainLoss, valLoss, valAccuracy, trainEvalLoss, trainAccuracy]) => ({
    iteration,
    trainLoss: trainLoss ?? NaN,
    valLoss,
    valAccuracy,
    ...(trainAccuracy !== undefined ? { trainEvalLoss: trainEvalLoss!, trainAccuracy } : {}),
  }));
  const pendingLoss = JSON.parse(f.metadata.pending_loss ?? '[0,0]') as [number, number];
  return { iteration: Number(f.metadata.iteration), weights, optimizer, curve, pendingLoss, metadata: f.metadata };
}

/** A mask as safetensors: one U8 (0/1) tensor per prunable weight (or BOOL, if asked). */
export function encodeMask(mask: MaskMap, metadata: Record<string, string> = {}, dtype: 'U8' | 'BOOL' = 'U8'): Uint8Array {
  const tensors: Record<string, SafeTensor> = {};
  for (const [k, v] of Object.entries(mask)) {
    const d = new Uint8Array(v.data.length);
    for (let i = 0; i < d.length; i++) d[i] = v.data[i] !== 0 ? 1 : 0;
    tensors[k] = { dtype, shape: v.shape, data: d };
  }
  return encodeSafetensors(tensors, { ...metadata, format: MASK_FORMAT });
}

export function decodeMask(bytes: Uint8Array, where = 'mask'): { mask: Record<string, { shape: number[]; data: Uint8Array }>; metadata: Record<string, string> } {
  const f = decodeSafetensors(bytes, where);
  const mask: Record<string, { shape: number[]; data: Uint8Array }> = {};
  for (const [k, v] of Object.entries(f.tensors)) {
    if (v.dtype !== 'U8' && v.dtype !== 'BOOL') throw bad(`mask tensor '${k}' is ${v.dtype}, expected U8 or BOOL`, where);
    mask[k] = { shape: v.shape, data: v.data as Uint8Array };
  }
  return { mask, metadata: f.metadata };
}

/** Weights as plain F32 safetensors (any reader can load them). */
export function encodeWeights(w: TensorMap, metadata: Record<string, string> = {}): Uint8Array {
  const tensors: Record<string, SafeTensor> = {};
  for (const [k, v] of Object.entries(w)) {
    tensors[k] = { dtype: 'F32', shape: v.shape, data: v.data instanceof Float32Array ? v.data : Float32Array.from(v.data) };
  }
  return encodeSafetensors(tensors, metadata);
}
