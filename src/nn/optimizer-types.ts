/**
 * The optimizers the trainer implements: the one list, imported by the trainer (./optim.ts), its
 * fused update kernels (./kernels) and the stages' params (src/lth). A module of its own, without
 * imports, so that the kernels' generators can import it without importing the trainer.
 */
export const OPTIMIZER_TYPES = ['sgd', 'momentum', 'nesterov', 'adam'] as const;
export type OptimizerType = (typeof OPTIMIZER_TYPES)[number];
