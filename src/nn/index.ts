/**
 * The training engine: backends, models, masked training, optimizers, safetensors.
 * Knows nothing of the DAG engine. Datasets live in ./data (they implement TrainingData).
 */
export { initBackend, backendInfo, tf, type BackendInfo, type BackendPref, type BackendName, type TF } from './backend.js';
export { registerWasmKernels, WASM_KERNEL_NAMES } from './kernels/index.js';
export {
  createModel,
  countParams,
  registerModel,
  modelNameProblem,
  layers,
  MODEL_NAMES,
  MODEL_FAMILIES,
  type Model,
  type ModelName,
  type ModelOptions,
  type ModelDefinition,
  type Layer,
  type LayerBuilders,
  type LayerKind,
  type ParamSpec,
  type ForwardOptions,
  type ForwardResult,
} from './models/index.js';
export { OPTIMIZER_TYPES, validateOptimizer, type OptimizerConfig, type OptimizerType } from './optim.js';
export { parseDuration, parseBudget, fixedIterations, makeSchedule, DURATION_PATTERN, type Duration, type ScheduleConfig, type LrSchedule } from './schedule.js';
export { train, evaluate, type TrainOptions, type TrainResult, type Checkpoint, type CurvePoint, type Progress } from './train.js';
export { syntheticData, trainBatchIndices, type TrainingData, type Split, type Batch, type BatchOptions } from './train-data.js';
export {
  encodeSafetensors,
  decodeSafetensors,
  encodeCheckpoint,
  decodeCheckpoint,
  encodeMask,
  decodeMask,
  encodeWeights,
  type SafeTensor,
  type SafeDtype,
  type SafeFile,
} from './safetensors.js';
export { cloneMap, checkShapes, maskDensity, sizeOf, type TensorMap, type WeightMap, type MaskMap, type PlainTensor } from './tensormap.js';
export { hashInts, Rng, permutation, defaultBatchIndices } from './rng.js';
