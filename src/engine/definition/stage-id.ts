/**
 * The one rule for stage ids, however they are made. An id is `/`-separated segments: the scopes
 * (`p.scope(name)`, a `p.sweep` point's `k:v,...`) and the instance's own `{ id }` (by default the
 * stage name). Ids become folder names of working directories and keys of the lock file, so a
 * segment may not be empty, `.` or `..`, nor hold a `/` (the pattern's first character rules out
 * the first three). Each segment is checked where it is made, so the error names that line.
 */
import { PipelineError } from '../../errors.js';

const ID_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9_.:,=+-]*$/;

/** PIPELINE_INVALID (at `where`) unless `segment` is a valid id segment; `what` names it in the message. */
export function checkIdSegment(segment: unknown, what: 'stage id' | 'scope name', where: () => string | undefined): void {
  if (typeof segment === 'string' && ID_SEGMENT.test(segment)) return;
  throw new PipelineError('PIPELINE_INVALID', `${what} ${JSON.stringify(segment)} may use only letters, digits and _ . : , = + - (starting with a letter or digit; no '/')`, {
    where: where(),
    hint: what === 'scope name' ? 'a p.sweep value becomes part of a scope name (`k:v`): sweep over plain numbers or names' : undefined,
  });
}
