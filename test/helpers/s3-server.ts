/**
 * A real S3-compatible server for the tests: s3rver (npm, a devDependency), on 127.0.0.1 at a free
 * port, storing into a folder, with one bucket and one access key. Run as its own process (the
 * tests call the CLI synchronously, which would stall a server in the test's own event loop):
 *
 *   node --import tsx test/helpers/s3-server.ts <folder> <bucket>
 *   env: S3_TEST_ACCESS_KEY_ID, S3_TEST_SECRET_ACCESS_KEY
 *
 * It prints `listening <port>` once it accepts requests, then `request <METHOD> <url>` for each
 * request (what the tests read to see how an upload was made). s3rver checks that a request's access
 * key is one it knows (so the CLI must send the key the test gave it); it does not verify SigV4
 * signatures, which is no concern of these tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

interface S3rverInstance {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
  httpServer: import('node:http').Server;
}

export interface S3TestServer {
  endpoint: string;
  process: ChildProcess;
  /** `<METHOD> <url>` of every request so far. */
  requests(): string[];
  stop(): void;
}

/** Starts the server as a child process and waits until it listens. */
export async function startS3Server(folder: string, bucket: string, credentials: { accessKeyId: string; secretAccessKey: string }): Promise<S3TestServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), folder, bucket], {
    env: { ...process.env, S3_TEST_ACCESS_KEY_ID: credentials.accessKeyId, S3_TEST_SECRET_ACCESS_KEY: credentials.secretAccessKey },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`s3rver exited (${code}) before listening`)));
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    process: child,
    requests: () => out.split('\n').filter((l) => l.startsWith('request ')).map((l) => l.slice('request '.length)),
    stop: () => void child.kill('SIGKILL'),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [folder, bucket] = process.argv.slice(2);
  const require = createRequire(import.meta.url);
  const S3rver = require('s3rver') as new (opts: object) => S3rverInstance;
  const { DUMMY_ACCOUNT } = require('s3rver/lib/models/account') as { DUMMY_ACCOUNT: { createKeyPair(id: string, secret: string): void } };
  DUMMY_ACCOUNT.createKeyPair(process.env.S3_TEST_ACCESS_KEY_ID!, process.env.S3_TEST_SECRET_ACCESS_KEY!);
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: folder, configureBuckets: [{ name: bucket }] });
  const { port } = await server.run();
  server.httpServer.on('request', (req: import('node:http').IncomingMessage) => process.stdout.write(`request ${req.method} ${req.url}\n`));
  process.stdout.write(`listening ${port}\n`);
  const stop = (): void => void server.close().finally(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
