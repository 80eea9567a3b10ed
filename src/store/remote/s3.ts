/**
 * A remote store in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, Cloudflare R2), through the
 * AWS SDK for JavaScript v3, in the cache's layout under a prefix:
 *
 *   s3://bucket/prefix  ->  prefix/objects/ab/<rest>, prefix/runs/ab/<key>.json
 *
 * - Credentials come only from the SDK's standard chain (environment, shared profile, SSO, web
 *   identity, instance or container role): this module never reads, stores or prints them, and
 *   every message made from an SDK error has the credentials in use scrubbed out.
 * - Endpoint and region: the SDK's own `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL` /
 *   `endpoint_url` and `AWS_REGION` / profile region, unless `S3RemoteOptions` say otherwise;
 *   path-style addressing (most self-hosted servers) with `PIPELINE_S3_FORCE_PATH_STYLE=1`.
 * - Retries with backoff are the SDK's standard retry strategy (3 attempts, exponential backoff
 *   with jitter, throttling and 5xx and connection errors retried); `maxAttempts` changes it.
 * - Uploads: objects the bucket already holds (HeadObject, same size) are skipped; large
 *   checkpoints go up as multipart uploads (@aws-sdk/lib-storage) that are only visible once
 *   complete. Downloads stream to a temp file in the local cache and are re-hashed there
 *   (./checked.ts): the bucket is never trusted.
 *
 * The SDK is loaded on first use: opening a remote costs nothing to a run that never needs it.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { PipelineError } from '../../errors.js';
import { objectSegments, runSegments } from '../layout.js';
import { CheckedRemote, type RemoteOptions } from './checked.js';
import { byteLimit } from './limit.js';
import { MAX_RECORD_BYTES, RemoteEntryRefused } from './untrusted.js';

/** Settings of an S3 remote beyond its location; each one unset leaves the SDK's own resolution. */
export interface S3RemoteOptions {
  /** e.g. `http://127.0.0.1:9000` (MinIO); default: the SDK's (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, profile, AWS). */
  endpoint?: string;
  /** default: the SDK's (AWS_REGION, profile). */
  region?: string;
  /** Path-style addressing (`endpoint/bucket/key`), which most self-hosted servers need. */
  forcePathStyle?: boolean;
  /** Attempts per request, retries included (default: the SDK's standard strategy, 3). */
  maxAttempts?: number;
  /** Part size of multipart uploads in bytes (default 16 MiB; at least 5 MiB, S3's minimum). */
  partSize?: number;
}

/** The options this project's environment variables set (the SDK reads its own variables itself). */
export function s3OptionsFromEnv(env: NodeJS.ProcessEnv = process.env): S3RemoteOptions {
  const flag = env.PIPELINE_S3_FORCE_PATH_STYLE;
  return flag === undefined || flag === '' ? {} : { forcePathStyle: flag === '1' || flag.toLowerCase() === 'true' };
}

