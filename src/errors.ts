/**
 * The one error type of the project. Every layer throws `PipelineError` with a code from the union
 * below; only `src/cli` maps codes to exit codes (user errors -> 2, a failing stage -> 1).
 *
 * A message says what is wrong; `where` says where (pipeline file and line, or a stage id); `hint`
 * says what to do about it. The CLI prints them as three parts of one message.
 */
export type PipelineErrorCode =
  // user errors: nothing was changed, exit code 2
  | 'PIPELINE_LOAD' // the pipeline file does not exist, does not compile, or throws while loading
  | 'PIPELINE_INVALID' // the file exports no pipeline, or the builder misuses the API
  | 'PIPELINE_TYPE' // the pipeline file (or a project module it imports) does not type-check
  | 'CYCLE' // the stage graph has a cycle
  | 'DUPLICATE_ID' // two stage instances share an id
  | 'PARAM_INVALID' // unknown, ill-typed or out-of-range parameter (stage params or --set)
  | 'INPUT_MISSING' // a referenced stage, output or external file does not exist
  | 'LOCK_MALFORMED' // dvc-like.lock cannot be parsed or has an unknown schema
  | 'DATASET_MISSING' // a dataset file is not where the loader looked
  | 'DATASET_CORRUPT' // a dataset file is truncated, has a wrong magic number or checksum
  | 'BACKEND_UNAVAILABLE' // a requested compute backend cannot be loaded
  | 'USAGE' // a command-line mistake (unknown stage for --force, bad flag value)
  | 'RESULT_MISSING' // a report needs a result that is not in the cache
  | 'TOOL_MISSING' // a command needs a program that is not installed (pip, a C++ compiler)
  | 'PERMISSION_DENIED' // a file or folder the command must write (a shared cache) is not writable for this user
  // run-time failures
  | 'STAGE_FAILED' // a stage's run threw or its process died: exit code 1
  | 'INTERRUPTED' // Ctrl-C / SIGTERM: exit code 130
  | 'STORE_CORRUPT' // an object's bytes do not match its digest
  | 'REMOTE_UNAVAILABLE' // a remote store or queue cannot be reached
  | 'SETUP_FAILED' // a step of `pipeline setup` failed (its log says why)
  | 'INTERNAL'; // a bug: please report it

export const USER_ERROR_CODES: ReadonlySet<PipelineErrorCode> = new Set<PipelineErrorCode>([
  'PIPELINE_LOAD',
  'PIPELINE_INVALID',
  'PIPELINE_TYPE',
  'CYCLE',
  'DUPLICATE_ID',
  'PARAM_INVALID',
  'INPUT_MISSING',
  'LOCK_MALFORMED',
  'DATASET_MISSING',
  'DATASET_CORRUPT',
  'BACKEND_UNAVAILABLE',
  'USAGE',
  'RESULT_MISSING',
  'TOOL_MISSING',
  'PERMISSION_DENIED',
]);

export interface PipelineErrorDetails {
  /** `file:line` of the pipeline source, or `stage <id>`. */
  where?: string;
  /** What the user can do about it. */
  hint?: string;
  cause?: unknown;
}

export class PipelineError extends Error {
  readonly code: PipelineErrorCode;
  readonly where: string | undefined;
  readonly hint: string | undefined;

  constructor(code: PipelineErrorCode, message: string, details: PipelineErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'PipelineError';
    this.code = code;
    this.where = details.where;
    this.hint = details.hint;
  }

  get isUserError(): boolean {
    return USER_ERROR_CODES.has(this.code);
  }

  /** One human-readable block: where, what, and what to do. */
  format(): string {
    // A message that already starts with the place (`<file>: truncated ...`) is not prefixed twice.
    const head = this.where && !this.message.startsWith(this.where) ? `${this.where}: ${this.message}` : this.message;
    return this.hint ? `${head}\n  ${this.hint}` : head;
  }
}

export function isPipelineError(e: unknown, code?: PipelineErrorCode): e is PipelineError {
  return e instanceof PipelineError && (code === undefined || e.code === code);
}
