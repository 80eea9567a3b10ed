/**
 * Our weights in PyTorch's conventions, so that `load_state_dict(strict=True)` of the matching
 * `torch.nn` module accepts them:
 * - `<layer>.kernel` -> `<layer>.weight`: dense [in, out] -> (out, in); conv [kh, kw, in, out] ->
 *   (out, in, kh, kw). A dense layer fed by a flattened NHWC activation also has its input rows
 *   reordered from (h, w, c) to PyTorch's (c, h, w) flattening. An embedding table [vocab, dim]
 *   is `nn.Embedding.weight` as it is. An attention's `<attn>.in_proj.kernel` [d, 3d] is
 *   `nn.MultiheadAttention`'s `<attn>.in_proj_weight` (3d, d).
 * - batch norm `<bn>.gamma`/`.beta` -> `.weight`/`.bias`; `running_mean`/`running_var` keep their
 *   names, and `<bn>.num_batches_tracked` (int64, a buffer of every `BatchNorm2d`) is added.
 * - with a mask, pruned weights are written as `torch.nn.utils.prune` keeps them: `<layer>.weight_orig`
 *   and the 0/1 buffer `<layer>.weight_mask` (the module's `weight` is their product), so a module on
 *   which `prune.custom_from_mask`/`prune.identity` was called loads it as is.
 * Our layer names already follow PyTorch's module paths (`layer1.0.conv1`, `fc1`).
 */
import { PipelineError } from '../errors.js';
import { decodeCheckpoint, decodeMask, decodeSafetensors, encodeSafetensors, type SafeTensor } from './safetensors.js';
import type { WeightMap } from './tensormap.js';
import { createModel } from './models/registry.js';

export interface TorchExportOptions {
  /** 0/1 masks of the prunable kernels, by our weight name (`fc1.kernel`). */
  mask?: Record<string, { shape: number[]; data: Uint8Array }>;
  /** Dense layers whose input is a flattened NHWC activation, with its [h, w, c] (`fc1` -> [8, 8, 64]). */
  flattenedInputs?: Record<string, readonly [number, number, number]>;
  /** Layers whose kernel is an embedding table (`embed`): written untransposed, as `nn.Embedding.weight`. */
  embeddings?: readonly string[];
  /** Value of every batch norm's num_batches_tracked (the training iterations behind the running statistics). */
  batchesTracked?: number;
}

const ROLE = /^(.*)\.(kernel|bias|gamma|beta|running_mean|running_var)$/;

export function toTorchStateDict(weights: WeightMap, opts: TorchExportOptions = {}): Record<string, SafeTensor> {
  const out: Record<string, SafeTensor> = {};
  const f32 = (shape: number[], data: Float32Array): SafeTensor => ({ dtype: 'F32', shape, data });
  for (const [name, t] of Object.entries(weights)) {
    const m = ROLE.exec(name);
    if (!m) throw new PipelineError('USAGE', `weight '${name}' has no role suffix (.kernel, .bias, .gamma, ...): not one of our model checkpoints`);
    const [, layer, role] = m as unknown as [string, string, string];
    switch (role) {
      case 'kernel': {
        const w = kernelToTorch(name, t.shape, t.data, layoutOfLayer(opts, layer));
        const mask = opts.mask?.[name];
        const param = torchWeightName(layer);
        if (mask) {
          out[`${param}_orig`] = w;
          out[`${param}_mask`] = kernelToTorch(name, mask.shape, Float32Array.from(mask.data), layoutOfLayer(opts, layer));
        } else out[param] = w;
        break;
      }
      case 'gamma':
        out[`${layer}.weight`] = f32(t.shape, t.data);
        break;
      case 'beta':
        out[`${layer}.bias`] = f32(t.shape, t.data);
        break;
      case 'running_mean':
        out[name] = f32(t.shape, t.data);
        out[`${layer}.num_batches_tracked`] = { dtype: 'I64', shape: [], data: BigInt64Array.of(BigInt(opts.batchesTracked ?? 0)) };
        break;
      default: // bias, running_var
        out[name] = f32(t.shape, t.data);
    }
  }
  for (const name of Object.keys(opts.mask ?? {})) {
    if (!(name in weights)) throw new PipelineError('USAGE', `the mask has '${name}', which the checkpoint does not: they belong to different models`);
  }
  return out;
}

/** The PyTorch name of a layer's kernel: `<layer>.weight`, or `nn.MultiheadAttention`'s `in_proj_weight` for `<attn>.in_proj`. */
function torchWeightName(layer: string): string {
  return layer.endsWith('.in_proj') ? `${layer.slice(0, -'.in_proj'.length)}.in_proj_weight` : `${layer}.weight`;
}

/** How one layer's kernel is laid out in PyTorch: an embedding table, a dense kernel on a flattened [h, w, c] activation, or the default of its rank. */
type KernelLayout = 'embedding' | readonly [number, number, number] | undefined;

function layoutOfLayer(opts: Pick<TorchExportOptions, 'flattenedInputs' | 'embeddings'>, layer: string): KernelLayout {
  return opts.embeddings?.includes(layer) ? 'embedding' : opts.flattenedInputs?.[layer];
}

