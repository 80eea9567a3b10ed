export { defineStage, lookupStage, outputsOf, METRICS_OUTPUT } from './definition/stage.js';
export type { StageDefinition, StageSpec, StageContext, StageProgress, StageResources, Isolation, Metrics, JsonValue } from './definition/stage.js';
export { definePipeline, isPipelineDefinition, GraphBuilder } from './definition/pipeline.js';
export { recordNamedCode, namedCodeParam, namedCodeOf, namedCode, type NamedCode } from './definition/named-code.js';
export { formatSite } from './definition/callsite.js';
export { projectRoot, CONFIG_FILE, LOCAL_CONFIG_FILE } from './definition/project.js';
export type { PipelineDefinition, PipelineBuilder, PipelineSpec, StageHandle, StageNode, ArtifactRef, FileCheck, InputBinding, StageOptions } from './definition/pipeline.js';
export { loadPipeline, buildPipeline, importPipeline, checkGraph, refsOf, parseSetArgs, type LoadedPipeline } from './host/load.js';
export { planPipeline, type PipelinePlan, type StagePlan, type StageState } from './host/plan.js';
export { runPipeline, matchesForce, type RunOptions, type RunReporter, type RunSummary, type StageOutcome } from './host/scheduler.js';
export { Fingerprinter } from './host/fingerprint.js';
export { stageKey, CACHE_FORMAT_VERSION } from './host/key.js';
export { canonicalJson } from './definition/canonical.js';
export { validateParams, parseSetValue } from './definition/params.js';
// The queue (BullMQ, ioredis) is imported from './host/queue.js' and './runner/queue-worker.js' by
// the commands that use it, so that loading a pipeline - in every stage's process too - does not
// load a Redis client.
export type { Dispatcher } from './host/queue.js';
export type { WorkerOptions } from './runner/queue-worker.js';
export type { ComputeSpec } from './runner/compute.js';
export type { BoundInput, InputDigests, QueueJob, StageJob, StageTask } from './protocol.js';
export { typecheckPipeline } from './host/typecheck.js';
export { importModule } from './typescript.js';
