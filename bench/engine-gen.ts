/**
 * Generators for the engine benchmark: one sweep DAG written twice, as an lth-pipeline pipeline
 * file and as an equivalent Snakemake workflow.
 *
 *   source(s)                      one per source s               (S stages)
 *   train(s, lr, width)            one per source and grid point  (S x |lr| x |width|)
 *   evaluate(s, lr, width)         chained after train            (S x |lr| x |width|)
 *   aggregate(s)                   fan-in of the source's evals   (S)
 *
 * 1,000 stages: S = 10, 7 x 7 grid. 10,000 stages: S = 50, 9 x 11 grid. Every stage is trivial
 * (read a few bytes, write a few bytes) and writes a distinct value, so no two stage keys
 * coincide and every instance is a real job in both tools.
 */

export interface SweepShape {
  sources: number;
  lrs: number[];
  widths: number[];
}

export const SWEEP_1K: SweepShape = { sources: 10, lrs: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1], widths: [8, 16, 32, 64, 128, 256, 512] };
export const SWEEP_10K: SweepShape = {
  sources: 50,
  lrs: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5],
  widths: [4, 8, 16, 24, 32, 48, 64, 96, 128, 256, 512],
};

export function stageCount(s: SweepShape): number {
  return s.sources * (2 + 2 * s.lrs.length * s.widths.length);
}

/** The pipeline file. `api` is the absolute path of src/index.ts. */
export function sweepPipeline(api: string, shape: SweepShape, name = 'sweep'): string {
  return `import { readFile } from 'node:fs/promises';
import { defineStage, definePipeline, z } from ${JSON.stringify(api)};

const readText = (f: string) => readFile(f, 'utf8');

const source = defineStage({
  name: 'source',
  params: z.object({ seed: z.number().int() }),
  outputs: ['data'],
  isolation: 'inline',
  async run(ctx) {
    await ctx.writeText('data', \`src\${ctx.params.seed}\`);
  },
});

const train = defineStage({
  name: 'train',
  params: z.object({ lr: z.number().positive(), width: z.number().int().positive() }),
  inputs: ['data'],
  outputs: ['model'],
  isolation: 'inline',
  async run(ctx) {
    const data = await readText(ctx.input('data'));
    await ctx.writeText('model', \`\${data}/lr\${ctx.params.lr}_w\${ctx.params.width}\`);
  },
});

const evaluate = defineStage({
  name: 'evaluate',
  inputs: ['model'],
  outputs: ['score'],
  isolation: 'inline',
  async run(ctx) {
    const model = await readText(ctx.input('model'));
    await ctx.writeText('score', \`eval(\${model})\`);
    return { length: model.length };
  },
});

const aggregate = defineStage({
  name: 'aggregate',
  inputs: ['scores'],
  outputs: ['summary'],
  isolation: 'inline',
  async run(ctx) {
    const lines: string[] = [];
    for (const f of ctx.inputList('scores')) lines.push(await readText(f));
    await ctx.writeText('summary', lines.join('\\n'));
    return { count: lines.length };
  },
});

export default definePipeline(
  { name: ${JSON.stringify(name)}, params: { sources: ${shape.sources}, lrs: ${JSON.stringify(shape.lrs)}, widths: ${JSON.stringify(shape.widths)} } },
  (p, cfg) => {
    for (let s = 0; s < cfg.sources; s++) {
      p.scope(\`s\${s}\`, () => {
        const src = p.stage(source, { seed: s });
        const scores: Array<ReturnType<typeof src.out>> = [];
        p.sweep({ lr: cfg.lrs, width: cfg.widths }, ({ lr, width }) => {
          const t = p.stage(train, { data: src.out('data'), lr, width });
          const e = p.stage(evaluate, { model: t.out('model') });
          scores.push(e.out('score'));
        });
        p.stage(aggregate, { scores });
      });
    }
  },
);
`;
}

/**
 * The same DAG as a Snakefile: four rules with wildcards, \`run:\` blocks (Python, in Snakemake's
 * own process: no shell per job), the fan-in written with expand() over the grid.
 */
export function sweepSnakefile(shape: SweepShape): string {
  const py = (xs: number[]): string => `[${xs.map((x) => JSON.stringify(String(x))).join(', ')}]`;
  return `SOURCES = [str(s) for s in range(${shape.sources})]
LRS = ${py(shape.lrs)}
WIDTHS = ${py(shape.widths)}

wildcard_constraints:
    s = r"\\d+",
    lr = r"[0-9.e-]+",
    w = r"\\d+"

rule all:
    input: expand("agg/s{s}.txt", s=SOURCES)

rule source:
    output: "src/s{s}.txt"
    run:
        with open(output[0], "w") as f:
            f.write("src" + wildcards.s)

rule train:
    input: "src/s{s}.txt"
    output: "train/s{s}/lr{lr}_w{w}.txt"
    run:
        data = open(input[0]).read()
        with open(output[0], "w") as f:
            f.write(data + "/lr" + wildcards.lr + "_w" + wildcards.w)

rule evaluate:
    input: "train/s{s}/lr{lr}_w{w}.txt"
    output: "eval/s{s}/lr{lr}_w{w}.txt"
    run:
        model = open(input[0]).read()
        with open(output[0], "w") as f:
            f.write("eval(" + model + ")")

rule aggregate:
    input: expand("eval/s{{s}}/lr{lr}_w{w}.txt", lr=LRS, w=WIDTHS)
    output: "agg/s{s}.txt"
    run:
        with open(output[0], "w") as f:
            f.write("\\n".join(open(i).read() for i in input))
`;
}

/**
 * Writes the outputs of the Snakefile's jobs directly, in dependency order (so that every output
 * is newer than its inputs), with the bytes the rules would write. A stand-in for Snakemake's own
 * first run where that takes too long (`--snake-fill write`); Snakemake then has no metadata in
 * .snakemake/, which makes its dry run do less, not more.
 */
export function writeSnakeOutputs(dir: string, shape: SweepShape, write: (rel: string, text: string) => void): void {
  for (let s = 0; s < shape.sources; s++) {
    const src = `src${s}`;
    write(`src/s${s}.txt`, src);
    const evals: string[] = [];
    for (const lr of shape.lrs) {
      for (const w of shape.widths) {
        const model = `${src}/lr${String(lr)}_w${String(w)}`;
        write(`train/s${s}/lr${String(lr)}_w${String(w)}.txt`, model);
        evals.push(`eval(${model})`);
        write(`eval/s${s}/lr${String(lr)}_w${String(w)}.txt`, `eval(${model})`);
      }
    }
    write(`agg/s${s}.txt`, evals.join('\n'));
  }
  void dir;
}
