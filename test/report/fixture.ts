/**
 * A tiny pipeline whose stages emit known metrics, with a `report` export: three replicates
 * (a sweep over seeds) of a "train" stage at three densities, and a "probe" stage writing a path.
 *
 *   testAccuracy = 0.9 + 0.01 * seed - 0.1 * (1 - density)     (seeds 0, 1, 2)
 *   earlyStop    = 100 * (seed + 1) + round(1000 * (1 - density))
 *   stable       = seed !== 2
 *   curve        = [{iteration: 0, valAccuracy: 0.1 * (seed + 1)}, {iteration: 100, valAccuracy: 0.5 + 0.1 * seed}]
 */
import { join } from 'node:path';
import { API, REPO } from '../helpers/project.js';

export const REPORT_API = join(REPO, 'src', 'report', 'index.ts');

export function fixturePipeline(): string {
  return `import { defineStage, definePipeline, z } from ${JSON.stringify(API)};
import { defineReport, metric, series, groupBy } from ${JSON.stringify(REPORT_API)};

const train = defineStage({
  name: 'train',
  params: z.object({ density: z.number(), seed: z.number().int() }),
  outputs: ['curve'],
  isolation: 'inline',
  async run(ctx) {
    const { density, seed } = ctx.params;
    await ctx.writeJson('curve', [{ iteration: 0, valAccuracy: 0.1 * (seed + 1) }, { iteration: 100, valAccuracy: 0.5 + 0.1 * seed }]);
    return { testAccuracy: 0.9 + 0.01 * seed - 0.1 * (1 - density), earlyStop: 100 * (seed + 1) + Math.round(1000 * (1 - density)), stable: seed !== 2, density };
  },
});

export default definePipeline({ name: 'fixture', params: { seeds: [0, 1, 2], densities: [1, 0.5, 0.25] } }, (p, cfg) => {
  p.sweep({ seed: cfg.seeds }, ({ seed }) => {
    for (const d of cfg.densities) p.stage(train, { density: d, seed }, { id: 'd' + d * 100 });
  });
});

export const report = defineReport((pl) => {
  const byDensity = groupBy(pl.find('train'), (s) => s.params.density as number);
  return {
    tables: [
      {
        name: 'accuracy',
        title: 'Accuracy by density',
        columns: [
          { key: 'remaining', label: 'Weights remaining %', format: 'percent:1' },
          { key: 'acc', label: 'Test acc. %', format: 'percent:2' },
          { key: 'es', label: 'Early stop', format: 'int' },
          { key: 'stable', label: 'Stable', format: 'yesno' },
        ],
        rows: byDensity.map(([d, list]) => ({ remaining: d, acc: metric(list, 'testAccuracy'), es: metric(list, 'earlyStop'), stable: metric(list, 'stable') })),
        caption: 'Densities as given to the stage.',
        replicateNote: 'Mean [min, max] over the seeds.',
      },
      {
        name: 'seed0',
        columns: [
          { key: 'id', label: 'Stage', format: 'text' },
          { key: 'acc', label: 'Test acc.', format: 'fixed:3' },
        ],
        rows: pl.find('train', (s) => s.params.seed === 0).map((s) => ({ id: s.id, acc: metric(s, 'testAccuracy') })),
      },
    ],
    plots: [
      {
        name: 'accuracy',
        title: 'Accuracy vs weights remaining',
        x: { title: 'Percent of weights remaining', log: true, reverse: true, format: '~%' },
        y: { title: 'Test accuracy', format: '.0%' },
        legend: 'Method',
        series: [
          { name: 'ticket', points: byDensity.map(([d, list]) => ({ x: d, y: metric(list, 'testAccuracy') })) },
          { name: 'early stop / 1e4', points: byDensity.map(([d, list]) => ({ x: d, y: metric(list, 'density') })) },
        ],
      },
      {
        name: 'curves',
        x: { title: 'Iteration' },
        y: { title: 'Validation accuracy' },
        series: byDensity.map(([d, list]) => ({ name: 'density ' + d, curve: series(list, 'curve', { x: 'iteration', y: 'valAccuracy' }) })),
      },
    ],
  };
});
`;
}
