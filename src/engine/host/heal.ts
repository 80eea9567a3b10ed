/**
 * A content-addressed cache treats an object that does not hash to its name as missing. Before a
 * stage computes, the objects it will read are re-hashed (as the runner would anyway: an object
 * checked once is not hashed again in the process); a corrupt one is quarantined (as `pipeline
 * verify` does), said once, and the stage that made it is recomputed - its run record is no
 * longer a hit - before the run goes on. An object that is gone (another process quarantined it,
 * or a `gc` ran) is recomputed alike. Recomputing a stage heals its own inputs first.
 */
import type { ObjectCheck, RunRecord, Store } from '../../store/index.js';
import type { StageNode } from '../definition/pipeline.js';
import { refsOf } from './load.js';

export class CacheHealer {
  /** Each object is checked once per run, by whichever stage reads it first. */
  private readonly checks = new Map<string, Promise<ObjectCheck>>();
  /** Each stage is recomputed at most once per run, however many of its outputs were bad. */
  private readonly recomputed = new Map<string, Promise<RunRecord>>();

  constructor(
    private readonly store: Store,
    /** Computes a stage settled earlier in the run again; its record. */
    private readonly recompute: (stageId: string) => Promise<RunRecord>,
    private readonly warn: (stageId: string, message: string) => void,
  ) {}

  /**
   * Checks the objects that `node` reads from upstream stages (`upstream`: stage id -> its
   * record), recomputing the stages whose objects are bad; `upstream` then holds their new
   * records. Whether any was recomputed.
   */
  async healInputs(node: StageNode, upstream: Map<string, RunRecord>): Promise<boolean> {
    let healed = false;
    for (const { ref } of refsOf(node)) {
      if (ref.kind !== 'output') continue;
      const digest = upstream.get(ref.stageId)?.outputs[ref.output]?.digest;
      if (digest === undefined) continue;
      let check = this.checks.get(digest);
      if (!check) this.checks.set(digest, (check = this.store.objects.check(digest)));
      const found = await check;
      if (found.state === 'intact') continue;
      let again = this.recomputed.get(ref.stageId);
      if (!again) {
        const what = found.state === 'missing' ? 'is no longer in the cache' : `is corrupt (its bytes hash to ${found.actual.slice(0, 12)}); it is now in ${this.store.layout.quarantineDir}`;
        this.warn(ref.stageId, `object ${digest.slice(0, 12)} (output '${ref.output}') ${what}; recomputing '${ref.stageId}'`);
        this.recomputed.set(ref.stageId, (again = this.recompute(ref.stageId)));
      }
      upstream.set(ref.stageId, await again);
      healed = true;
    }
    return healed;
  }
}
