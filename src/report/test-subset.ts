/**
 * The note under a table whose test numbers come from stages that evaluate on a subset of the
 * test set (the smoke profiles). A module of its own: every built-in report uses it (those in
 * ./lth-reports.ts and the ones it registers from their own modules).
 */
import type { ReportStage } from './spec.js';
import { datasetTitle } from '../nn/data/registry.js';

/** Whether a stage's numbers are on the test set: evaluate-stability may run on another split (`split: 'validation'`). */
function evaluatesOnTest(s: ReportStage): boolean {
  return typeof s.params.split !== 'string' || s.params.split === 'test';
}

/** The test-set subset size a stage evaluates on (`data.subset.test`, a param of every training stage); undefined: the whole test set. */
function testSubsetOf(s: ReportStage): number | undefined {
  const n = (s.params.data as { subset?: { test?: unknown } } | undefined)?.subset?.test;
  return typeof n === 'number' ? n : undefined;
}

/**
 * A note for tables whose test numbers come from stages that evaluate on a subset of the test set
 * (the smoke profiles): 'Evaluated on a 2,000-image subset of the MNIST test set, not the whole
 * test set.' The size is the stages' own param, so the note follows the profile. Undefined when
 * every stage uses the whole test set.
 */
export function testSubsetNote(stages: readonly ReportStage[]): string | undefined {
  const onTest = stages.filter(evaluatesOnTest);
  const subsets = onTest.filter((s) => testSubsetOf(s) !== undefined);
  if (subsets.length === 0) return undefined;
  const sizes = [...new Set(subsets.map((s) => testSubsetOf(s)!))].sort((a, b) => a - b);
  const datasets = [...new Set(subsets.map((s) => String(s.params.dataset ?? '')))].map((d) => datasetTitle(d));
  const count = (n: number): string => n.toLocaleString('en-US');
  const which = sizes.length === 1 ? `a ${count(sizes[0]!)}-image subset` : `subsets of ${count(sizes[0]!)} to ${count(sizes[sizes.length - 1]!)} images`;
  const of = datasets.length === 1 && datasets[0] ? `the ${datasets[0]} test set` : 'the test set';
  return `${subsets.length < onTest.length ? 'Some runs are evaluated' : 'Evaluated'} on ${which} of ${of}, not the whole test set.`;
}
