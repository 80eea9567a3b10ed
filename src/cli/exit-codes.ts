/** The one place where errors become exit codes. */
import { isPipelineError } from '../errors.js';

export const EXIT = { ok: 0, failure: 1, usage: 2, interrupted: 130 } as const;

export function exitCodeOf(e: unknown): number {
  if (!isPipelineError(e)) return EXIT.failure;
  if (e.code === 'INTERRUPTED') return EXIT.interrupted;
  return e.isUserError ? EXIT.usage : EXIT.failure;
}
