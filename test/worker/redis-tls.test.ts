/**
 * The worker's Redis connections over TLS against a real `redis-server --tls-port` that demands client certificates:
 * the CA, certificate and key from `RUNBOOK_CONFIG`'s files, the ACL user from `REDIS_USERNAME`, a whole paced
 * diagnosis through it; a wrong CA and a missing client certificate fail, and say so.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { runbookAclRules } from '../../activities/redis/acl.js';
import { createRedisActivities } from '../../activities/redis/index.js';
import { freePort } from '../../local-servers/free-port.js';
import { startRedisServer, type RedisServer } from '../../local-servers/redis-server.js';
import { redisConnectorFromConfig } from '../../worker/redis-connector.js';
import { generateCertificates, type TestCertificates } from '../kube/certificates.js';

const run = promisify(execFile);

describe('Redis over TLS with a client certificate (real redis-server)', () => {
  let dir: string;
  let certs: TestCertificates;
  let server: RedisServer;
  let tlsPort: number;
  let clientCert: string;
  let clientKey: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'redis-tls-'));
    certs = await generateCertificates(dir);
    clientKey = join(dir, 'client.key');
    clientCert = join(dir, 'client.crt');
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
    await run('openssl', ['req', '-new', ...ec, '-keyout', clientKey, '-out', 'client.csr', '-subj', '/CN=runbook'], {
      cwd: dir,
    });
    await run(
      'openssl',
      ['x509', '-req', '-in', 'client.csr', '-CA', certs.caCert, '-CAkey', certs.caKey, '-CAcreateserial'],
      { cwd: dir },
    ).then(async ({ stdout }) => {
      const { writeFile } = await import('node:fs/promises');
      await writeFile(clientCert, stdout);
    });
    tlsPort = await freePort();
    server = await startRedisServer({
      args: [
        '--tls-port',
        String(tlsPort),
        '--tls-cert-file',
        certs.servingCert,
        '--tls-key-file',
        certs.servingKey,
        '--tls-ca-cert-file',
        certs.caCert,
        '--tls-auth-clients',
        'yes',
        '--tls-replication',
        'no',
      ],
    });
    const admin = new Redis({ host: server.host, port: server.port });
    const redisVersion = /redis_version:(\S+)/.exec(await admin.info('server'))?.[1];
    await admin.call(
      'ACL',
      'SETUSER',
      'runbook',
      'reset',
      'on',
      '>pw',
      ...runbookAclRules('diagnose', { redisVersion }),
    );
    await admin.set('k', 'v');
    admin.disconnect();
  });
  after(async () => {
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const config = (files: { tlsCaFile?: string; tlsCertFile?: string; tlsKeyFile?: string }) => ({
    targets: [],
    redis: { passwordEnv: 'REDIS_PASSWORD', usernameEnv: 'REDIS_USERNAME', tls: true, ...files },
  });
  const env = { REDIS_USERNAME: 'runbook', REDIS_PASSWORD: 'pw' };

  it('diagnoses through TLS as the ACL user, with the CA and the client certificate from files', async () => {
    const connect = redisConnectorFromConfig(
      config({ tlsCaFile: certs.caCert, tlsCertFile: clientCert, tlsKeyFile: clientKey }),
      env,
    );
    const whoami = connect({ host: '127.0.0.1', port: tlsPort });
    try {
      assert.equal(await whoami.ping(), 'PONG');
      await assert.rejects(whoami.call('ACL', 'WHOAMI'), /NOPERM/, 'the runbook user, not the default one');
    } finally {
      whoami.disconnect();
    }
    const d = await createRedisActivities(connect).diagnoseRedis({ redis: { host: '127.0.0.1', port: tlsPort } });
    assert.equal(d.scannedKeys, 1);
    assert.equal(d.writable, true);
  });

  it('a missing client certificate and a wrong CA fail, and say why', async () => {
    const ping = async (files: Parameters<typeof config>[0]) => {
      const r = redisConnectorFromConfig(config(files), env)({ host: '127.0.0.1', port: tlsPort });
      let event: Error | undefined;
      r.on('error', (err: Error) => (event = err));
      try {
        await r.connect();
        await r.ping();
      } catch (err) {
        throw event ?? err;
      } finally {
        r.disconnect();
      }
    };
    await assert.rejects(ping({ tlsCaFile: certs.caCert }), /certificate|ECONNRESET|closed|alert/i);
    await assert.rejects(
      ping({ tlsCaFile: certs.servingCert, tlsCertFile: clientCert, tlsKeyFile: clientKey }),
      /certificate/i,
    );
  });
});
