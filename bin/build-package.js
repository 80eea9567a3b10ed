// `npm run build` (the package's prepack): the compiled engine tree that the package ships,
// `dist/` (see ./compiled.js); tsc then writes the .d.ts types beside its modules (tsconfig.build.json).
import { fileURLToPath } from 'node:url';
import { buildShippedTree } from './compiled.js';

await buildShippedTree(fileURLToPath(new URL('..', import.meta.url)));
