/**
 * The optimizers the trainer implements: the one list, imported by the trainer (./optim.ts), its
 * fused update kernels (./kernels) and the stages' params (src/lth). A module of its own, without
 * imports, so that the kernels' generators can import it without importing the trainer.
 */
export const OPTIMIZER_TYPES = ['sgd', 'momentum', 'nesterov', 'adam', 'adamw'] as const;
export type OptimizerType = (typeof OPTIMIZER_TYPES)[number];
/**
 * The kinds the native ops know (src/nn/native/ops/lth_ops.cc: LthOptimizerUpdate and
 * LthDenseTrainStep take `kind` as a closed attribute); on the native backend the others run as
 * composed TensorFlow ops (src/nn/optim.ts), which give the same update up to float rounding.
 */
export const NATIVE_OPTIMIZER_TYPES: readonly OptimizerType[] = ['sgd', 'momentum', 'nesterov', 'adam'];
