/**
 * The backup that leaves the pod, against real redis-servers: streamed over the replication protocol, its CRC-64
 * checked (and agreeing with Debian's redis-check-rdb), restore-tested in a scratch server, named only once
 * verified, retried without a second copy, kept per target by retention; refused by an ACL user without `sync`.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Redis } from 'ioredis';
import { createBackupActivities } from '../../activities/backup/index.js';
import { Crc64 } from '../../activities/backup/crc64.js';
import { RdbVerifier } from '../../activities/backup/rdb.js';
import { targetSlug } from '../../activities/backup/store.js';
import { createRedisConnector } from '../../activities/redis/index.js';
import { suiteConnector } from './suite-connector.js';
import { startRedisServer, type RedisServer } from '../../local-servers/redis-server.js';

const TARGET = 'cache/redis-0@127.0.0.1:6379';

describe('backup copy off the server', () => {
  let server: RedisServer;
  let redis: Redis;
  let store: string;

  const activitiesFor = (keep = 5, password?: string, username?: string) =>
    createBackupActivities(
      password || username
        ? createRedisConnector(() => ({ ...(password ? { password } : {}), ...(username ? { username } : {}) }))
        : suiteConnector(),
      { directory: store, keep },
    );
  const inRun = async <T>(runId: string, fn: () => Promise<T>, beats?: unknown[]): Promise<T> => {
    const env = new MockActivityEnvironment({
      workflowExecution: { workflowId: 'redis-runbook-P1', runId },
    });
    if (beats) env.on('heartbeat', (d: unknown) => beats.push(d));
    return await env.run(fn);
  };
  const fullSyncs = async () => Number(/sync_full:(\d+)/.exec(await redis.info('stats'))![1]);

  before(async () => {
    server = await startRedisServer({ enableDebug: true });
    redis = new Redis({ host: server.host, port: server.port });
    await redis.call('DEBUG', 'POPULATE', '20000', 'key', '64');
    await redis.hset('h', 'a', '1');
    await redis.rpush('l', 'x', 'y');
    await redis.zadd('z', 1, 'm');
    store = await mkdtemp(join(tmpdir(), 'backups-'));
  });
  after(async () => {
    redis?.disconnect();
    await server?.stop();
    if (store) await rm(store, { recursive: true, force: true });
  });

  it('CRC-64/Jones as Redis computes it', () => {
    // The check value of Redis's crc64.c test.
    assert.equal(new Crc64().update(Buffer.from('123456789')).hex(), 'e9c6d914c4b8d9ca');
  });

  it('streams a verified, restore-tested copy, named only once verified, with heartbeats', async () => {
    const addr = { host: server.host, port: server.port };
    const beats: unknown[] = [];
    const syncs = await fullSyncs();
    const copy = await inRun(
      'run-1',
      () => activitiesFor().copyBackup({ redis: addr, incidentId: 'P1', target: TARGET }),
      beats,
    );
    assert.equal(copy.verified, true, JSON.stringify(copy.restoreTest));
    assert.equal(await fullSyncs(), syncs + 1, 'one snapshot over the replication protocol');
    assert.equal(copy.restoreTest.keys, 20003);
    assert.equal(copy.restoreTest.expectedKeys, 20003);
    assert.equal(copy.restoreTest.sampled, 50);
    assert.equal(copy.restoreTest.typesMatched, 50);
    const bytes = readFileSync(copy.path);
    assert.equal(bytes.length, copy.bytes);
    assert.equal(createHash('sha256').update(bytes).digest('hex'), copy.sha256);
    assert.equal(
      bytes.subarray(bytes.length - 8).toString('hex'),
      Buffer.from(copy.crc64, 'hex').reverse().toString('hex'),
    );
    // Debian's own checker (Redis 7.0, RDB ≤ 10) agrees with ours; a newer server's format (Valkey 9 writes RDB 80)
    // is past what it reads, and our CRC and restore test above stand alone.
    if (copy.rdbVersion <= 10) {
      assert.match(execFileSync('redis-check-rdb', [copy.path], { encoding: 'utf8' }), /RDB looks OK/);
    }
    const files = await readdir(join(store, targetSlug(TARGET)));
    assert.deepEqual(
      files.filter((f) => f.endsWith('.partial')),
      [],
    );
    assert.equal(files.filter((f) => f.endsWith('.rdb')).length, 1);
    assert.ok(beats.length >= 1, 'progress heartbeated');
    assert.match(copy.restoreHint, /dump\.rdb/);

    // A retry of the same run (its result lost with its worker) returns that copy, without a second snapshot.
    const again = await inRun('run-1', () =>
      activitiesFor().copyBackup({ redis: addr, incidentId: 'P1', target: TARGET }),
    );
    assert.equal(again.path, copy.path);
    assert.equal(await fullSyncs(), syncs + 1);
  });

  it('a killed attempt leaves only a partial file, which the next attempt removes; retention keeps the newest', async () => {
    const addr = { host: server.host, port: server.port };
    const dir = join(store, targetSlug(TARGET));
    await writeFile(join(dir, '20260101T000000Z-P2.rdb.partial'), 'REDIS0011 half a copy');
    const first = await inRun('run-2', () =>
      activitiesFor(2).copyBackup({ redis: addr, incidentId: 'P2', target: TARGET }),
    );
    assert.equal(first.verified, true);
    let files = await readdir(dir);
    assert.deepEqual(
      files.filter((f) => f.endsWith('.partial')),
      [],
      'the stale partial file is gone',
    );
    await new Promise((r) => setTimeout(r, 1100)); // names carry the second
    const second = await inRun('run-3', () =>
      activitiesFor(2).copyBackup({ redis: addr, incidentId: 'P3', target: TARGET }),
    );
    files = (await readdir(dir)).filter((f) => f.endsWith('.rdb')).sort();
    assert.equal(files.length, 2, files.join(' '));
    assert.equal(second.pruned, 1, 'the oldest copy went');
    assert.ok(files.some((f) => second.path.endsWith(f)));
  });

  it('a corrupted snapshot fails the CRC check', () => {
    const file = readFileSync(readdirSyncRdb(join(store, targetSlug(TARGET))));
    const verifier = new RdbVerifier();
    const bad = Buffer.from(file);
    const mid = Math.floor(bad.length / 2);
    bad[mid] = bad[mid]! ^ 0xff;
    verifier.push(bad.subarray(0, 100));
    verifier.push(bad.subarray(100));
    assert.equal(verifier.result().crcOk, false);
    const good = new RdbVerifier();
    for (let i = 0; i < file.length; i += 7) good.push(file.subarray(i, i + 7));
    assert.equal(good.result().crcOk, true, 'whatever the chunking');
  });

  it('with AUTH it copies; an ACL user without sync is refused, non-retryable, and nothing is left', async () => {
    // Disk-based replication here, so both transfers (length-prefixed and diskless with an end marker) are covered.
    const secured = await startRedisServer({ args: ['--requirepass', 's3cret', '--repl-diskless-sync', 'no'] });
    const admin = new Redis({ host: secured.host, port: secured.port, password: 's3cret' });
    try {
      await admin.set('k', 'v');
      const addr = { host: secured.host, port: secured.port };
      const target = `cache/secured@127.0.0.1:${secured.port}`;
      const copy = await inRun('run-4', () =>
        activitiesFor(5, 's3cret').copyBackup({ redis: addr, incidentId: 'P4', target }),
      );
      assert.equal(copy.verified, true);
      assert.equal(copy.restoreTest.keys, 1);
      await admin.call('ACL', 'SETUSER', 'reader', 'on', '>pw', '~*', '+@read', '+info', '+config|get', '+select');
      await assert.rejects(
        inRun('run-5', () => activitiesFor(5, 'pw', 'reader').copyBackup({ redis: addr, incidentId: 'P5', target })),
        (err: Error & { type?: string; nonRetryable?: boolean }) =>
          err.type === 'BackupFailed' && err.nonRetryable === true && /NOPERM|permission/i.test(err.message),
      );
      const left = await readdir(join(store, targetSlug(target)));
      assert.deepEqual(
        left.filter((f) => f.includes('P5')),
        [],
      );
    } finally {
      admin.disconnect();
      await secured.stop();
    }
  });
});

function readdirSyncRdb(dir: string): string {
  const name = execFileSync('ls', [dir], { encoding: 'utf8' })
    .split('\n')
    .find((f) => f.endsWith('.rdb'))!;
  return join(dir, name);
}
