// Tables, plots and the HTML report from a cache prepared by running a tiny pipeline whose stages
// emit known metrics (test/report/fixture.ts): exact Markdown and CSV, aggregation over 3
// replicates, a missing result named by stage id (exit 2), SVG marks, PNG size, byte-identical
// reruns, and the report opened in headless Chromium.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inflateSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { DOMParser } from '@xmldom/xmldom';
import { TestProject } from '../helpers/project.js';
import { fixturePipeline } from './fixture.js';

const EXPECTED_MD = `### Accuracy by density

| Weights remaining % | Test acc. % | Early stop | Stable |
| ---: | ---: | ---: | ---: |
| 100.0 | 91.00 [90.00, 92.00] | 200 [100, 300] | 2/3 |
| 50.0 | 86.00 [85.00, 87.00] | 700 [600, 800] | 2/3 |
| 25.0 | 83.50 [82.50, 84.50] | 950 [850, 1050] | 2/3 |

Densities as given to the stage. Mean [min, max] over the seeds.
`;

/** The same table from one seed: no ranges, and no sentence about replicates. */
const EXPECTED_MD_ONE_SEED = `### Accuracy by density

| Weights remaining % | Test acc. % | Early stop | Stable |
| ---: | ---: | ---: | ---: |
| 100.0 | 90.00 | 100 | yes |
| 50.0 | 85.00 | 600 | yes |
| 25.0 | 82.50 | 850 | yes |

Densities as given to the stage.
`;

const EXPECTED_CSV = `remaining,acc,acc_min,acc_max,es,es_min,es_max,stable
100.0,91.00,90.00,92.00,200,100,300,2/3
50.0,86.00,85.00,87.00,700,600,800,2/3
25.0,83.50,82.50,84.50,950,850,1050,2/3
`;

/** Decodes a PNG far enough to prove it is one: signature, chunk CRCs, IHDR, inflated IDAT size. */
function decodePng(buf: Buffer): { width: number; height: number } {
  assert.deepEqual([...buf.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], 'PNG signature');
  let off = 8;
  let width = 0;
  let height = 0;
  let bpp = 0;
  const idat: Buffer[] = [];
  for (;;) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString('ascii', off + 4, off + 8);
    const data = buf.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const channels = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[data[9]!] ?? 0;
      bpp = (channels * data[8]!) / 8;
    }
    if (type === 'IDAT') idat.push(data);
    off += 12 + len;
    if (type === 'IEND') break;
  }
  const raw = inflateSync(Buffer.concat(idat));
  assert.equal(raw.length, height * (1 + width * bpp), 'inflated image data has one filter byte + one row of pixels per line');
  return { width, height };
}

function parseSvg(text: string): Document {
  const errors: string[] = [];
  const doc = new DOMParser({ onError: (level: string, msg: string) => void (level !== 'warning' && errors.push(msg)) } as never).parseFromString(text, 'image/svg+xml') as unknown as Document;
  assert.deepEqual(errors, [], 'the SVG parses');
  assert.equal(doc.documentElement.nodeName, 'svg');
  return doc;
}

/** Paths drawn by data marks of a type (`mark-line`, `mark-symbol`, `mark-area`). */
function markPaths(doc: Document, type: string): number {
  let n = 0;
  const groups = doc.getElementsByTagName('g');
  for (let i = 0; i < groups.length; i++) {
    const cls = (groups[i]!.getAttribute('class') ?? '').split(/\s+/);
    if (cls.includes(type) && cls.includes('role-mark')) n += groups[i]!.getElementsByTagName('path').length;
  }
  return n;
}

