/**
 * The part of every remote store that does not depend on where its bytes live: checking what
 * comes back (./untrusted.ts), reporting each bad entry once, never letting a bad remote copy
 * touch the local store, and replacing bad remote copies on push. A transport (a shared directory,
 * an S3 bucket) only moves bytes: it implements the five protected primitives.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PipelineError, isPipelineError } from '../../errors.js';
import { tempNameBeside } from '../atomic.js';
import { checkedHex } from '../layout.js';
import type { ObjectStore } from '../objects.js';
import { parseRunRecord, type RunRecord } from '../run-cache.js';
import { RemoteEntryRefused } from './untrusted.js';

/** The one interface of the remote stores (./directory.ts, ./s3.ts); `openRemote` makes one. */
export interface RemoteStore {
  /** Where it is, for messages: a path or `s3://bucket/prefix`, never a credential. */
  readonly url: string;
  /** Throws a user error (exit 2) when the remote does not exist, REMOTE_UNAVAILABLE when it cannot be reached. */
  probe(): Promise<void>;
  /** The record stored under `key`, if it is a well-formed record of that key; a bad one is reported and skipped. */
  getRun(key: string): Promise<RunRecord | undefined>;
  putRun(record: RunRecord): Promise<void>;
  /** Reports (once) a well-formed record that is not what the asking side expects of its key. */
  reportBadRun(key: string, reason: string): void;
  /** Whether the remote holds the object as a regular file (of `size` bytes, when given), not known to be bad. */
  hasObject(digest: string, size?: number): Promise<boolean>;
  /**
   * Copies an object into the local store, re-hashing it (of `size` bytes, when given): 'present'
   * when the local store has it already, 'missing' when the remote lacks it, 'refused' when the
   * remote copy is bad (reported once; the local store is left as it was).
   */
  fetchObject(digest: string, local: ObjectStore, size?: number): Promise<'present' | 'pulled' | 'missing' | 'refused'>;
  /** `fetchObject`, with a missing or bad remote copy an error. */
  pull(digest: string, local: ObjectStore): Promise<void>;
  /** Copies a local object to the remote unless it holds a good copy: 'present' or 'sent'. */
  push(digest: string, local: ObjectStore): Promise<'present' | 'sent'>;
  /** Releases connections. */
  close(): Promise<void>;
}

export interface RemoteOptions {
  /** Where a bad remote entry is reported (once each); default: a `warning:` line on stderr. */
  warn?: (message: string) => void;
}

export abstract class CheckedRemote implements RemoteStore {
  abstract readonly url: string;
  private readonly warn: (message: string) => void;
  private readonly reported = new Set<string>();
  /** Keys and digests whose remote copy was found bad by this process: a push replaces them. */
  private readonly bad = new Set<string>();

  constructor(opts: RemoteOptions = {}) {
    this.warn = opts.warn ?? ((m) => process.stderr.write(`warning: ${m}\n`));
  }

  abstract probe(): Promise<void>;
  /** The text stored for a run record; undefined when there is none. May throw RemoteEntryRefused. */
  protected abstract readRunText(key: string): Promise<string | undefined>;
  /** Stores a run record's text, replacing what is there, atomically. */
  protected abstract writeRunText(key: string, text: string): Promise<void>;
  /** The size of the object when the remote holds it as a regular file; undefined otherwise. */
  protected abstract objectSize(digest: string): Promise<number | undefined>;
  /**
   * Writes the object's bytes to `file` (a new file); false when the remote lacks it. Throws
   * RemoteEntryRefused for a link, anything not a regular file, or more than `maxBytes` bytes.
   */
  protected abstract download(digest: string, file: string, maxBytes: number): Promise<boolean>;
  /** Stores the object from a local file of `size` bytes, replacing what is there (a link included), atomically. */
  protected abstract upload(digest: string, file: string, size: number): Promise<void>;

  async close(): Promise<void> {}

