/**
 * The stage key: what a result was made from. Same key, same result; so a key found in the run
 * cache is restored instead of computed.
 *
 *   key = sha256(canonical JSON { format, stage, code, params (defaults left out), inputs })
 */
import { digestOfSync } from '../../store/index.js';
import { canonicalJson } from '../definition/canonical.js';

/** Bump when the meaning of stored results changes: every key changes with it. */
export const CACHE_FORMAT_VERSION = 1;

import type { InputDigests } from '../protocol.js';

export type { InputDigests };

export function stageKey(parts: { stage: string; code: string; params: Record<string, unknown>; inputs: InputDigests }): string {
  return digestOfSync(canonicalJson({ format: CACHE_FORMAT_VERSION, ...parts }));
}
