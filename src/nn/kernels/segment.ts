/**
 * UnsortedSegmentSum for 'wasm', which upstream lacks (4.22.0): the gradient of `gather`, so of a
 * token embedding's table (src/nn/models/token-layers.ts). One pass over the rows in order, each
 * added to its segment's row: the sums keep one order, so results are the same bits on any number
 * of threads (the rows are few: a full batch of modular arithmetic is ~7,500 tokens).
 */
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { wasmBackend } from './wasm-backend.js';

export const unsortedSegmentSum: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, segmentIds } = inputs as { x: TensorInfo; segmentIds: TensorInfo };
  const numSegments = (attrs as { numSegments: number }).numSegments;
  if (x.dtype !== 'float32') throw new Error(`UnsortedSegmentSum on wasm takes float32 values, not ${x.dtype}`);
  const b = wasmBackend(backend);
  const rows = segmentIds.shape.reduce((a, d) => a * d, 1);
  const width = x.shape.slice(segmentIds.shape.length).reduce((a, d) => a * d, 1);
  // Allocate before taking views: an allocation can grow (and detach) the WASM heap.
  const out = b.makeOutput([numSegments, ...x.shape.slice(segmentIds.shape.length)], 'float32');
  const X = b.typedArrayFromHeap(x);
  const ids = b.typedArrayFromHeap(segmentIds) as unknown as Int32Array;
  const O = b.typedArrayFromHeap(out);
  O.fill(0);
  for (let r = 0; r < rows; r++) {
    const s = ids[r]!;
    if (s < 0 || s >= numSegments) continue; // as TensorFlow: ids out of range are dropped
    const dst = s * width;
    const src = r * width;
    for (let j = 0; j < width; j++) O[dst + j] = Math.fround(O[dst + j]! + X[src + j]!);
  }
  return out;
};
