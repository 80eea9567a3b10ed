#!/usr/bin/env node
// The `pipeline` command: the engine runs compiled (bin/compiled.js builds it when src/ changed);
// pipelines and the user's other TypeScript are loaded through tsx when first imported.
import { engineModule } from './compiled.js';

await import(await engineModule('cli/main'));
