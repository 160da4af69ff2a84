/**
 * The least-privilege ACL (`activities/redis/acl.ts`) on a real redis-server: every Redis activity runs as a user with
 * exactly those rules, so a command the code starts to use without a rule fails here, not in production. The
 * diagnose-only user diagnoses and previews, and is refused every change.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Redis } from 'ioredis';
import { createBackupActivities } from '../../activities/backup/index.js';
import { runbookAclRules, type AclProfile } from '../../activities/redis/acl.js';
import { createRedisActivities, createRedisConnector } from '../../activities/redis/index.js';
import { repoFile } from '../../local-servers/repo-path.js';
import { startRedisServer } from '../../local-servers/redis-server.js';
import { startReplicatedSet, type ReplicatedSet } from '../../local-servers/redis-topology.js';
import type { RedisAddress } from '../../workflows/definitions.js';
import type { PlannedAction } from '../../workflows/logic/actions.js';
import { planned } from './planned-action.js';

const DAY = 86400;

describe('least-privilege ACL (real redis-servers, a primary and a replica)', () => {
  let set: ReplicatedSet;
  let admin: Redis;
  let store: string;
  let addr: RedisAddress;
  const as = (user: AclProfile) => createRedisConnector(() => ({ username: user, password: 'pw' }));
  const inRun = async <T>(fn: () => Promise<T>): Promise<T> =>
    await new MockActivityEnvironment({
      workflowExecution: { workflowId: 'redis-runbook-ACL', runId: 'run-1' },
    }).run(fn);

  before(async () => {
    set = await startReplicatedSet({ replicas: 1 });
    addr = { host: set.primary.host, port: set.primary.port };
    for (const node of [set.primary, ...set.replicas]) {
      const r = new Redis({ host: node.host, port: node.port });
      const redisVersion = /redis_version:(\S+)/.exec(await r.info('server'))?.[1];
      for (const user of ['diagnose', 'remediate'] as const) {
        await r.call('ACL', 'SETUSER', user, 'reset', 'on', '>pw', ...runbookAclRules(user, { redisVersion }));
      }
      r.disconnect();
    }
    admin = new Redis(addr);
    const now = Math.floor(Date.now() / 1000);
    const p = admin.pipeline();
    for (let i = 0; i < 500; i++) p.set(`sess:tmp:${i}`, 'x'.repeat(64));
    for (let i = 0; i < 200; i++) p.set(`cache:${i}`, 'y'.repeat(32), 'EX', 3600);
    p.set('blob', 'z'.repeat(100_000));
    p.sadd('queues', 'default').lpush('queue:default', '{"class":"A"}');
    for (let i = 0; i < 30; i++) p.zadd('dead', now - i * 30 * DAY, JSON.stringify({ class: 'HardJob', jid: `d${i}` }));
    p.zadd('retry', now, JSON.stringify({ class: 'SoftJob', failed_at: now - 60 }));
    p.set('stat:processed', '10').set('stat:processed:2024-01-01', '5');
    await p.exec();
    await admin.call('WAIT', 1, 5000);
    store = await mkdtemp(join(tmpdir(), 'acl-backups-'));
  });
  after(async () => {
    admin?.disconnect();
    await set?.stop();
    if (store) await rm(store, { recursive: true, force: true });
  });

  it('the diagnose-only user diagnoses (the script path, on the replica) and previews, and changes nothing', async () => {
    const redis = createRedisActivities(as('diagnose'));
    const evals = async () => Number(/cmdstat_evalsha:calls=(\d+)/.exec(await admin.info('commandstats'))?.[1] ?? 0);
    const d = await redis.diagnoseRedis({ redis: addr });
    assert.equal(d.scannedKeys, 707);
    assert.equal(d.bigKeys[0]?.key, 'blob');
    assert.equal(d.sidekiq?.dead, 30);
    assert.ok((d.sidekiq?.oldestDeadAgeSeconds ?? 0) > 800 * DAY);
    assert.equal(d.writable, true, 'the probe writes its own key');
    assert.equal(d.scannedOn?.[0]?.role, 'replica');
    assert.equal(await evals(), 0, 'nothing scanned on the primary');
    assert.ok(d.signals?.ownConnection?.noEvict, 'CLIENT NO-EVICT allowed');
    const preview = await redis.previewCleanup({ redis: addr, pattern: 'sess:tmp:*' });
    assert.equal(preview.keys, 500);
    for (const action of [
      planned('set-maxmemory', { kind: 'set-maxmemory', bytes: 256 * 1024 * 1024 }),
      planned('unlink', { kind: 'unlink-keys', pattern: 'sess:tmp:*', maxKeys: 10 }),
    ]) {
      await assert.rejects(
        inRun(() => redis.applyRedisAction({ redis: addr, action })),
        (err: Error & { type?: string }) => err.type === 'RedisAuth' && /NOPERM/.test(err.message),
        action.id,
      );
    }
    assert.equal(await admin.exists('sess:tmp:0'), 1);
    assert.equal((await admin.config('GET', 'maxmemory'))[1], '0');
  });

  it('the remediate user backs up, copies the snapshot off, and runs every Redis action', async () => {
    const connect = as('remediate');
    const redis = createRedisActivities(connect);
    const backup = await inRun(() => redis.backupRedis({ redis: addr, timeoutSeconds: 30 }));
    assert.equal(backup.confirmed, true, backup.error);
    const copy = await inRun(() =>
      createBackupActivities(connect, { directory: store, keep: 2 }).copyBackup({
        redis: addr,
        incidentId: 'ACL1',
        target: `cache/redis-0@127.0.0.1:${addr.port}`,
      }),
    );
    assert.equal(copy.verified, true);
    const run = (action: PlannedAction) => inRun(() => redis.applyRedisAction({ redis: addr, action }));
    const results = [
      await run(planned('set-maxmemory', { kind: 'set-maxmemory', bytes: 256 * 1024 * 1024 })),
      await run(planned('set-maxmemory-policy', { kind: 'set-maxmemory-policy', policy: 'allkeys-lru' })),
      await run(
        planned('expire', { kind: 'expire-keys', pattern: 'stat:processed:*', ttlSeconds: 90 * DAY, maxKeys: 100 }),
      ),
      await run(planned('unlink', { kind: 'unlink-keys', pattern: 'sess:tmp:*', maxKeys: 1000 })),
      await run(
        planned('trim', {
          kind: 'trim-sorted-set',
          key: 'dead',
          keep: 10,
          maxScore: Math.floor(Date.now() / 1000) - 180 * DAY,
        }),
      ),
      await run(planned('purge', { kind: 'memory-purge' })),
    ];
    for (const r of results) assert.equal(r.ok, true, `${r.id}: ${r.detail}`);
    assert.match(results[0]!.detail, /on 2 nodes/, 'the replica took the setting too');
    assert.equal(results[3]!.keysTouched, 500);
    assert.equal(await admin.zcard('dead'), 6, 'only jobs younger than 180 days are kept');
    const progress = await inRun(() => redis.actionProgress({ redis: addr, actionId: 'unlink' }));
    assert.equal(progress.touched, 500);
    // No config file here: CONFIG REWRITE is allowed and answers that it cannot write one.
    const rewrite = await run(planned('rewrite', { kind: 'config-rewrite' }));
    assert.match(rewrite.detail, /CONFIG REWRITE failed \(ERR The server is running without a config file\)/);
  });

  it('k8s/redis-users.example.acl holds exactly these rules, and redis-server loads it', async () => {
    const lines = (await readFile(repoFile('k8s/redis-users.example.acl'), 'utf8')).trim().split('\n');
    assert.deepEqual(lines, [
      `user runbook-diagnose reset on >CHANGE-ME ${runbookAclRules('diagnose').join(' ')}`,
      `user runbook reset on >CHANGE-ME ${runbookAclRules('remediate').join(' ')}`,
    ]);
    const file = join(store, 'users.acl');
    await writeFile(file, ['user default on nopass ~* &* +@all', ...lines, ''].join('\n'));
    const server = await startRedisServer({ args: ['--aclfile', file] });
    const r = new Redis({ host: server.host, port: server.port, username: 'runbook', password: 'CHANGE-ME' });
    try {
      assert.equal(await r.ping(), 'PONG');
      await assert.rejects(r.call('FLUSHALL'), /NOPERM/);
    } finally {
      r.disconnect();
      await server.stop();
    }
  });
});