  /** Reports a bad remote entry once, and remembers it so that a push replaces it. */
  protected refuse(id: string, what: string, reason: string): void {
    this.bad.add(id);
    if (this.reported.has(id)) return;
    this.reported.add(id);
    this.warn(`remote ${this.url}: ${what} ignored (${reason}); what it holds is computed here when needed, and a push replaces it`);
  }

  async getRun(key: string): Promise<RunRecord | undefined> {
    checkedHex(key, 'key');
    let text: string | undefined;
    try {
      text = await this.readRunText(key);
    } catch (e) {
      if (!(e instanceof RemoteEntryRefused)) throw e;
      this.refuse(key, `the run record of ${key.slice(0, 12)}`, e.message);
      return undefined;
    }
    if (text === undefined) return undefined;
    const checked = parseRunRecord(text, key);
    if ('problem' in checked) {
      this.refuse(key, `the run record of ${key.slice(0, 12)}`, checked.problem);
      return undefined;
    }
    return checked.record;
  }

  reportBadRun(key: string, reason: string): void {
    this.refuse(key, `the run record of ${key.slice(0, 12)}`, reason);
  }

  async putRun(record: RunRecord): Promise<void> {
    await this.writeRunText(checkedHex(record.key, 'key'), JSON.stringify(record, null, 1));
    this.bad.delete(record.key);
  }

  async hasObject(digest: string, size?: number): Promise<boolean> {
    if (this.bad.has(checkedHex(digest, 'digest'))) return false;
    const found = await this.objectSize(digest);
    return found !== undefined && (size === undefined || found === size);
  }

  async fetchObject(digest: string, local: ObjectStore, size?: number): Promise<'present' | 'pulled' | 'missing' | 'refused'> {
    checkedHex(digest, 'digest');
    const what = `object ${digest.slice(0, 12)}`;
    if (await local.has(digest)) {
      // The local copy is ours; a record that gives it another size is what is wrong.
      if (size !== undefined && (await local.size(digest)) !== size) {
        this.refuse(digest, what, `the record gives it ${size} bytes, it has ${await local.size(digest)}`);
        return 'refused';
      }
      return 'present';
    }
    await mkdir(local.layout.tmpDir, { recursive: true });
    const tmp = tempNameBeside(join(local.layout.tmpDir, 'pull'));
    try {
      if (!(await this.download(digest, tmp, size ?? Number.POSITIVE_INFINITY))) return 'missing';
      // Hashed before it is taken: a bad copy is deleted, and nothing local ever is.
      await local.ingest(tmp, { digest, ...(size !== undefined ? { size } : {}), from: `${this.url} ${what}` });
      this.bad.delete(digest);
      return 'pulled';
    } catch (e) {
      if (e instanceof RemoteEntryRefused || isPipelineError(e, 'STORE_CORRUPT')) {
        this.refuse(digest, what, e instanceof PipelineError ? e.message.replace(/^object \w+ is corrupt \((.*)\)$/, '$1') : e.message);
        return 'refused';
      }
      throw e;
    } finally {
      await rm(tmp, { force: true });
    }
  }

  async pull(digest: string, local: ObjectStore): Promise<void> {
    const got = await this.fetchObject(digest, local);
    if (got === 'missing') throw new PipelineError('INPUT_MISSING', `object ${digest.slice(0, 12)} is not in the remote store`, { where: this.url });
    if (got === 'refused') {
      throw new PipelineError('STORE_CORRUPT', `object ${digest.slice(0, 12)} in the remote store is bad (see the warning above)`, {
        where: this.url,
        hint: 'push it again from a machine that has a good copy (`pipeline push`), or remove it from the remote store',
      });
    }
  }

  async push(digest: string, local: ObjectStore): Promise<'present' | 'sent'> {
    const size = await local.size(digest);
    if (await this.hasObject(digest, size)) return 'present';
    await this.upload(digest, await local.verified(digest), size);
    this.bad.delete(digest);
    return 'sent';
  }
}
