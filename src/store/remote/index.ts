/**
 * Remote stores shared by a team: run records and objects in the cache's layout, in a shared
 * directory (./directory.ts) or an S3-compatible bucket (./s3.ts). Runs read through them before
 * computing and write through after; `pipeline push` / `pull` move what a lock file or a plan
 * references. Whatever a remote returns is untrusted (./untrusted.ts, ./checked.ts).
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PipelineError } from '../../errors.js';
import type { RemoteOptions, RemoteStore } from './checked.js';
import { DirectoryRemote } from './directory.js';
import { S3Remote, s3OptionsFromEnv, type S3RemoteOptions } from './s3.js';

export type { RemoteStore, RemoteOptions } from './checked.js';
export { DirectoryRemote } from './directory.js';
export { S3Remote, parseS3Location, s3OptionsFromEnv, type S3RemoteOptions } from './s3.js';
export { RemoteEntryRefused, expectationProblem, type RecordExpectation } from './untrusted.js';
export { pullRun, pushRun, pullRuns, pushRuns, expectationOfLockStage, type PullReport, type PushReport, type PushRunResult, type TransferOptions, type TransferProgress } from './transfer.js';

export interface OpenRemoteOptions extends RemoteOptions {
  /** Settings of an s3:// remote; default: from the environment (`s3OptionsFromEnv`). */
  s3?: S3RemoteOptions;
}

/**
 * A remote from its location: `s3://bucket/prefix`, a directory path, or a file:// URL. The one
 * place a location becomes a remote (flags, environment and config file all come through here).
 */
export function openRemote(location: string, opts: OpenRemoteOptions = {}): RemoteStore {
  if (/^s3:\/\//i.test(location)) return new S3Remote(location, opts.s3 ?? s3OptionsFromEnv(), opts);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location) && !location.startsWith('file://')) {
    throw new PipelineError('USAGE', `remote ${location.replace(/\/\/[^/@]*@/, '//***@')}: not a supported remote store`, {
      hint: 'use s3://bucket/prefix (AWS S3, MinIO, Ceph RGW, R2), a shared directory path, or file:///path',
    });
  }
  return new DirectoryRemote(resolve(location.startsWith('file://') ? fileURLToPath(location) : location), opts);
}
