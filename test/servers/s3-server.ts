/**
 * A real S3-compatible server for the tests: moto's server mode (PyPI `moto[server]`, installed by .ci/install), on a
 * free loopback port. It speaks S3's REST protocol (SigV4, multipart uploads, ListObjectsV2), which is what the
 * backup store's AWS SDK client sends; no other S3-compatible server is served by the registries here.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { freePort } from '../../local-servers/free-port.js';
import { isExecutable, pythonScriptsDir } from '../../local-servers/temporal-binaries.js';

export interface S3Server {
  endpoint: string;
  /** A client with the server's test credentials (moto accepts any). */
  client(): S3Client;
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

/** Test credentials, set in the environment so the store's own client finds them the way it would in production. */
export const S3_TEST_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'test-key', AWS_SECRET_ACCESS_KEY: 'test-secret' };

/** moto_server's path, or undefined when moto is not installed. */
export function motoServerPath(): string | undefined {
  const scripts = pythonScriptsDir();
  const path = scripts ? join(scripts, 'moto_server') : undefined;
  return path && isExecutable(path) ? path : undefined;
}

/** Why the S3 suites cannot run here, or false: in CI they always run (a missing moto then fails them). */
export function s3SuiteSkip(env: NodeJS.ProcessEnv = process.env): string | false {
  if (env['CI'] || motoServerPath()) return false;
  return "no moto_server: run `python3 -m pip install 'moto[server]==5.2.5'` (CI always runs this suite)";
}

export async function startS3Server(): Promise<S3Server> {
  const bin = motoServerPath();
  if (!bin) throw new Error(String(s3SuiteSkip({})));
  const port = await freePort();
  const proc: ChildProcess = spawn(bin, ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`moto_server exited (${proc.exitCode}): ${stderr}`);
    const up = await fetch(`${endpoint}/moto-api/`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) break;
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`moto_server did not answer on ${endpoint} within 30 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  Object.assign(process.env, S3_TEST_CREDENTIALS);
  const client = () =>
    new S3Client({
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: {
        accessKeyId: S3_TEST_CREDENTIALS.AWS_ACCESS_KEY_ID,
        secretAccessKey: S3_TEST_CREDENTIALS.AWS_SECRET_ACCESS_KEY,
      },
    });
  return {
    endpoint,
    client,
    async createBucket(name) {
      await client().send(new CreateBucketCommand({ Bucket: name }));
    },
    async stop() {
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (proc.exitCode === null) proc.kill('SIGKILL');
    },
  };
}
