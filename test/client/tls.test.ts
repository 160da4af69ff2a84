/**
 * `client/` reaches a secured Temporal frontend the way Temporal's tools do (`TEMPORAL_TLS_*` read by envconfig):
 * a local TLS endpoint that demands a client certificate (mutual TLS, ALPN h2) in front of a real dev server. The
 * CLI, the receiver and the worker connect through it; a wrong CA fails with a clear message, and so does a missing
 * client certificate.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:tls';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { pino } from 'pino';
import { connectTemporal, TemporalUnreachableError } from '../../client/index.js';
import { repoFile } from '../../local-servers/repo-path.js';
import { installQuietRuntime, startDevServer } from '../../local-servers/temporal.js';
import { createWebhookFromEnv } from '../../webhook/from-env.js';
import { runWorker } from '../../worker/main.js';
import { generateCertificates, type TestCertificates } from '../kube/certificates.js';

installQuietRuntime();
const run = promisify(execFile);

let temporal: TestWorkflowEnvironment;
let proxy: Server;
let dir: string;
let certs: TestCertificates;
let otherCa: TestCertificates;
let env: NodeJS.ProcessEnv;

describe('Temporal over mutual TLS', () => {
  before(async () => {
    temporal = await startDevServer();
    dir = await mkdtemp(join(tmpdir(), 'runbook-tls-'));
    certs = await generateCertificates(dir);
    await mkdtemp(join(dir, 'other-')).then(async (d) => (otherCa = await generateCertificates(d)));
    await run(
      'openssl',
      [
        'req',
        '-x509',
        '-CA',
        certs.caCert,
        '-CAkey',
        certs.caKey,
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
      ]
        .concat(['-nodes', '-keyout', 'client.key', '-out', 'client.crt', '-days', '2', '-subj', '/CN=runbook'])
        .concat(['-addext', 'extendedKeyUsage=clientAuth', '-addext', 'basicConstraints=CA:FALSE']),
      { cwd: dir },
    );
    const [host, port] = temporal.address.split(':') as [string, string];
    proxy = createServer(
      {
        key: await readFile(certs.servingKey),
        cert: await readFile(certs.servingCert),
        ca: await readFile(certs.caCert),
        requestCert: true,
        rejectUnauthorized: true,
        ALPNProtocols: ['h2'],
      },
      (tls) => {
        const upstream = connect(Number(port), host);
        tls.on('error', () => upstream.destroy());
        upstream.on('error', () => tls.destroy());
        tls.pipe(upstream).pipe(tls);
      },
    );
    proxy.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const config = join(dir, 'runbook.yaml');
    await writeFile(config, 'approval: { approvers: [oncall@example.com] }\n');
    const kubeconfig = join(dir, 'kubeconfig');
    await writeFile(
      kubeconfig,
      'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\n' +
        'users: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n',
    );
    env = {
      PATH: process.env.PATH,
      TEMPORAL_ADDRESS: `127.0.0.1:${(proxy.address() as AddressInfo).port}`,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.caCert,
      TEMPORAL_TLS_CLIENT_CERT_PATH: join(dir, 'client.crt'),
      TEMPORAL_TLS_CLIENT_KEY_PATH: join(dir, 'client.key'),
      TEMPORAL_TLS_SERVER_NAME: 'localhost',
      RUNBOOK_TASK_QUEUE: 'tls-test',
      RUNBOOK_CONFIG: config,
      KUBECONFIG: kubeconfig,
      PAGERDUTY_WEBHOOK_SECRET: 'tls-test-secret',
      LOG_LEVEL: 'error',
    };
  });
  after(async () => {
    proxy?.close();
    await temporal?.teardown();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the client connects and lists runs through the TLS endpoint', async () => {
    const c = await connectTemporal(env);
    try {
      const runs = [];
      for await (const wf of c.client.workflow.list()) runs.push(wf);
      assert.deepEqual(runs, []);
    } finally {
      await c.close();
    }
  });

  it('the CLI does too, and exits 3 with a clear message on a wrong CA', async () => {
    const cli = repoFile('dist/cli/main.js');
    const ok = await run(process.execPath, [cli, 'list'], { env });
    assert.match(ok.stdout, /no open runbook runs/);
    const wrong = await run(process.execPath, [cli, 'list'], {
      env: { ...env, TEMPORAL_TLS_SERVER_CA_CERT_PATH: otherCa.caCert },
    }).then(
      () => assert.fail('a wrong CA must not connect'),
      (err: { code: number; stderr: string }) => err,
    );
    assert.equal(wrong.code, 3);
    assert.match(wrong.stderr, /cannot reach Temporal at 127\.0\.0\.1:\d+/);
  });

  it('without the client certificate the endpoint refuses, and the error says where', async () => {
    const noCert = { ...env };
    delete noCert.TEMPORAL_TLS_CLIENT_CERT_PATH;
    delete noCert.TEMPORAL_TLS_CLIENT_KEY_PATH;
    await assert.rejects(connectTemporal(noCert, { connectTimeoutMs: 3000 }), TemporalUnreachableError);
  });

  it('the receiver connects through it', async () => {
    const receiver = await createWebhookFromEnv(env, { logger: pino({ level: 'silent' }) });
    const res = await receiver.handle(new Request('http://r/healthz'));
    assert.equal(res.status, 200);
    await receiver.close();
  });

  it('the worker connects through it and polls', async () => {
    let stop: (() => void) | undefined;
    const done = runWorker({ env, keepRuntime: true, onReady: (s) => (stop = s) });
    for (let i = 0; i < 100 && !stop; i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(stop, 'the worker started');
    stop();
    await done;
  });
});
