#!/usr/bin/env node
// The `pipeline` command. Pipelines and the project itself are TypeScript run from source: tsx
// registers its loader here, so there is no build step for the user.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
