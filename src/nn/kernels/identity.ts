/**
 * Identity, and Cast to the same dtype, for 'wasm': the output shares the input's memory
 * (tensors are immutable, and the backend counts references to it) where upstream copies it.
 */
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { kernel, wasmBackend } from './wasm-backend.js';

/** Identity and same-dtype Cast share the input's memory (tensors are immutable) instead of copying it. */
export const identity: KernelFunc = ({ inputs, backend }) => {
  const { x } = inputs as { x: TensorInfo };
  wasmBackend(backend).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
};

export const cast: KernelFunc = (args) => {
  const { x } = args.inputs as { x: TensorInfo };
  if ((args.attrs as { dtype: string }).dtype !== x.dtype) return kernel('Cast')(args);
  return identity(args);
};
