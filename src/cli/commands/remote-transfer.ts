/** What `pipeline push` and `pipeline pull` share: the remote they talk to, and their progress bar. */
import { mkdir } from 'node:fs/promises';
import type { SingleBar } from 'cli-progress';
import { PipelineError } from '../../errors.js';
import { DirectoryRemote, openRemote, type RemoteStore } from '../../store/remote/index.js';
import { formatBytes } from '../format.js';

export interface TransferCommandOptions {
  remote?: string;
  json: boolean;
  /** Stage results moved at once (default 8). */
  transfers?: number;
}

/**
 * The remote named by --remote / PIPELINE_REMOTE / the config file (resolved into `opts.remote`
 * before the command runs), checked to exist: a missing one is a user error (exit 2).
 */
export async function requireRemote(command: 'push' | 'pull', opts: TransferCommandOptions, warn: (m: string) => void): Promise<RemoteStore> {
  const location = opts.remote ?? process.env.PIPELINE_REMOTE;
  if (!location) {
    throw new PipelineError('USAGE', `pipeline ${command} needs a remote store`, {
      hint: 'give --remote <dir | s3://bucket/prefix>, set PIPELINE_REMOTE, or put `remote:` in pipeline.config.yaml',
    });
  }
  const remote = openRemote(location, { warn });
  // Like `run --remote`, a push to a directory that is not there yet starts it.
  if (command === 'push' && remote instanceof DirectoryRemote) await mkdir(remote.root, { recursive: true });
  await remote.probe();
  return remote;
}

/**
 * Progress of a transfer on stderr: a bar on a terminal (cli-progress), nothing elsewhere but the
 * final summary (logs stay short). Warnings are printed above the bar.
 */
export async function transferProgress(label: string): Promise<{ update(p: { done: number; total: number; bytes: number }): void; warn(message: string): void; stop(): void }> {
  const stream = process.stderr;
  if (!stream.isTTY) {
    return { update: () => undefined, warn: (m) => void stream.write(`warning: ${m}\n`), stop: () => undefined };
  }
  const { default: cliProgress } = await import('cli-progress');
  const bar: SingleBar = new cliProgress.SingleBar(
    { stream, format: `${label} [{bar}] {value}/{total} stage results  {moved}`, hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update: ({ done, total, bytes }) => {
      if (!started) {
        bar.start(total, done, { moved: formatBytes(bytes) });
        started = true;
      } else bar.update(done, { moved: formatBytes(bytes) });
      bar.setTotal(total);
    },
    warn: (m) => {
      if (started) stream.write('\r\x1b[K');
      stream.write(`warning: ${m}\n`);
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}
