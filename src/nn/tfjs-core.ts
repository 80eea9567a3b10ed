/**
 * tfjs-core, loaded on first use. Planning a pipeline imports src/nn for its vocabularies and
 * model registry, but never computes: loading tfjs-core (a 1.5 MB CommonJS bundle that Node's ESM
 * loader also scans for its exports) was ~150 ms of every `status` and `run` start. `require`
 * gives the same instance the backends' own `require`s get.
 */
import { createRequire } from 'node:module';
import type * as TfCore from '@tensorflow/tfjs-core';

export type Core = typeof TfCore;

let loaded: Core | undefined;

export function core(): Core {
  if (!loaded) {
    loaded = createRequire(import.meta.url)('@tensorflow/tfjs-core') as Core;
    // Silences tfjs' console notices ("install our node backend"); numerics are unaffected.
    loaded.env().set('PROD', true);
  }
  return loaded;
}