function kernelToTorch(name: string, shape: number[], data: Float32Array, layout: KernelLayout): SafeTensor {
  if (layout === 'embedding') return { dtype: 'F32', shape: [...shape], data };
  const hwc = layout;
  const t = shape.length === 2 ? denseToTorch(shape, data, hwc) : shape.length === 4 ? convToTorch(shape, data) : undefined;
  if (!t) throw new PipelineError('USAGE', `kernel '${name}' has rank ${shape.length}: only dense (2) and conv (4) kernels have a PyTorch layout`);
  return { dtype: 'F32', ...t };
}

/** [in, out] -> (out, in); with a flattened NHWC input, rows (h, w, c) -> (c, h, w). */
function denseToTorch(shape: number[], data: Float32Array, hwc: readonly [number, number, number] | undefined): { shape: number[]; data: Float32Array } {
  const [nIn, nOut] = shape as [number, number];
  if (hwc && hwc[0] * hwc[1] * hwc[2] !== nIn) {
    throw new PipelineError('INTERNAL', `dense kernel with ${nIn} inputs is fed by a [${hwc}] activation`);
  }
  const row = (i: number): number => {
    if (!hwc) return i;
    const [h, w, c] = hwc;
    const ih = Math.floor(i / (w * c));
    const iw = Math.floor(i / c) % w;
    const ic = i % c;
    return (ic * h + ih) * w + iw;
  };
  const out = new Float32Array(data.length);
  for (let i = 0; i < nIn; i++) {
    const r = row(i);
    for (let o = 0; o < nOut; o++) out[o * nIn + r] = data[i * nOut + o]!;
  }
  return { shape: [nOut, nIn], data: out };
}

/** [kh, kw, in, out] -> (out, in, kh, kw). */
function convToTorch(shape: number[], data: Float32Array): { shape: number[]; data: Float32Array } {
  const [kh, kw, ci, co] = shape as [number, number, number, number];
  const out = new Float32Array(data.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < ci; i++)
        for (let o = 0; o < co; o++) out[((o * ci + i) * kh + y) * kw + x] = data[((y * kw + x) * ci + i) * co + o]!;
  return { shape: [co, ci, kh, kw], data: out };
}

/**
 * One of our safetensors files (a checkpoint, or a mask) as a PyTorch state dict in safetensors;
 * `maskBytes`: the mask the checkpoint's weights were trained under, written beside them.
 */
export function toTorchFile(bytes: Uint8Array, where: string, maskBytes?: Uint8Array): Uint8Array {
  const file = decodeSafetensors(bytes, where);
  const format = file.metadata.format;
  const layout = layoutOf(file.metadata.model, where);
  if (format === 'lth-mask/1') {
    const { mask } = decodeMask(bytes, where);
    const tensors: Record<string, SafeTensor> = {};
    for (const [name, m] of Object.entries(mask)) {
      const [, layer = name, role] = ROLE.exec(name) ?? [];
      // A channel mask (src/lth/channel-masks.ts) also holds batch-norm scales and shifts: BatchNorm's weight and bias.
      if (role === 'gamma' || role === 'beta') tensors[`${layer}.${role === 'gamma' ? 'weight' : 'bias'}_mask`] = { dtype: 'F32', shape: [...m.shape], data: Float32Array.from(m.data) };
      else tensors[`${torchWeightName(layer)}_mask`] = kernelToTorch(name, m.shape, Float32Array.from(m.data), layoutOfLayer(layout, layer));
    }
    return encodeSafetensors(tensors, { format: 'pt', source: 'lth-pipeline mask', ...pick(file.metadata, ['model']) });
  }
  if (format !== 'lth-checkpoint/1') {
    throw new PipelineError('USAGE', `${where} is not a checkpoint or a mask (format ${format ?? 'none'}): --format torch applies to those`, { hint: 'copy it as it is (without --format)' });
  }
  const ck = decodeCheckpoint(bytes, where);
  const mask = maskBytes ? decodeMask(maskBytes, `${where} (its mask)`).mask : undefined;
  const tensors = toTorchStateDict(ck.weights, { ...layout, ...(mask ? { mask } : {}), batchesTracked: ck.iteration });
  return encodeSafetensors(tensors, { format: 'pt', source: 'lth-pipeline checkpoint', iteration: String(ck.iteration), ...pick(ck.metadata, ['model', 'dataset']) });
}

/** The flattened inputs and embeddings of the checkpoint's model (its definition must be known to this process). */
function layoutOf(model: string | undefined, where: string): Pick<TorchExportOptions, 'flattenedInputs' | 'embeddings'> {
  if (model === undefined) throw new PipelineError('USAGE', `${where} does not say which model it belongs to`, { hint: 'only checkpoints and masks written by this project\'s stages can be exported' });
  const m = createModel(model);
  return { flattenedInputs: m.flattenedInputs, embeddings: m.embeddings };
}

function pick(meta: Record<string, string>, keys: string[]): Record<string, string> {
  return Object.fromEntries(keys.filter((k) => meta[k] !== undefined).map((k) => [k, meta[k]!]));
}
