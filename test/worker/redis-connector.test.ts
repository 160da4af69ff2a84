import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { passwordEnvFor } from '../../config/secrets.js';
import { redisConnectorFromConfig } from '../../worker/redis-connector.js';

const cfg = {
  redis: { passwordEnv: 'REDIS_PASSWORD', usernameEnv: 'REDIS_USERNAME', tls: false },
  targets: [
    { name: 'a', namespace: 'n', pod: 'p', redis: { host: 'Redis-A.cache', port: 6379 }, passwordEnv: 'A_PW' },
    { name: 'b', namespace: 'n', pod: 'q', redis: { host: '127.0.0.1', port: 6380 } },
  ],
};

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

void describe('passwordEnvFor', () => {
  void it('uses the matching target’s variable, else the global one', () => {
    assert.equal(passwordEnvFor(cfg, { host: 'redis-a.cache', port: 6379 }), 'A_PW');
    assert.equal(passwordEnvFor(cfg, { host: 'redis-a.cache', port: 6390 }), 'REDIS_PASSWORD');
    assert.equal(passwordEnvFor(cfg, { host: '127.0.0.1', port: 6380 }), 'REDIS_PASSWORD');
    assert.equal(passwordEnvFor(cfg, { host: 'other', port: 6379 }), 'REDIS_PASSWORD');
  });
});

void describe('redisConnectorFromConfig against redis-server with requirepass', () => {
  let server: ChildProcess;
  let port: number;

  before(async () => {
    port = await freePort();
    server = spawn(
      'redis-server',
      ['--port', String(port), '--save', '', '--appendonly', 'no', '--requirepass', 's3cret'],
      {
        stdio: 'ignore',
      },
    );
    for (let i = 0; i < 50; i++) {
      const probe = redisConnectorFromConfig(cfg, { REDIS_PASSWORD: 's3cret' })({ host: '127.0.0.1', port });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        probe.disconnect();
        return;
      } catch {
        probe.disconnect();
        await sleep(100);
      }
    }
    throw new Error('redis-server did not start');
  });
  after(() => {
    server.kill();
  });

  void it('connects lazily and authenticates with the password from the environment', async () => {
    const redis = redisConnectorFromConfig(cfg, { REDIS_PASSWORD: 's3cret' })({ host: '127.0.0.1', port, db: 3 });
    assert.equal(redis.status, 'wait');
    await redis.connect();
    assert.equal(await redis.ping(), 'PONG');
    assert.equal(redis.options.db, 3);
    redis.disconnect();
  });

  void it('reads the variable when the client is built, so a rotated secret is used', async () => {
    const env: NodeJS.ProcessEnv = { REDIS_PASSWORD: 'old' };
    const connect = redisConnectorFromConfig(cfg, env);
    env.REDIS_PASSWORD = 's3cret';
    const redis = connect({ host: '127.0.0.1', port });
    await redis.connect();
    assert.equal(await redis.ping(), 'PONG');
    redis.disconnect();
  });

  void it('sends no AUTH when the variable is unset, and the server refuses commands', async () => {
    const redis = redisConnectorFromConfig(cfg, {})({ host: '127.0.0.1', port });
    const errors: Error[] = [];
    redis.on('error', (err: Error) => errors.push(err));
    await redis.connect().catch((err: Error) => errors.push(err));
    await redis.ping().catch((err: Error) => errors.push(err));
    redis.disconnect();
    assert.ok(
      errors.some((e) => /NOAUTH/.test(e.message)),
      errors.map((e) => e.message).join('; '),
    );
  });

  void it('enables TLS when configured', () => {
    const redis = redisConnectorFromConfig({ ...cfg, redis: { ...cfg.redis, tls: true } }, {})({ host: 'h', port: 1 });
    assert.deepEqual(redis.options.tls, { servername: 'h' });
    assert.equal(redis.options.lazyConnect, true);
    redis.disconnect();
  });
});
