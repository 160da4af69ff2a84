import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { main } from '../../cli/main.js';
import { defaultThresholds, diagnoseCommand } from '../../cli/commands/diagnose.js';
import { seedCrashScenario } from '../../demo/seed-redis.js';
import type { RedisDiagnostics } from '../../activities/redis/types.js';
import type { Finding } from '../../workflows/logic/findings.js';
import { freePort } from '../../local-servers/free-port.js';
import { startRedisServer, type RedisServer } from '../../local-servers/redis-server.js';
import { testSettings } from '../workflows/fixtures.js';

let server: RedisServer;
let url: string;

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t), env: {} } };
}

before(async () => {
  server = await startRedisServer();
  url = `redis://${server.host}:${server.port}`;
  const seed = new Redis({ host: server.host, port: server.port });
  try {
    await seedCrashScenario(seed, { scale: 0.2 });
  } finally {
    seed.disconnect();
  }
});

after(async () => {
  await server?.stop();
});

void describe('runbook diagnose', () => {
  void it('prints a --memkeys-like report and the findings of the seed', async () => {
    const { out, err, io } = capture();
    const result = await diagnoseCommand({ redis: url, top: 5 }, io);
    const text = out.join('\n');
    for (const section of [
      'memory',
      'biggest keys',
      'biggest key per type',
      'prefixes by memory',
      'sidekiq',
      'findings',
    ]) {
      assert.match(text, new RegExp(`-------- ${section}`), section);
    }
    assert.match(text, /zset\s+db0\s+dead\s+\(no TTL\)/);
    assert.match(text, /Course#1000:cache/);
    assert.match(text, /stat:\*/);
    assert.match(text, /writes: refused \(OOM command not allowed/);
    assert.match(text, /\[critical\] noeviction-near-limit: /);
    assert.equal(result.diagnostics.bigKeys.length, 5);
    const ids: string[] = result.findings.map((f) => f.id);
    for (const id of ['noeviction-near-limit', 'writes-rejected', 'sidekiq-stat-no-ttl'])
      assert.ok(ids.includes(id), id);
    assert.match(err.at(-1) ?? '', /^scanned \d+ keys in [\d.]+ s$/, 'progress on stderr, not stdout');
  });

  void it('prints JSON through the program, with the default thresholds of the worker', async () => {
    const { out, io } = capture();
    const code = await main(['node', 'runbook', 'diagnose', '--redis', url, '--json', '--top', '3'], io);
    assert.equal(code, 0);
    const parsed = JSON.parse(out.join('\n')) as { diagnostics: RedisDiagnostics; findings: Finding[] };
    assert.equal(parsed.diagnostics.bigKeys.length, 3);
    assert.ok(parsed.findings.some((f) => f.id === 'writes-rejected'));
    assert.deepEqual(defaultThresholds(), testSettings().thresholds);
  });

  void it('refuses a URL with a password, and maps unreachable and refused credentials to exit codes', async () => {
    const { err, io } = capture();
    assert.equal(await main(['node', 'runbook', 'diagnose', '--redis', `redis://:secret@${server.host}:1`], io), 2);
    assert.match(err.join('\n'), /credentials/);
    assert.doesNotMatch(err.join('\n'), /secret/);
    assert.equal(await main(['node', 'runbook', 'diagnose', '--redis', `127.0.0.1:${await freePort()}`], io), 3);

    const admin = new Redis({ host: server.host, port: server.port });
    await admin.config('SET', 'requirepass', 'sekret');
    try {
      assert.equal(await main(['node', 'runbook', 'diagnose', '--redis', url], io), 2);
      const ok = capture();
      const withPassword = { ...ok.io, env: { REDIS_PASSWORD: 'sekret' } };
      assert.equal(await main(['node', 'runbook', 'diagnose', '--redis', url, '--json'], withPassword), 0);
    } finally {
      const authed = new Redis({ host: server.host, port: server.port, password: 'sekret' });
      await authed.config('SET', 'requirepass', '');
      authed.disconnect();
      admin.disconnect();
    }
  });
});
