// Issue #23, point 5: TensorFlow's start-up INFO lines (printed through Abseil while the library
// loads, whatever TF_CPP_MIN_LOG_LEVEL says) do not reach the user from a stage process, and a
// stage that fails shows its own last words; TensorFlow's warnings and errors stay. The end-to-end
// part runs where the native backend is built, and is skipped, with the reason, where it is not.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { isLibraryInfoLine } from '../../src/engine/runner/library-log.js';
import { nativeDir, readManifest } from '../../src/nn/native/layout.js';
import { API, REPO, TestProject } from '../helpers/project.js';

// As TensorFlow 2.21's CPU wheel prints them when it loads (the first two at any TF_CPP_MIN_LOG_LEVEL).
const PREAMBLE = 'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR';
const ONEDNN = 'I0000 00:00:1796691892.885594   18466 port.cc:153] oneDNN custom operations are on. You may see slightly different numerical results';
const FEATURES = 'I0000 00:00:1796691895.361478   18570 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use available CPU instructions';
const WARNING = 'W0000 00:00:1796691895.361478   18570 op_kernel.cc:1840] OP_REQUIRES failed at whatever.cc:12';

describe('a library INFO line in a stage process output', () => {
  test('Abseil INFO lines and its preamble are dropped by default', () => {
    for (const line of [PREAMBLE, ONEDNN, FEATURES]) assert.equal(isLibraryInfoLine(line, {}), true, line);
    assert.equal(isLibraryInfoLine(ONEDNN, { TF_CPP_MIN_LOG_LEVEL: '1' }), true);
  });
  test('warnings, errors and the stage own lines stay', () => {
    for (const line of [WARNING, 'E0000 00:00:1.5 1 x.cc:1] failed', 'I am the stage: epoch 3', 'Info: I0000 00:00:1.5 1 x.cc:1] quoted', '']) {
      assert.equal(isLibraryInfoLine(line, {}), false, line);
    }
  });
  test('TF_CPP_MIN_LOG_LEVEL=0 (the user asked for INFO lines) keeps everything', () => {
    for (const line of [PREAMBLE, ONEDNN]) assert.equal(isLibraryInfoLine(line, { TF_CPP_MIN_LOG_LEVEL: '0' }), false);
  });
});

const skip = readManifest() ? false : `the native backend is not built in ${nativeDir()} (npx pipeline setup native builds it)`;

describe('a stage on the native backend that fails', { skip }, () => {
  const project = new TestProject({
    'tf.ts': `import { defineStage, definePipeline } from ${JSON.stringify(API)};
import { initBackend } from ${JSON.stringify(join(REPO, 'src', 'nn', 'backend.ts'))};
const tfFails = defineStage({
  name: 'tf-fails',
  outputs: ['out'],
  async run() {
    const info = await initBackend('tensorflow', { threads: 1 });
    console.log('backend ' + info.name + ': my last words');
    throw new Error('loss is NaN');
  },
});
export default definePipeline({ name: 'tf' }, (p) => { p.stage(tfFails, {}); });
`,
  });
  // The default is what is tested: as a user who never set it (node --test runs each file in a process of its own).
  const userSetting = process.env.TF_CPP_MIN_LOG_LEVEL;
  delete process.env.TF_CPP_MIN_LOG_LEVEL;
  after(() => {
    if (userSetting !== undefined) process.env.TF_CPP_MIN_LOG_LEVEL = userSetting;
    project.remove();
  });

  test('shows its own last words, not TensorFlow start-up notices', () => {
    const r = project.cli(['run', 'tf.ts', '--no-typecheck']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /last output of 'tf-fails':\n\s+backend tensorflow: my last words/);
    assert.doesNotMatch(r.stderr, /oneDNN|absl::InitializeLog/);
  });

  test('TF_CPP_MIN_LOG_LEVEL=0 set by the user is respected', () => {
    const r = project.cli(['run', 'tf.ts', '--no-typecheck', '--verbose'], { TF_CPP_MIN_LOG_LEVEL: '0' });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /oneDNN custom operations/);
  });
});