/** `s3://bucket/prefix` -> bucket and prefix (no leading or trailing slash); a user error otherwise. */
export function parseS3Location(location: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([^/?#]*)((?:\/[^?#]*)?)$/i.exec(location);
  const bad = (why: string): PipelineError =>
    new PipelineError('USAGE', `remote ${location.replace(/\/\/[^/@]*@/, '//***@')}: ${why}`, { hint: 'expected s3://bucket or s3://bucket/prefix (credentials come from the AWS SDK\'s standard chain, never from the URL)' });
  if (!m) throw bad('not an s3://bucket/prefix location');
  const bucket = m[1]!;
  if (bucket.includes('@') || bucket.includes(':')) throw bad('credentials or a port do not belong in the location');
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw bad(`'${bucket}' is not a valid bucket name`);
  const segments = m[2]!.split('/').filter((s) => s !== '');
  if (segments.some((s) => s === '.' || s === '..')) throw bad('the prefix may not contain . or .. segments');
  return { bucket, prefix: segments.join('/') };
}

/** An SDK error's S3 error code and HTTP status. */
function describeError(e: unknown): { name: string; status: number | undefined; message: string } {
  const err = e as { name?: string; Code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  return { name: err?.Code ?? err?.name ?? 'Error', status: err?.$metadata?.httpStatusCode, message: String(err?.message ?? e) };
}

const isNotFound = (e: unknown): boolean => {
  const { name, status } = describeError(e);
  return status === 404 || name === 'NotFound' || name === 'NoSuchKey';
};

export class S3Remote extends CheckedRemote {
  readonly bucket: string;
  readonly prefix: string;
  private client: Promise<S3Client> | undefined;
  /** Secrets in use, to be scrubbed from any message (filled once the SDK has resolved them). */
  private readonly secrets = new Set<string>();

  constructor(
    location: string,
    private readonly options: S3RemoteOptions = {},
    opts: RemoteOptions = {},
  ) {
    super(opts);
    ({ bucket: this.bucket, prefix: this.prefix } = parseS3Location(location));
    for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) {
      const v = process.env[name];
      if (v && v.length >= 4) this.secrets.add(v);
    }
  }

  get url(): string {
    return `s3://${this.bucket}${this.prefix ? `/${this.prefix}` : ''}`;
  }

  private key(segments: readonly string[]): string {
    return [...(this.prefix ? [this.prefix] : []), ...segments].join('/');
  }

  private sdk(): Promise<S3Client> {
    this.client ??= (async () => {
      // The SDK warns on every process that Node 20 will be dropped by its releases of 2027; the
      // versions this project pins support it, so the warning would only be noise in every log.
      process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
      const { S3Client } = await import('@aws-sdk/client-s3');
      const o = this.options;
      return new S3Client({
        ...(o.endpoint !== undefined ? { endpoint: o.endpoint } : {}),
        ...(o.region !== undefined ? { region: o.region } : {}),
        ...(o.forcePathStyle !== undefined ? { forcePathStyle: o.forcePathStyle } : {}),
        ...(o.maxAttempts !== undefined ? { maxAttempts: o.maxAttempts } : {}),
        retryMode: 'standard',
      });
    })();
    return this.client;
  }

  /** Removes every credential in use from a text that may be shown or logged. */
  scrub(text: string): string {
    let out = text;
    for (const s of this.secrets) out = out.split(s).join('***');
    return out.replace(/(\/\/)[^/@\s]+:[^/@\s]*@/g, '$1***@'); // user:password@ in any URL
  }

  /** Runs one SDK request; its failures become PipelineErrors without credentials in them. */
  private async send<T>(what: string, request: (client: S3Client) => Promise<T>): Promise<T> {
    const client = await this.sdk();
    try {
      return await request(client);
    } catch (e) {
      await this.learnSecrets(client);
      throw this.failure(what, e);
    }
  }

  private async learnSecrets(client: S3Client): Promise<void> {
    try {
      const c = await client.config.credentials();
      for (const v of [c.accessKeyId, c.secretAccessKey, c.sessionToken]) if (v && v.length >= 4) this.secrets.add(v);
    } catch {
      /* none resolved: nothing to scrub */
    }
  }

  private failure(what: string, e: unknown): PipelineError {
    if (e instanceof RemoteEntryRefused || e instanceof PipelineError) return e as PipelineError;
    const { name, status, message } = describeError(e);
    const text = this.scrub(`${what}: ${name}${status ? ` (HTTP ${status})` : ''}: ${message}`);
    if (/region is missing/i.test(message)) {
      return new PipelineError('USAGE', `remote ${this.url}: no AWS region is configured`, { hint: 'set AWS_REGION (any value, e.g. us-east-1, for MinIO or Ceph) or a region in your AWS profile' });
    }
    if (/could not load credentials/i.test(message) || name === 'CredentialsProviderError') {
      return new PipelineError('USAGE', `remote ${this.url}: no AWS credentials found`, {
        hint: 'give them the AWS SDK\'s standard way: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, SSO, or an instance role',
      });
    }
    if (name === 'NoSuchBucket') return new PipelineError('USAGE', `remote ${this.url}: the bucket ${this.bucket} does not exist`, { hint: 'create it, or fix --remote / PIPELINE_REMOTE (and AWS_ENDPOINT_URL_S3 for a self-hosted server)' });
    if (status === 403 || name === 'AccessDenied' || name === 'InvalidAccessKeyId' || name === 'SignatureDoesNotMatch') {
      return new PipelineError('USAGE', `remote ${this.url}: access denied (${this.scrub(name)})`, { hint: 'check the AWS credentials and the bucket\'s permissions' });
    }
    return new PipelineError('REMOTE_UNAVAILABLE', text, { where: this.url, hint: 'check the network and AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL; requests were retried with backoff', cause: e });
  }

  async probe(): Promise<void> {
    const { HeadBucketCommand } = await import('@aws-sdk/client-s3');
    await this.send(`HeadBucket ${this.bucket}`, async (c) => {
      try {
        await c.send(new HeadBucketCommand({ Bucket: this.bucket }));
      } catch (e) {
        if (isNotFound(e)) throw Object.assign(new Error('the bucket does not exist'), { name: 'NoSuchBucket' });
        throw e;
      }
    });
  }

  override async close(): Promise<void> {
    if (this.client) (await this.client).destroy();
    this.client = undefined;
  }

  protected async readRunText(key: string): Promise<string | undefined> {
    const { GetObjectCommand } = await import('@aws-sdk/client-s3');
    const k = this.key(runSegments(key));
    return this.send(`GetObject ${k}`, async (c) => {
      let res;
      try {
        res = await c.send(new GetObjectCommand({ Bucket: this.bucket, Key: k }));
      } catch (e) {
        if (isNotFound(e)) return undefined;
        throw e;
      }
      const body = res.Body as Readable | undefined;
      if (!body) return '';
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of body) {
        size += (chunk as Buffer).length;
        if (size > MAX_RECORD_BYTES) {
          body.destroy();
          throw new RemoteEntryRefused(`larger than ${MAX_RECORD_BYTES} bytes`);
        }
        chunks.push(chunk as Buffer);
      }
      return Buffer.concat(chunks).toString('utf8');
    });
  }

  protected async writeRunText(key: string, text: string): Promise<void> {
    const { PutObjectCommand } = await import('@aws-sdk/client-s3');
    const k = this.key(runSegments(key));
    await this.send(`PutObject ${k}`, (c) => c.send(new PutObjectCommand({ Bucket: this.bucket, Key: k, Body: text, ContentType: 'application/json' })));
  }

  protected async objectSize(digest: string): Promise<number | undefined> {
    const { HeadObjectCommand } = await import('@aws-sdk/client-s3');
    const k = this.key(objectSegments(digest));
    return this.send(`HeadObject ${k}`, async (c) => {
      try {
        return (await c.send(new HeadObjectCommand({ Bucket: this.bucket, Key: k }))).ContentLength;
      } catch (e) {
        if (isNotFound(e)) return undefined;
        throw e;
      }
    });
  }

  protected async download(digest: string, file: string, maxBytes: number): Promise<boolean> {
    const { GetObjectCommand } = await import('@aws-sdk/client-s3');
    const k = this.key(objectSegments(digest));
    return this.send(`GetObject ${k}`, async (c) => {
      let res;
      try {
        res = await c.send(new GetObjectCommand({ Bucket: this.bucket, Key: k }));
      } catch (e) {
        if (isNotFound(e)) return false;
        throw e;
      }
      if (res.ContentLength !== undefined && res.ContentLength > maxBytes) {
        (res.Body as Readable | undefined)?.destroy();
        throw new RemoteEntryRefused(`it has ${res.ContentLength} bytes, more than the ${maxBytes} its record gives`);
      }
      await pipeline(res.Body as Readable, byteLimit(maxBytes), createWriteStream(file, { flags: 'wx', mode: 0o644 }));
      return true;
    });
  }

  protected async upload(digest: string, file: string): Promise<void> {
    const { Upload } = await import('@aws-sdk/lib-storage');
    const k = this.key(objectSegments(digest));
    await this.send(`upload ${k}`, async (client) => {
      const upload = new Upload({
        client,
        params: { Bucket: this.bucket, Key: k, Body: createReadStream(file), ContentType: 'application/octet-stream' },
        partSize: Math.max(5 * 1024 * 1024, this.options.partSize ?? 16 * 1024 * 1024),
        queueSize: 4,
        // A failed multipart upload is aborted: no parts left behind, nothing visible.
        leavePartsOnError: false,
      });
      await upload.done();
    });
  }
}
