/**
 * lth-pipeline's public API for pipeline authors: define stages and pipelines. The engine is
 * generic (any DAG of TypeScript stages); the lottery-ticket stages live in `src/lth`.
 */
export { defineStage, definePipeline, METRICS_OUTPUT } from './engine/index.js';
export type { StageDefinition, StageContext, StageProgress, StageResources, PipelineDefinition, PipelineBuilder, StageHandle, ArtifactRef, Metrics, JsonValue } from './engine/index.js';
export { PipelineError, type PipelineErrorCode } from './errors.js';
export { z } from 'zod';
