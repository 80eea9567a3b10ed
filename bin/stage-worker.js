// Entry point of a stage's child process: registers the TypeScript loader, then runs the worker.
import { register } from 'tsx/esm/api';

register();
await import('../src/engine/runner/worker.ts');
