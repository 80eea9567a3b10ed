/**
 * C++ libraries that log through Abseil (TensorFlow 2.16 and later) write INFO lines to a stage
 * process's stderr while they load, before anyone can set a log level: TensorFlow 2.21 prints
 * `oneDNN custom operations are on ...` (with Abseil's note that logging is not initialised)
 * whatever TF_CPP_MIN_LOG_LEVEL says, 0 to 3 alike (src/nn/backend.ts sets it to 1, which quiets
 * TensorFlow's own INFO lines). A stage that fails would show those lines as its "last output"
 * instead of its own last words, so they are dropped where a stage's output is read, unless the
 * user asked for TensorFlow's INFO lines (TF_CPP_MIN_LOG_LEVEL=0). Warnings and errors stay.
 */

/** Abseil's note, printed once before its first message when nothing initialised its logging. */
const ABSL_PREAMBLE = 'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR';
/** An Abseil/glog INFO line: `I0000 00:00:1796691892.885594   18466 port.cc:153] ...`. */
const ABSL_INFO = /^I\d{4} \d\d:\d\d:[\d.]+\s+\d+ [^\s:]+:\d+\] /;

/** Whether a line of a stage process's output is a library's INFO chatter to drop. */
export function isLibraryInfoLine(line: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.TF_CPP_MIN_LOG_LEVEL === '0') return false;
  return line === ABSL_PREAMBLE || ABSL_INFO.test(line);
}
