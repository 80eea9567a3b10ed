export { defineStage, lookupStage, outputsOf, METRICS_OUTPUT } from './stage.js';
export type { StageDefinition, StageSpec, StageContext, StageProgress, StageResources, Isolation, Metrics, JsonValue } from './stage.js';
export { definePipeline, isPipelineDefinition, GraphBuilder } from './pipeline.js';
export type { PipelineDefinition, PipelineBuilder, PipelineSpec, StageHandle, StageNode, ArtifactRef, InputBinding, StageOptions } from './pipeline.js';
export { loadPipeline, buildPipeline, importPipeline, checkGraph, refsOf, parseSetArgs, type LoadedPipeline } from './load.js';
export { planPipeline, type PipelinePlan, type StagePlan, type StageState } from './plan.js';
export { runPipeline, matchesForce, type RunOptions, type RunReporter, type RunSummary, type StageOutcome } from './scheduler.js';
export { Fingerprinter } from './fingerprint.js';
export { stageKey, CACHE_FORMAT_VERSION } from './key.js';
export { canonicalJson } from './canonical.js';
export { validateParams, parseSetValue } from './params.js';
// The queue (BullMQ, ioredis) is imported from './queue.js' by the commands that use it, so that
// loading a pipeline - in every stage's process too - does not load a Redis client.
export type { Dispatcher, QueueJob, WorkerOptions } from './queue.js';
export { computeStage, type ComputeSpec, type BoundInput } from './compute.js';
export { typecheckPipeline } from './typecheck.js';
