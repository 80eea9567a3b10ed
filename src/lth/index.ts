/**
 * The lottery-ticket layer: stages (train-dense, replay-dense, prune, rewind, retrain,
 * evaluate-stability, mask-stats, imp-summary, edge-popup), the pipeline helpers (`trainDenseRun`,
 * `weightsAt`, `imp`, dataset files) and the plain-data science underneath (pruning, SNIP,
 * SynFlow, linear-path instability); a project's own networks and datasets (`defineModel`,
 * `defineDataset`, written with the layer builders `layers`).
 */
export { defineModel, defineDataset, type DatasetDefinition } from './define.js';
export { layers, MODEL_NAMES, MODEL_FAMILIES, type ModelDefinition, type Layer, type LayerBuilders, type BuildOptions } from '../nn/models/index.js';
export { trainDense, trainDenseParams, checkpointIterations, checkpointName, DEFAULT_REWIND_CANDIDATES } from './train-dense.js';
export { replayDense } from './replay.js';
export { prune, pruneParams, amountOf } from './prune.js';
export { rewind } from './rewind.js';
export { retrain } from './retrain.js';
export { evaluateStability } from './evaluate-stability.js';
export { maskStatsStage, maskStats, type MaskLevelStats } from './mask-stats.js';
export { impSummary } from './summary.js';
export { edgePopup, edgePopupParams } from './edge-popup.js';
export { supermaskWeights, initialScores, topKMask, binaryScale, effectiveWeights, searchSupermask, SUPERMASK_INITS, type SupermaskInit } from './supermask.js';
export { earlyBirdTrack, earlyBirdTicket, earlyBirdTrackParams, earlyBirdTicketParams, EarlyBirdTracker, earlyBirdIndex, earlyBirdMask, maskDistance, maskRule, queueMaxima, resolveTracking, EARLY_BIRD_IDS, EB_BN_L1, EB_EPSILON, EB_WINDOW, type EarlyBirdRecord, type DistancePoint, type MaskRule } from './early-bird.js';
export * from './channel-masks.js';
export { transferTickets, TRANSFER_IDS, type TransferOptions, type TransferLevel } from './transfer.js';
export { imp, trainDenseRun, weightsAt, trainConfigOf, type DenseRun, type DenseConfig, type ImpOptions, type ImpResult, type ImpLevel, type PruneOptions } from './imp.js';
export { findDatasetFiles, datasetInputs, sharedDataDir, type DatasetName } from './data.js';
export { trainConfigSchema, trainConfigShape, dataOptionsSchema, modelNameSchema, datasetNameSchema, durationSchema, loadData, trainOptionsOf, readCheckpoint, writeCheckpoint, readMask, writeMask, type TrainConfig, type TrainConfigInput } from './config.js';
export * from './masks.js';
export { snipScores, synflowScores, snipPrune, synflowPrune } from './saliency.js';
export { phewMask, phewPrune, phewChain, edgeWeights, transitionProbabilities, type PhewLayer, type PhewResult } from './phew.js';
export { shuffleMask, shuffleMaskStage, shuffleMaskParams } from './mask-variants.js';
export { interpolate, interpolationPoints, instability, linearPath, l2Distance, type PathResult } from './stability.js';
export { grokkingMetrics, firstReaching, DEFAULT_GROK_THRESHOLD, type GrokkingMetrics } from './grokking.js';
export { grokkingPhase, normMatched, phaseIteration, weightNorm, GROKKING_PHASES, type GrokkingPhase } from './grokking-tickets.js';
export { GROKKING_IDS } from './stage-ids.js';
export { blockMapping, changeDepth, mappingString, resnetLayout, type ResnetLayout } from './elastic.js';
export { changeDepthStage } from './change-depth.js';
