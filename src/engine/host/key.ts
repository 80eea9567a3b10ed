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
  const { stage, code, params, inputs } = parts;
  // canonicalJson({ format, ...parts }) written member by member, in its sorted order, so that
  // each part can take canonicalJson's fast path (the object around them is not in sorted order);
  // an undefined part (left out there) goes the long way. Same bytes (test/engine/canonical.test.ts).
  if (stage === undefined || code === undefined || params === undefined || inputs === undefined) {
    return digestOfSync(canonicalJson({ format: CACHE_FORMAT_VERSION, ...parts }));
  }
  return digestOfSync(
    `{"code":${canonicalJson(code)},"format":${CACHE_FORMAT_VERSION},"inputs":${canonicalJson(inputs)},"params":${canonicalJson(params)},"stage":${canonicalJson(stage)}}`,
  );
}
