/**
 * Stage ids that the LTH helpers and pipelines give the stages they add, which the built-in
 * reports (src/report/) find the stages by: a renamed id fails to compile there. A module without
 * imports, so that reports load it without the stages' code.
 */

/** Ids of the retrain stages that `imp` (./imp.ts) makes per level under `[scope/]L<level>/`. */
export const IMP_IDS = { ticket: 'retrain', reinit: 'retrain-reinit', random: 'retrain-random' } as const;

/** Ids of the early-bird stages (pipelines/early-bird.ts): the tracking run, and per level the ticket and its retraining. */
export const EARLY_BIRD_IDS = { track: 'early-bird-track', ticket: 'ticket', retrain: 'retrain' } as const;

/** Stage ids that `transferTickets` (./transfer.ts) makes under `<scope>/L<level>/`. */
export const TRANSFER_IDS = {
  /** The source ticket retrained under the target's configuration. */
  ticket: 'retrain-transferred',
  /** The transferred mask on a fresh initialisation: its start and its retraining. */
  reinitStart: 'reinit-transferred',
  reinit: 'retrain-transferred-reinit',
} as const;

/**
 * Scopes and ids of pipelines/grokking-tickets.ts: per variant a scope (the tickets by the phase of
 * the dense run they were pruned at, and the controls) holding its `retrain`.
 */
export const GROKKING_IDS = {
  retrain: 'retrain',
  tickets: { generalization: 'ticket', transition: 'ticket-transition', memorization: 'ticket-memorization' },
  controls: { random: 'random', snip: 'snip', synflow: 'synflow', normL1: 'dense-norm-l1', normL2: 'dense-norm-l2' },
} as const;

/** Ids of pipelines/elastic-tickets.ts: per ordered pair of depths a scope `<source>-to-<target>`, per level its transform and retraining. */
export const ELASTIC_IDS = {
  pair: (source: string, target: string): string => `${source}-to-${target}`,
  transform: 'change-depth',
  retrain: 'retrain',
} as const;
