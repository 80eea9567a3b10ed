// Entry point of a stage's child process: the compiled engine's worker (see bin/compiled.js).
import { engineModule } from './compiled.js';

await import(await engineModule('engine/runner/worker'));