describe('tables, plots and reports from the cache', () => {
  const project = new TestProject({ 'pipeline.ts': fixturePipeline() });
  before(() => {
    const r = project.cli(['run', 'pipeline.ts']);
    assert.equal(r.code, 0, r.stderr);
  });
  after(() => project.remove());

  test('table: exact Markdown, mean [min, max] over 3 replicates', () => {
    const r = project.cli(['table', 'pipeline.ts', '--table', 'accuracy']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, EXPECTED_MD);
  });

  test("table: the caption's replicate note only when a cell aggregates replicates (not for one seed)", () => {
    const r = project.cli(['table', 'pipeline.ts', '--table', 'accuracy', '--set', 'seeds=[0]']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, EXPECTED_MD_ONE_SEED);
    const json = JSON.parse(project.cli(['table', 'pipeline.ts', '-t', 'accuracy', '-f', 'json', '--set', 'seeds=[0]']).stdout) as Array<{ caption: string }>;
    assert.equal(json[0]!.caption, 'Densities as given to the stage.');
    const three = JSON.parse(project.cli(['table', 'pipeline.ts', '-t', 'accuracy', '-f', 'json']).stdout) as Array<{ caption: string }>;
    assert.equal(three[0]!.caption, 'Densities as given to the stage. Mean [min, max] over the seeds.');
  });

  test('table: exact CSV (aggregated columns get _min and _max)', () => {
    const r = project.cli(['table', 'pipeline.ts', '-t', 'accuracy', '--format', 'csv']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, EXPECTED_CSV);
  });

  test('table: JSON carries the unrounded aggregates; LaTeX is booktabs', () => {
    const json = JSON.parse(project.cli(['table', 'pipeline.ts', '--format', 'json']).stdout) as Array<{ name: string; rows: Array<Record<string, unknown>> }>;
    assert.deepEqual(json.map((t) => t.name), ['accuracy', 'seed0']);
    const first = json[0]!.rows[0]! as { acc: { mean: number; min: number; max: number; n: number }; es: unknown; stable: unknown };
    assert.equal(first.acc.n, 3);
    assert.ok(Math.abs(first.acc.mean - 0.91) < 1e-12);
    assert.equal(first.acc.min, 0.9);
    assert.ok(Math.abs(first.acc.max - 0.92) < 1e-12);
    assert.deepEqual(first.es, { mean: 200, min: 100, max: 300, n: 3 });
    assert.deepEqual(first.stable, { share: 2 / 3, n: 3 });
    assert.deepEqual(json[1]!.rows.map((r) => r.id), ['seed:0/d100', 'seed:0/d50', 'seed:0/d25']);
    const tex = project.cli(['table', 'pipeline.ts', '-t', 'accuracy', '--format', 'latex']).stdout;
    assert.match(tex, /\\begin\{tabular\}\{rrrr\}\n\\toprule\nWeights remaining \\% & Test acc\. \\% & Early stop & Stable \\\\\n\\midrule\n100\.0 & 91\.00\\,\{\\scriptsize\[90\.00, 92\.00\]\} & /);
    assert.match(tex, /\\bottomrule\n\\end\{tabular\}/);
    // Title and caption are two sentences of one caption (the title used to run into the caption).
    assert.match(tex, /\\caption\{Accuracy by density\. Densities as given to the stage\. Mean \[min, max\] over the seeds\.\}/);
  });

  test('table: a missing result is named by stage id with the command that computes it; exit 2; --run computes it', () => {
    const set = ['--set', 'densities=[1,0.5,0.125]'];
    const r = project.cli(['table', 'pipeline.ts', ...set]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /3 results the report needs are not in the cache: seed:0\/d12\.5, seed:1\/d12\.5, seed:2\/d12\.5/);
    assert.match(r.stderr, /npx pipeline run pipeline\.ts --set 'densities=\[1,0\.5,0\.125\]'/);
    const ran = project.cli(['table', 'pipeline.ts', ...set, '--run', '-t', 'accuracy', '-f', 'csv']);
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(ran.stdout.split('\n')[3], '12.5,82.25,81.25,83.25,1075,975,1175,2/3');
  });

  test('plot: the SVG parses and has one line and one band per series and one symbol per point; the PNG has the requested size', () => {
    const out = project.path('plots-a');
    const r = project.cli(['plot', 'pipeline.ts', '--out', out, '--png-width', '900', '--format', 'svg,png,vl']);
    assert.equal(r.code, 0, r.stderr);
    const svgText = readFileSync(join(out, 'accuracy.svg'), 'utf8');
    const doc = parseSvg(svgText);
    assert.equal(markPaths(doc, 'mark-line'), 2);
    assert.equal(markPaths(doc, 'mark-symbol'), 6);
    assert.equal(markPaths(doc, 'mark-area'), 2);
    assert.match(svgText, /Percent of weights remaining/);
    assert.match(svgText, /Test accuracy/);
    const curves = parseSvg(readFileSync(join(out, 'curves.svg'), 'utf8'));
    assert.equal(markPaths(curves, 'mark-line'), 3);
    const w = Number(doc.documentElement.getAttribute('width'));
    const h = Number(doc.documentElement.getAttribute('height'));
    const png = decodePng(readFileSync(join(out, 'accuracy.png')));
    assert.equal(png.width, 900);
    assert.equal(png.height, Math.round((900 * h) / w));
    const vl = JSON.parse(readFileSync(join(out, 'accuracy.vl.json'), 'utf8')) as { layer: Array<{ encoding?: { x?: { scale?: { type?: string } } } }> };
    assert.equal(vl.layer[1]!.encoding!.x!.scale!.type, 'log');
  });

  test('determinism: two runs of table and plot give identical bytes', () => {
    for (const format of ['md', 'csv', 'latex', 'json']) {
      const a = project.cli(['table', 'pipeline.ts', '-f', format]);
      const b = project.cli(['table', 'pipeline.ts', '-f', format]);
      assert.equal(a.code, 0, a.stderr);
      assert.equal(a.stdout, b.stdout, format);
    }
    const dirs = [project.path('det-1'), project.path('det-2')];
    for (const d of dirs) assert.equal(project.cli(['plot', 'pipeline.ts', '--out', d, '--format', 'svg,png,vl']).code, 0);
    for (const f of ['accuracy.svg', 'accuracy.png', 'accuracy.vl.json', 'curves.svg', 'curves.png']) {
      assert.ok(readFileSync(join(dirs[0]!, f)).equals(readFileSync(join(dirs[1]!, f))), `${f} differs between two runs`);
    }
  });

  test('show: experiments table with --only-changed, --sort-by and --csv', () => {
    const r = project.cli(['show', 'pipeline.ts', '--csv', '--only-changed', '--sort-by', 'testAccuracy', '--sort-order', 'desc', '--stage', 'train']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.deepEqual(lines[0]!.split(',').slice(0, 9), ['id', 'stage', 'state', 'params.density', 'seed', 'testAccuracy', 'earlyStop', 'stable', 'metrics.density']);
    assert.match(lines[1]!, /^seed:2\/d100,train,(up-to-date|cached),1,2,0\.92,300,false,1,\d+,\d{4}-\d\d-\d\dT[^,]+,.+$/);
    assert.equal(lines.length, 1 + 9);
    const bad = project.cli(['show', 'pipeline.ts', '--sort-by', 'nope']);
    assert.equal(bad.code, 2);
  });

  test('report: the HTML has the hyperparameter table (varying params highlighted and listed per instance) and full-width figures', () => {
    const file = project.path('report-static.html');
    const r = project.cli(['report', 'pipeline.ts', '-o', file]);
    assert.equal(r.code, 0, r.stderr);
    const html = readFileSync(file, 'utf8');
    assert.match(html, /<h2 id="hyperparameters">Hyperparameters<\/h2>/);
    assert.match(html, /<table class="params" id="hyperparameters-table">\n<thead><tr><th scope="col">parameter<\/th><th scope="col" data-stage="train"><code>train<\/code> <span class="range">\(9\)<\/span><\/th><\/tr><\/thead>/);
    assert.match(html, /<tr class="varies" data-param="density"><td><code>density<\/code><\/td><td class="varies" title="varies between instances">1, 0\.5, 0\.25<\/td><\/tr>/);
    assert.match(html, /<tr class="varies" data-param="seed"><td><code>seed<\/code><\/td><td class="varies" title="varies between instances">0, 1, 2<\/td><\/tr>/);
    assert.match(html, /<table class="params params-varying" data-stage="train">/);
    assert.match(html, /<tr><td><code>seed:2\/d25<\/code><\/td><td>0\.25<\/td><td>2<\/td><\/tr>/);
    // Figures scale to the content column (the SVG's own width attribute is its 1x size, about half of it).
    assert.match(html, /figure svg \{ display: block; width: 100%; height: auto; \}/);
    assert.doesNotMatch(html, /figure svg \{ max-width: 100%/);
    assert.ok(html.indexOf('id="hyperparameters"') > html.indexOf('id="figures"') && html.indexOf('id="hyperparameters"') < html.indexOf('id="dag"'));
  });

  test('report: the HTML file opens in headless Chromium without console errors and shows the table', { skip: existsSync('/usr/bin/chromium') ? false : 'no /usr/bin/chromium (apt-get install -y chromium)', timeout: 90_000 }, async () => {
    const file = project.path('report.html');
    const r = project.cli(['report', 'pipeline.ts', '-o', file, '-t', 'accuracy']);
    assert.equal(r.code, 0, r.stderr);
    const { chromium } = await import('playwright-core');
    const profile = mkdtempSync(join(tmpdir(), 'lth-chromium-'));
    // A fresh profile (playwright passes it as --user-data-dir) and no network of any kind.
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('console', (m) => void (m.type() === 'error' && problems.push(m.text())));
      page.on('pageerror', (e) => problems.push(String(e)));
      page.on('request', (req) => void (!req.url().startsWith('file:') && !req.url().startsWith('data:') && problems.push(`network request: ${req.url()}`)));
      await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
      const table = await page.$$eval('table[data-table="accuracy"] tbody tr', (rows) => rows.map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => td.textContent?.trim() ?? '')));
      assert.deepEqual(table, [
        ['100.0', '91.00 [90.00, 92.00]', '200 [100, 300]', '2/3'],
        ['50.0', '86.00 [85.00, 87.00]', '700 [600, 800]', '2/3'],
        ['25.0', '83.50 [82.50, 84.50]', '950 [850, 1050]', '2/3'],
      ]);
      assert.equal(await page.locator('table[data-table="accuracy"] caption').textContent(), 'Accuracy by density');
      const stageHead = await page.$$eval('table#stages th', (ths) => ths.map((th) => th.textContent));
      assert.deepEqual(stageHead.slice(-3), ['computed', 'host', 'backend'], 'each result says which backend computed it');
      const figures = await page.$$eval('figure svg', (svgs) => svgs.map((s) => s.getBoundingClientRect().width));
      assert.equal(figures.length, 2);
      assert.ok(figures.every((w) => w > 100), 'figures are laid out');
      // Full width of the content column (the heading's width), not the SVG's own (about half of it).
      const column = await page.$eval('h1', (h) => h.getBoundingClientRect().width);
      assert.ok(figures.every((w) => Math.abs(w - column) <= 1), `figures ${figures.join(', ')} px wide in a ${column} px column`);
      const varying = await page.$$eval('#hyperparameters-table tr.varies td.varies', (tds) => tds.map((td) => [td.textContent, getComputedStyle(td).backgroundColor]));
      assert.deepEqual(varying.map(([t]) => t), ['1, 0.5, 0.25', '0, 1, 2']);
      assert.ok(varying.every(([, bg]) => bg !== 'rgba(0, 0, 0, 0)'), 'the params that vary are highlighted');
      const states = await page.$$eval('svg.dag g.dag-node', (nodes) => nodes.map((n) => n.getAttribute('data-state')));
      assert.ok(states.length >= 9);
      assert.ok(states.every((s) => s === 'up-to-date' || s === 'cached'));
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    }
  });

  // Issue #23, point 1: a figure reads curve objects; a corrupt one is quarantined, and the error
  // names the stage and the command that recomputes it.
  test('report: a corrupt curve object is quarantined; the error names its stage and the command to rerun; run heals it', () => {
    const show = JSON.parse(project.cli(['show', 'pipeline.ts', '--json']).stdout) as Array<{ id: string; key: string }>;
    const key = show.find((r) => r.id === 'seed:1/d50')!.key;
    const digest = (JSON.parse(project.read(`cache/runs/${key.slice(0, 2)}/${key}.json`)) as { outputs: { curve: { digest: string } } }).outputs.curve.digest;
    project.flipByte(digest, 3);
    const r = project.cli(['report', 'pipeline.ts', '-o', project.path('corrupt.html')]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`object ${digest.slice(0, 12)} \\(output 'curve' of stage 'seed:1/d\\d+'\\) was corrupt .* now in quarantine\\n\\s+rerun the stage that made it: npx pipeline run pipeline\\.ts`));
    assert.equal(project.exists('corrupt.html'), false);
    const rerun = project.cli(['run', 'pipeline.ts']);
    assert.equal(rerun.code, 0, rerun.stderr);
    // The curve depends on the seed alone: the stages of seed 1 share the object, and only they run.
    assert.match(rerun.stderr, /\[done\] +seed:1\//);
    assert.doesNotMatch(rerun.stderr, /\[done\] +seed:[02]\//);
    assert.equal(project.cli(['report', 'pipeline.ts', '-o', project.path('healed.html')]).code, 0);
  });
});
