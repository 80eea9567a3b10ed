/**
 * A remote store in a shared directory (NFS, a mounted bucket), in the cache's layout. Whoever can
 * write there can plant anything, links included: nothing below the remote's root is followed
 * through a symbolic link (every folder on the way is checked with lstat, every file opened with
 * O_NOFOLLOW and checked to be a regular file), so neither a pull nor a push reads or writes
 * outside it.
 */
import { constants } from 'node:fs';
import { chmod, copyFile, lstat, mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { PipelineError } from '../../errors.js';
import { tempNameBeside } from '../atomic.js';
import { objectSegments, runSegments } from '../layout.js';
import { CheckedRemote, type RemoteOptions } from './checked.js';
import { byteLimit } from './limit.js';
import { MAX_RECORD_BYTES, RemoteEntryRefused } from './untrusted.js';

const errno = (e: unknown): string | undefined => (e as NodeJS.ErrnoException)?.code;

export class DirectoryRemote extends CheckedRemote {
  constructor(
    readonly root: string,
    opts: RemoteOptions = {},
  ) {
    super(opts);
  }

  get url(): string {
    return this.root;
  }

  async probe(): Promise<void> {
    let isDir = false;
    try {
      isDir = (await stat(this.root)).isDirectory();
    } catch {
      /* missing */
    }
    if (!isDir) {
      throw new PipelineError('USAGE', `remote store ${this.root} does not exist or is not a directory`, {
        hint: 'check --remote / PIPELINE_REMOTE (a shared directory, or s3://bucket/prefix); `pipeline run --remote` or `pipeline push` to a new directory creates it',
      });
    }
  }

  /**
   * Opens `<root>/<segments>` for reading if it is a regular file reached through real folders;
   * undefined when it does not exist.
   */
  private async openRegular(segments: readonly string[]): Promise<FileHandle | undefined> {
    let dir = this.root;
    for (const segment of segments.slice(0, -1)) {
      dir = join(dir, segment);
      let st;
      try {
        st = await lstat(dir);
      } catch (e) {
        if (errno(e) === 'ENOENT' || errno(e) === 'ENOTDIR') return undefined;
        throw e;
      }
      if (!st.isDirectory()) throw new RemoteEntryRefused(`${dir} is ${st.isSymbolicLink() ? 'a symbolic link' : 'not a directory'}`);
    }
    const path = join(dir, segments[segments.length - 1]!);
    let handle: FileHandle;
    try {
      // O_NONBLOCK: a planted FIFO must not block the open; it is refused below like any non-file.
      handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (e) {
      if (errno(e) === 'ENOENT' || errno(e) === 'ENOTDIR') return undefined;
      if (errno(e) === 'ELOOP') throw new RemoteEntryRefused(`${path} is a symbolic link`);
      throw e;
    }
    const st = await handle.stat();
    if (!st.isFile()) {
      await handle.close();
      throw new RemoteEntryRefused(`${path} is not a regular file`);
    }
    return handle;
  }

  /** `<root>/<segments>`, its folders created as real folders (a link on the way is refused). */
  private async writablePath(segments: readonly string[]): Promise<string> {
    let dir = this.root;
    await mkdir(dir, { recursive: true });
    for (const segment of segments.slice(0, -1)) {
      dir = join(dir, segment);
      await mkdir(dir).catch((e: unknown) => {
        if (errno(e) !== 'EEXIST') throw e;
      });
      const st = await lstat(dir);
      if (!st.isDirectory()) {
        throw new PipelineError('STORE_CORRUPT', `remote store: ${dir} is ${st.isSymbolicLink() ? 'a symbolic link' : 'not a directory'}; refusing to write through it`, {
          where: this.root,
          hint: 'remove it from the remote store (someone planted or damaged it)',
        });
      }
    }
    return join(dir, segments[segments.length - 1]!);
  }

  /** Moves a finished temp file over `target`: a link or bad copy there is replaced, never written through. */
  private async publish(tmp: string, target: string): Promise<void> {
    try {
      await rename(tmp, target);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  protected async readRunText(key: string): Promise<string | undefined> {
    const handle = await this.openRegular(runSegments(key));
    if (!handle) return undefined;
    try {
      if ((await handle.stat()).size > MAX_RECORD_BYTES) throw new RemoteEntryRefused(`larger than ${MAX_RECORD_BYTES} bytes`);
      return await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  }

  protected async writeRunText(key: string, text: string): Promise<void> {
    const target = await this.writablePath(runSegments(key));
    const tmp = tempNameBeside(target);
    const handle = await open(tmp, 'wx');
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await this.publish(tmp, target);
  }

  protected async objectSize(digest: string): Promise<number | undefined> {
    let handle: FileHandle | undefined;
    try {
      handle = await this.openRegular(objectSegments(digest));
    } catch (e) {
      if (e instanceof RemoteEntryRefused) return undefined; // not a good copy: a push replaces it
      throw e;
    }
    if (!handle) return undefined;
    try {
      return (await handle.stat()).size;
    } finally {
      await handle.close();
    }
  }

  protected async download(digest: string, file: string, maxBytes: number): Promise<boolean> {
    const handle = await this.openRegular(objectSegments(digest));
    if (!handle) return false;
    try {
      const out = await open(file, 'wx', 0o644);
      await pipeline(handle.createReadStream({ autoClose: false }), byteLimit(maxBytes), out.createWriteStream());
      return true;
    } finally {
      await handle.close();
    }
  }

  protected async upload(digest: string, file: string): Promise<void> {
    const target = await this.writablePath(objectSegments(digest));
    const tmp = tempNameBeside(target);
    await copyFile(file, tmp, constants.COPYFILE_EXCL);
    await chmod(tmp, 0o444);
    await this.publish(tmp, target);
  }
}
