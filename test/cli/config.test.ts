// The project config files: pipeline.config.yaml (committed) < pipeline.config.local.yaml < the
// environment < flags, read by every command; `pipeline config` says where each value came from.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { TestProject } from '../helpers/project.js';
import { TOY_HELPERS, toyPipeline } from '../helpers/toy-pipeline.js';

interface ConfigJson {
  root: string;
  settings: { setting: string; value: unknown; source: string }[];
}

function settingsOf(stdout: string): Record<string, { value: unknown; source: string }> {
  const doc = JSON.parse(stdout) as ConfigJson;
  return Object.fromEntries(doc.settings.map((s) => [s.setting, { value: s.value, source: s.source }]));
}

describe('project config files', () => {
  const project = new TestProject({ 'pipeline.ts': toyPipeline(), 'helpers.ts': TOY_HELPERS });
  after(() => project.remove());

  test('the committed file, the local override, the environment and flags, in that order', () => {
    project.write('pipeline.config.yaml', '# shared by the team\ncache: team-cache\njobs: 3\ns3:\n  region: eu-west-1\n  forcePathStyle: true\n');
    project.write('pipeline.config.local.yaml', 'jobs: 1\n');
    let r = project.cli(['config', '--json'], { PIPELINE_CACHE: '', PIPELINE_JOBS: '', AWS_REGION: '' });
    assert.equal(r.code, 0, r.stderr);
    let s = settingsOf(r.stdout);
    assert.deepEqual(s.cache, { value: project.path('team-cache'), source: 'pipeline.config.yaml:2' });
    assert.deepEqual(s.jobs, { value: 1, source: 'pipeline.config.local.yaml:1' });
    assert.deepEqual(s['s3.region'], { value: 'eu-west-1', source: 'pipeline.config.yaml:5' });
    assert.deepEqual(s['s3.forcePathStyle'], { value: true, source: 'pipeline.config.yaml:6' });
    assert.deepEqual(s.lock, { value: project.path('dvc-like.lock'), source: 'default' });

    r = project.cli(['config', '--json'], { PIPELINE_JOBS: '4', AWS_REGION: 'us-east-2' });
    s = settingsOf(r.stdout);
    assert.deepEqual(s.jobs, { value: 4, source: '$PIPELINE_JOBS' });
    assert.deepEqual(s['s3.region'], { value: 'us-east-2', source: '$AWS_REGION' });

    // The plain listing names each source too.
    r = project.cli(['config'], { PIPELINE_CACHE: '', PIPELINE_JOBS: '' });
    assert.match(r.stdout, /cache\s+\S*team-cache\s+pipeline\.config\.yaml:2/);
  });

  test('every command uses the settings: run writes to the configured cache; a flag wins', () => {
    project.write('pipeline.config.yaml', 'cache: team-cache\n');
    project.write('pipeline.config.local.yaml', '');
    const r = project.cli(['run', 'pipeline.ts', '--no-typecheck'], { PIPELINE_CACHE: '' });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(readdirSync(project.path('team-cache/objects')).length > 0, 'objects in the configured cache');
    assert.ok(!existsSync(project.path('cache/objects')), 'nothing in the default cache');
    const st = project.cli(['status', 'pipeline.ts', '--json'], { PIPELINE_CACHE: '' });
    assert.equal((JSON.parse(st.stdout) as { counts: Record<string, number> }).counts['up-to-date'] ?? 0, 5, st.stdout);
    const other = project.cli(['status', 'pipeline.ts', '--json', '--cache', 'elsewhere'], { PIPELINE_CACHE: '' });
    assert.equal(other.code, 0, other.stderr);
    assert.ok(!(JSON.parse(other.stdout) as { counts: Record<string, number> }).counts['up-to-date'], 'the flag\'s empty cache: nothing up to date');
  });

  test('a mistake in a config file: exit 2 with the file and line, before anything runs', () => {
    const cases: [string, RegExp][] = [
      ['cache: team-cache\njbos: 2\n', /pipeline\.config\.yaml:2: unknown setting 'jbos'/],
      ['jobs: -1\n', /pipeline\.config\.yaml:1: 'jobs' must be a positive integer/],
      ['jobs: [\n', /pipeline\.config\.yaml:\d+: pipeline\.config\.yaml is not valid YAML/],
      ['s3:\n  secretAccessKey: abc\n', /pipeline\.config\.yaml:2: 's3\.secretAccessKey': credentials are never read from config files/],
    ];
    for (const [text, message] of cases) {
      project.write('pipeline.config.yaml', text);
      project.clearExecutions();
      const r = project.cli(['run', 'pipeline.ts', '--no-typecheck']);
      assert.equal(r.code, 2, `${text}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.deepEqual(project.executions(), []);
    }
    project.write('pipeline.config.yaml', '');
  });
});
