import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Redis } from 'ioredis';
import { createRedisActivities, createRedisConnector, type RedisActivities } from '../../activities/redis/index.js';
import { suiteConnector } from './suite-connector.js';
import { MARKER_PREFIX, markerKey, unlinkByPattern, type CleanupState } from '../../activities/redis/cleanup.js';
import { takeBackup, type BackupProgress } from '../../activities/redis/backup.js';
import { parseInfo, commandCalls, rdbStateOf } from '../../activities/redis/info.js';
import { LatencyPacer, threadLatency, type LatencySource } from '../../activities/redis/pacing.js';
import { detachedProgress } from '../../activities/redis/progress.js';
import { scanKeyspace, OTHER_PREFIX, type ScanState } from '../../activities/redis/scan.js';
import { hasVolatileKeys } from '../../activities/redis/key-page.js';
import { seedCrashScenario } from '../../demo/seed-redis.js';
import type { RedisAddress } from '../../workflows/definitions.js';
import type { PlannedAction, RemediationAction } from '../../workflows/logic/actions.js';
import { startRedisServer, type RedisServer } from '../../local-servers/redis-server.js';
import { freePort } from '../../local-servers/free-port.js';

let server: RedisServer;
let admin: Redis;
let activities: RedisActivities;
let addr: RedisAddress;

const planned = (action: RemediationAction, id: string = action.kind): PlannedAction => ({
  id,
  risk: 'risky',
  destructive: true,
  summary: id,
  action,
});

/** `MockActivityEnvironment.run` cannot infer its result type from the function: this spells it out. */
function runIn<T>(env: MockActivityEnvironment, fn: () => Promise<T>): Promise<T> {
  return env.run<[], T, () => Promise<T>>(fn);
}

async function persistence() {
  return rdbStateOf(parseInfo(await admin.info('persistence')));
}

async function keysWithoutTtl(pattern: string): Promise<number> {
  let cursor = '0';
  let count = 0;
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) if ((await admin.pttl(key)) === -1) count++;
  } while (cursor !== '0');
  return count;
}

/** Keys in the current db apart from the runbook's own progress markers (SCAN: the suite checks it never sent KEYS). */
async function dataKeys(): Promise<number> {
  let cursor = '0';
  let count = 0;
  do {
    const [next, keys] = await admin.scan(cursor, 'COUNT', 1000);
    count += keys.filter((k) => !k.startsWith(MARKER_PREFIX)).length;
    cursor = next;
  } while (cursor !== '0');
  return count;
}

/**
 * Waits out the keyspace's incremental rehash (serverCron finishes it within a tick or two, at hz 10): a SCAN during
 * a rehash walks both tables, so two scans on either side of its end page the keys differently. For the tests that
 * compare two scans page for page.
 */
const rehashed = () => new Promise((r) => setTimeout(r, 300));

async function fill(count: number, key: (i: number) => string, value = 'v', ttl?: number) {
  const p = admin.pipeline();
  for (let i = 0; i < count; i++) {
    if (ttl) p.set(key(i), value, 'EX', ttl);
    else p.set(key(i), value);
  }
  await p.exec();
}

before(async () => {
  // Protected configs: the backup-failure test moves `dir`.
  server = await startRedisServer({ enableDebug: true, args: ['--enable-protected-configs', 'yes'] });
  admin = new Redis({ host: server.host, port: server.port, maxRetriesPerRequest: 1 });
  activities = createRedisActivities(suiteConnector());
  addr = { host: server.host, port: server.port };
});

after(async () => {
  admin?.disconnect();
  await server?.stop();
});

beforeEach(async () => {
  await admin.select(0);
  await admin.flushall();
  await admin.config('SET', 'maxmemory', '0', 'maxmemory-policy', 'noeviction', 'rdb-key-save-delay', '0');
});

void describe('diagnoseRedis', () => {
  void it('finds big keys, prefixes, TTL-less keys, Sidekiq figures and keyspace across 2 dbs', async () => {
    await admin.set('big:blob', 'x'.repeat(300_000));
    await admin.hset('h:1', 'a', '1');
    await fill(50, (i) => `stat:processed:2026-01-${i}`);
    await fill(10, (i) => `stat:tmp:${i}`, '1', 3600);
    await admin.set('stat:processed', '123');
    await fill(20, (i) => `session:${i}`, 's', 600);
    await admin.zadd('retry', 1, 'a', 2, 'b', 3, 'c');
    await admin.zadd('dead', 1, 'a', 2, 'b', 3, 'c', 4, 'd', 5, 'e');
    await admin.zadd('schedule', 1, 'a', 2, 'b');
    await admin.sadd('queues', 'default', 'mailers');
    await admin.rpush('queue:default', 'j1', 'j2', 'j3', 'j4');
    await admin.rpush('queue:mailers', 'm1');
    await admin.select(1);
    await fill(7, (i) => `other:${i}`);
    await admin.rpush('list:big', ...Array.from({ length: 2000 }, (_, i) => `item-${i}-${'y'.repeat(50)}`));
    await admin.select(0);
    const db0Keys = await admin.dbsize();

    const d = await activities.diagnoseRedis({ redis: addr, topKeys: 5, scanCount: 10 });

    assert.match(d.version, /^7\./);
    assert.deepEqual(d.keyspace, [
      { db: 0, keys: db0Keys, expires: 30 },
      { db: 1, keys: 8, expires: 0 },
    ]);
    assert.equal(d.scannedKeys, db0Keys + 8);
    assert.equal(d.bigKeys.length, 5);
    assert.deepEqual(
      d.bigKeys.map((k) => k.bytes),
      [...d.bigKeys.map((k) => k.bytes)].sort((a, b) => b - a),
    );
    assert.deepEqual(
      d.bigKeys.slice(0, 2).map(({ key, db, type, ttlSeconds }) => ({ key, db, type, ttlSeconds })),
      [
        { key: 'big:blob', db: 0, type: 'string', ttlSeconds: -1 },
        { key: 'list:big', db: 1, type: 'list', ttlSeconds: -1 },
      ],
    );
    assert.ok(d.bigKeys[0]!.bytes > 300_000);

    const prefix = (p: string) => d.prefixes.find((x) => x.prefix === p);
    assert.equal(prefix('stat:')?.keys, 61);
    assert.equal(prefix('stat:')?.keysWithoutTtl, 51);
    assert.deepEqual(
      { ...prefix('session:'), bytes: 0 },
      { prefix: 'session:', keys: 20, bytes: 0, keysWithoutTtl: 0 },
    );
    assert.equal(prefix('other:')?.keys, 7);
    assert.equal(prefix('dead')?.keys, 1);
    assert.equal(
      d.prefixes.reduce((sum, p) => sum + p.keys, 0),
      d.scannedKeys,
    );

    const now = Number((await admin.time())[0]);
    assert.ok(Math.abs((d.sidekiq?.oldestDeadAgeSeconds ?? 0) - (now - 1)) <= 2, 'the dead job scored 1 s after epoch');
    assert.ok(Math.abs((d.sidekiq?.serverTime ?? 0) - now) <= 2, "the server's clock, the base of an age cut-off");
    assert.deepEqual(d.sidekiq, {
      serverTime: d.sidekiq?.serverTime,
      oldestDeadAgeSeconds: d.sidekiq?.oldestDeadAgeSeconds,
      retry: 3,
      dead: 5,
      schedule: 2,
      queues: [
        { name: 'default', length: 4 },
        { name: 'mailers', length: 1 },
      ],
      statKeys: 61,
      statKeysWithoutTtl: 51,
    });
    assert.equal(d.writable, true);
    assert.equal(d.writeError, undefined);
    assert.equal(await admin.dbsize(), db0Keys, 'the probe key is removed');
    assert.equal(d.config.maxmemoryPolicy, 'noeviction');
    assert.equal(d.config.dir, server.dir);
    assert.equal(d.memory.maxmemory, 0);
  });

  void it('reports writable:false with the OOM error when memory is full under noeviction', async () => {
    await fill(100, (i) => `k:${i}`);
    await admin.config('SET', 'maxmemory', '1');
    const d = await activities.diagnoseRedis({ redis: addr });
    await admin.config('SET', 'maxmemory', '0');
    assert.equal(d.writable, false);
    assert.match(d.writeError ?? '', /^OOM command not allowed/);
    assert.equal(d.config.maxmemory, 1);
    assert.equal(d.sidekiq, undefined, 'no Sidekiq keys, no Sidekiq figures');
  });

  void it("reads Redis 7's signals (MEMORY STATS, LATENCY LATEST, the largest output buffer) and protects its own connection", async () => {
    await admin.config('SET', 'latency-monitor-threshold', '50');
    await admin.call('DEBUG', 'SLEEP', '0.12');
    // A client with a big unread reply in its output buffer.
    const slow = new Redis({ host: server.host, port: server.port, connectionName: 'slow-reader' });
    await slow.set('big:reply', 'x'.repeat(4 * 1024 * 1024));
    try {
      slow.stream.pause();
      for (let i = 0; i < 8; i++) void slow.get('big:reply').catch(() => undefined);
      await new Promise((r) => setTimeout(r, 200));
      const d = await activities.diagnoseRedis({ redis: addr });
      const s = d.signals!;
      assert.equal(typeof s.clientsMemory, 'number');
      assert.equal(typeof s.replicationBacklog, 'number');
      assert.equal(s.notCountedForEvict, 0);
      assert.equal(s.evictedClients, 0);
      assert.equal(s.maxmemoryClients, '0');
      assert.ok((s.largestOutputBuffer?.bytes ?? 0) > 1024 * 1024, JSON.stringify(s.largestOutputBuffer));
      assert.match(s.largestOutputBuffer?.client ?? '', /^slow-reader .*last command get/);
      const command = s.latency?.find((l) => l.event === 'command');
      assert.ok((command?.maxMs ?? 0) >= 120, JSON.stringify(s.latency));
      const [major = 0, minor = 0] = d.version.split('.').map(Number);
      assert.deepEqual(s.ownConnection, { noEvict: true, noTouch: major > 7 || (major === 7 && minor >= 2) });
    } finally {
      slow.disconnect();
      await admin.config('SET', 'latency-monitor-threshold', '0');
      await admin.call('LATENCY', 'RESET');
      await admin.unlink('big:reply');
    }
  });

  void it('reads memory overhead, MEMORY DOCTOR and the calls of KEYS, DEL, MONITOR and FLUSHALL', async () => {
    // The stats are reset below: check first that the tests so far sent neither KEYS nor DEL.
    const soFar = commandCalls(parseInfo(await admin.info('commandstats')));
    assert.equal(soFar['keys'], undefined);
    assert.equal(soFar['del'], undefined);
    await admin.config('RESETSTAT');
    const quiet = await activities.diagnoseRedis({ redis: addr });
    assert.deepEqual(quiet.commands, { keys: 0, del: 0, delUsecPerCall: 0, monitor: 0, flushall: 0, flushdb: 0 });
    assert.ok((quiet.memory.usedMemoryOverhead ?? 0) > 0);
    assert.ok((quiet.memory.usedMemoryDataset ?? -1) >= 0);
    assert.equal(typeof quiet.stats.totalErrorReplies, 'number');
    assert.ok(quiet.memoryDoctor && quiet.memoryDoctor.length > 0 && quiet.memoryDoctor.length <= 600);

    // Someone else's client runs the commands the runbook never sends.
    const rogue = new Redis({ host: server.host, port: server.port });
    try {
      await rogue.set('a', '1');
      await rogue.keys('*');
      await rogue.keys('a*');
      await rogue.rpush('biglist', ...Array.from({ length: 5000 }, (_, i) => `item-${i}`));
      await rogue.del('biglist', 'a');
      await rogue.flushall();
      await rogue.call('ZADD', 'dead', '1', 'x').catch(() => undefined);
    } finally {
      rogue.disconnect();
    }
    const d = await activities.diagnoseRedis({ redis: addr });
    assert.deepEqual(
      { ...d.commands, delUsecPerCall: 0 },
      {
        keys: 2,
        del: 1,
        delUsecPerCall: 0,
        monitor: 0,
        flushall: 1,
        flushdb: 0,
      },
    );
    assert.ok((d.commands?.delUsecPerCall ?? 0) > 0);
    await admin.config('RESETSTAT');
  });

  void it('scans to the same result with the script and with the plain pipeline', async () => {
    for (let n = 1; n <= 3; n++) await fill(100, (i) => `k${n}:${i}`, 'v'.repeat(100 * n));
    await fill(50, (i) => `t:${i}`, 'w', 600);
    await admin.rpush('l:big', ...Array.from({ length: 1000 }, (_, i) => `item-${i}`));
    await admin.sadd('queues', 'default');
    // Names where bytes and characters differ, or the delimiter is far: the server groups, keyPrefix names.
    const odd = [
      `${'é'.repeat(40)}:a`, // delimiter at character 40, byte 80
      `${'é'.repeat(40)}:b`,
      'é'.repeat(50), // no delimiter, 50 characters, 100 bytes
      `${'z'.repeat(70)}:x`, // delimiter past 64
      `${'z'.repeat(70)}:y`,
      'short',
      Buffer.from([0xff, 0xfe, 0x3a, 0x31]), // not UTF-8, then ':'
      'stat:processed',
      'stat:failed',
    ];
    for (const name of odd) await admin.set(name, 'x');
    await admin.expire('stat:failed', 600);
    await rehashed();
    const opts = { topKeys: 5, scanCount: 50 };
    const script = await scanKeyspace(admin, [0], opts, detachedProgress());
    const plain = await scanKeyspace(admin, [0], { ...opts, useScript: false }, detachedProgress());
    assert.equal(script.scannedKeys, 352 + odd.length);
    assert.deepEqual(script, plain);
    const prefixes = new Map(script.prefixes.map((p) => [p.prefix, p.keys]));
    assert.equal(prefixes.get(`${'é'.repeat(40)}:`), 2);
    assert.equal(prefixes.get(`${'é'.repeat(40)}…`), 1);
    assert.equal(prefixes.get(`${'z'.repeat(40)}…`), 2);
    assert.equal(prefixes.get('\ufffd\ufffd:'), 1);
    assert.deepEqual([script.statKeys, script.statKeysWithoutTtl], [2, 1]);
    assert.equal(script.sidekiqDb, 0, 'the queues marker is typed although small');
    assert.deepEqual(
      script.bigKeys.map((k) => k.type),
      ['list', 'string', 'string', 'string', 'string'],
    );
    assert.equal(script.prefixes.find((p) => p.prefix === 't:')?.keysWithoutTtl, 0);

    // No volatile key left: PTTL is skipped, and every key counts as without TTL on both paths.
    for (let i = 0; i < 50; i++) await admin.persist(`t:${i}`);
    await admin.persist('stat:failed');
    const persistent = await scanKeyspace(admin, [0], opts, detachedProgress());
    assert.deepEqual(persistent, await scanKeyspace(admin, [0], { ...opts, useScript: false }, detachedProgress()));
    assert.ok(persistent.prefixes.every((p) => p.keysWithoutTtl === p.keys));
    assert.deepEqual([persistent.statKeys, persistent.statKeysWithoutTtl], [2, 2]);
  });

  void it('reads volatile keys from INFO keyspace, assuming some where it cannot tell', () => {
    const info = '# Keyspace\r\ndb0:keys=10,expires=0,avg_ttl=0\r\ndb10:keys=5,expires=2,avg_ttl=9,subexpiry=0\r\n';
    assert.equal(hasVolatileKeys(info, 0), false);
    assert.equal(hasVolatileKeys(info, 10), true);
    assert.equal(hasVolatileKeys(info, 1), true, 'a db INFO does not list');
    assert.equal(hasVolatileKeys('db1:keys=5,volatile=0', 1), true, 'a format it does not know');
  });

  void it('a scan paced by a slow probe pauses between pages and finds what the unpaced scan finds', async () => {
    await fill(300, (i) => `paced:${i}`, 'v'.repeat(20));
    await rehashed();
    const opts = { topKeys: 5, scanCount: 50 };
    const unpaced = await scanKeyspace(admin, [0], opts, detachedProgress());
    let emit: (ms: number) => void = () => undefined;
    const slow: LatencySource = {
      start: (sample) => (emit = sample),
      inFlightMs: () => undefined,
      stop: () => Promise.resolve(),
    };
    const pacer = new LatencyPacer(slow, { p99TargetMs: 5, maxPauseMs: 8 });
    await pacer.ready(10);
    const pauses: number[] = [];
    const paced = await scanKeyspace(
      admin,
      [0],
      {
        ...opts,
        pace: async () => {
          emit(50); // Redis answers others in 50 ms: over the 5 ms target
          pauses.push(await pacer.afterBatch());
        },
      },
      detachedProgress(),
    );
    const report = await pacer.stop();
    assert.deepEqual(paced, unpaced);
    assert.ok(pauses.length >= 5, `paused before each next page (${pauses.length})`);
    assert.ok(pauses.every((ms) => ms > 0));
    assert.equal(report.pauses, pauses.length);
  });

  void it('folds prefixes beyond the cap into (other) and resumes a scan to the same result', async () => {
    for (let p = 0; p < 10; p++) await fill(10, (i) => `p${p}:${i}`, 'v'.repeat(10 * (p + 1)));
    await admin.set('huge', 'z'.repeat(50_000));
    await rehashed();
    const states: ScanState[] = [];
    const full = await scanKeyspace(
      admin,
      [0],
      { topKeys: 3, scanCount: 10, maxPrefixes: 4 },
      detachedProgress<ScanState>(undefined, (s) => states.push(s)),
    );
    assert.equal(full.scannedKeys, 101);
    assert.equal(full.prefixes.length, 5);
    const other = full.prefixes.find((p) => p.prefix === OTHER_PREFIX);
    const named = full.prefixes.filter((p) => p !== other);
    assert.equal(named.length, 4);
    assert.ok(other && other.keys >= 101 - 4 * 10);
    assert.equal(other.keys + named.reduce((sum, p) => sum + p.keys, 0), 101);
    assert.equal(full.bigKeys[0]?.key, 'huge');
    assert.ok(states.length > 3, 'one report per batch');

    const midway = states[2]!;
    assert.notEqual(midway.cursor, '0');
    let resumedReports = 0;
    const resumed = await scanKeyspace(
      admin,
      [0],
      { topKeys: 3, scanCount: 10, maxPrefixes: 4 },
      detachedProgress(midway, () => resumedReports++),
    );
    assert.equal(resumedReports, states.length - 3, 'the resumed scan starts after the third batch');
    assert.equal(resumed.scannedKeys, full.scannedKeys);
    assert.deepEqual(resumed.bigKeys, full.bigKeys);
    assert.deepEqual(resumed.prefixes, full.prefixes);
  });
});

void describe('backupRedis', () => {
  void it('takes a confirmed BGSAVE and finds the RDB file', async () => {
    await fill(100, (i) => `k:${i}`);
    const before = await persistence();
    const result = await activities.backupRedis({ redis: addr, timeoutSeconds: 20 });
    assert.equal(result.confirmed, true);
    assert.equal(result.status, 'ok');
    assert.equal(result.previousLastSave, before.lastSaveTime);
    assert.ok(result.lastSave > result.previousLastSave, 'LASTSAVE advanced');
    assert.equal(result.dir, server.dir);
    assert.equal(result.dbfilename, 'dump.rdb');
    const file = join(server.dir, 'dump.rdb');
    assert.ok(existsSync(file));
    assert.equal(result.rdbBytes, statSync(file).size);
    assert.ok(result.rdbBytes > 0);
    assert.equal((await persistence()).saves, (before.saves ?? 0) + 1);

    const again = await activities.backupRedis({ redis: addr, timeoutSeconds: 20 });
    assert.ok(again.lastSave > result.lastSave, 'a second run takes another backup');
  });

  void it('waits for a BGSAVE already running, then takes its own', async () => {
    await admin.call('DEBUG', 'POPULATE', '1000', 'pop');
    await admin.config('SET', 'rdb-key-save-delay', '400'); // µs per key: ~0.4 s per save
    const before = await persistence();
    await admin.bgsave();
    assert.equal((await persistence()).inProgress, true);
    const result = await activities.backupRedis({ redis: addr, timeoutSeconds: 20 });
    const after = await persistence();
    assert.equal(result.confirmed, true);
    assert.equal(after.saves, (before.saves ?? 0) + 2, 'the running save, then ours');
    assert.equal(after.inProgress, false);
  });

  void it('a retried backup waits for the save its killed attempt started: one fork', async () => {
    await admin.call('DEBUG', 'POPULATE', '2000', 'pop');
    await admin.config('SET', 'rdb-key-save-delay', '300'); // ~0.6 s per save: the kill lands mid-save
    const before = await persistence();
    const killedMidSave = detachedProgress<BackupProgress>(undefined, (p) => {
      if (p.phase === 'saving') throw new Error('worker killed');
    });
    const job = { timeoutSeconds: 20, pollMs: 20, markerScope: 'run-backup' };
    await assert.rejects(takeBackup(admin, job, killedMidSave), /worker killed/);
    assert.equal((await persistence()).inProgress, true, 'the save goes on without the worker');
    const result = await takeBackup(admin, job, detachedProgress());
    const after = await persistence();
    assert.equal(result.confirmed, true);
    assert.equal(after.saves, (before.saves ?? 0) + 1, 'one fork for both attempts');
    assert.equal(result.previousLastSave, before.lastSaveTime);
    // And once it is done, a retry still confirms that same save without forking.
    const late = await takeBackup(admin, job, detachedProgress());
    assert.equal(late.confirmed, true);
    assert.equal((await persistence()).saves, after.saves);
  });

  void it('fails with BackupFailed when the save cannot be written', async () => {
    const gone = await mkdtemp(join(tmpdir(), 'redis-runbook-gone-'));
    try {
      await admin.config('SET', 'dir', gone);
      await rm(gone, { recursive: true });
      await assert.rejects(
        activities.backupRedis({ redis: addr, timeoutSeconds: 20 }),
        (err: Error & Record<string, unknown>) => {
          assert.equal(err['type'], 'BackupFailed');
          assert.equal(err['nonRetryable'], true);
          assert.match(err.message, /rdb_last_bgsave_status:err/);
          return true;
        },
      );
    } finally {
      await admin.config('SET', 'dir', server.dir);
      await rm(gone, { recursive: true, force: true });
    }
  });
});

void describe('previewCleanup', () => {
  void it('counts keys, bytes and TTLs of a pattern and names three, without changing anything', async () => {
    await fill(50, (i) => `sess:tmp:${i}`, 'x'.repeat(100));
    await fill(5, (i) => `sess:tmp:ttl:${i}`, 'x', 600);
    await fill(20, (i) => `sess:keep:${i}`);
    const before = await dataKeys();
    const preview = await activities.previewCleanup({ redis: addr, pattern: 'sess:tmp:*', scanCount: 7 });
    assert.equal(preview.keys, 55);
    assert.equal(preview.withTtl, 5);
    assert.ok(preview.bytes >= 55 * 100, String(preview.bytes));
    assert.equal(preview.samples.length, 3);
    for (const k of preview.samples) assert.match(k, /^sess:tmp:/);
    assert.equal(preview.dbKeys, 75);
    assert.equal(await dataKeys(), before, 'read-only');
    await assert.rejects(activities.previewCleanup({ redis: addr, pattern: '*' }), /too broad/);
  });
});

void describe('applyRedisAction', () => {
  const apply = (action: RemediationAction, id?: string) =>
    activities.applyRedisAction({ redis: addr, action: planned(action, id) });
  const invalid = { type: 'InvalidAction', nonRetryable: true };

  void it('set-maxmemory sets it once, refuses 0 and values below the memory in use', async () => {
    const [, before] = (await admin.config('GET', 'maxmemory')) as [string, string];
    const first = await apply({ kind: 'set-maxmemory', bytes: 64 * 1024 * 1024 });
    assert.equal(first.ok, true);
    assert.deepEqual(first.previous, { maxmemory: Number(before) }, 'the value it replaced, for a rollback');
    assert.deepEqual(await admin.config('GET', 'maxmemory'), ['maxmemory', String(64 * 1024 * 1024)]);
    const second = await apply({ kind: 'set-maxmemory', bytes: 64 * 1024 * 1024 });
    assert.match(second.detail, /already/);
    await assert.rejects(apply({ kind: 'set-maxmemory', bytes: 0 }), invalid);
    await assert.rejects(apply({ kind: 'set-maxmemory', bytes: 1024 }), invalid);
    assert.deepEqual(await admin.config('GET', 'maxmemory'), ['maxmemory', String(64 * 1024 * 1024)]);
  });

  void it('set-maxmemory-policy sets a known policy once and refuses others', async () => {
    const [, before] = (await admin.config('GET', 'maxmemory-policy')) as [string, string];
    const set = await apply({ kind: 'set-maxmemory-policy', policy: 'allkeys-lru' });
    assert.equal(set.ok, true);
    if (before !== 'allkeys-lru') assert.deepEqual(set.previous, { 'maxmemory-policy': before });
    assert.deepEqual(await admin.config('GET', 'maxmemory-policy'), ['maxmemory-policy', 'allkeys-lru']);
    assert.match((await apply({ kind: 'set-maxmemory-policy', policy: 'allkeys-lru' })).detail, /already/);
    await assert.rejects(apply({ kind: 'set-maxmemory-policy', policy: 'delete-everything' }), invalid);
  });

  void it('expire-keys gives a TTL only to keys without one, once', async () => {
    await fill(30, (i) => `stat:d:${i}`);
    await fill(5, (i) => `stat:t:${i}`, 'v', 100);
    await fill(5, (i) => `keep:${i}`);
    const action: RemediationAction = { kind: 'expire-keys', pattern: 'stat:*', ttlSeconds: 3600, maxKeys: 1000 };
    const first = await apply(action);
    assert.equal(first.keysTouched, 30);
    assert.equal(await keysWithoutTtl('stat:*'), 0);
    assert.ok((await admin.ttl('stat:t:0')) <= 100, 'an existing TTL is kept');
    assert.ok((await admin.ttl('stat:d:0')) > 3000);
    assert.equal(await keysWithoutTtl('keep:*'), 5);
    const second = await apply(action);
    assert.equal(second.keysTouched, 0);
  });

  void it('expire-keys stops at maxKeys and says so', async () => {
    await fill(30, (i) => `stat:d:${i}`);
    const result = await apply({ kind: 'expire-keys', pattern: 'stat:*', ttlSeconds: 3600, maxKeys: 10 });
    assert.equal(result.keysTouched, 10);
    assert.match(result.detail, /cap of 10/);
    assert.equal(await keysWithoutTtl('stat:*'), 20);
  });

  void it('unlink-keys removes matching keys only, reports bytes, and is idempotent', async () => {
    await fill(40, (i) => `tmp:${i}`, 'x'.repeat(1000));
    await fill(5, (i) => `keep:${i}`);
    const action: RemediationAction = { kind: 'unlink-keys', pattern: 'tmp:*', maxKeys: 1000 };
    const first = await apply(action);
    assert.equal(first.keysTouched, 40);
    assert.ok((first.bytesFreed ?? 0) >= 40 * 1000);
    assert.doesNotMatch(first.detail, /cap/);
    assert.equal(await dataKeys(), 5);
    const second = await apply(action);
    assert.equal(second.keysTouched, 0);
    assert.equal(second.bytesFreed, 0);
  });

  void it('unlink-keys stops at maxKeys and says so', async () => {
    await fill(40, (i) => `tmp:${i}`);
    const result = await apply({ kind: 'unlink-keys', pattern: 'tmp:*', maxKeys: 15 });
    assert.equal(result.keysTouched, 15);
    assert.match(result.detail, /cap of 15/);
    assert.equal(await dataKeys(), 25);
  });

  void it('unlink resumes from its marker without counting twice, cap included', async () => {
    await fill(100, (i) => `tmp:${i}`, 'x'.repeat(100));
    const job = {
      actionId: 'cleanup-tmp',
      marker: markerKey('run-1', 'cleanup-tmp'),
      pattern: 'tmp:*',
      maxKeys: 70,
      scanCount: 10,
    };
    let reports = 0;
    const crashing = detachedProgress<CleanupState>(undefined, () => {
      if (++reports === 3) throw new Error('worker crashed');
    });
    await assert.rejects(unlinkByPattern(admin, job, crashing), /worker crashed/);
    const removedBefore = 100 - (await dataKeys());
    assert.ok(removedBefore > 0 && removedBefore < 70);

    // No heartbeat given: the marker in Redis is what the retry resumes from.
    const outcome = await unlinkByPattern(admin, job, detachedProgress());
    assert.equal(outcome.touched, 70);
    assert.equal(outcome.capReached, true);
    assert.equal(await dataKeys(), 30);
    assert.ok(outcome.bytesFreed > 0);

    const again = await unlinkByPattern(admin, job, detachedProgress());
    assert.deepEqual([again.touched, again.capReached], [70, true], 'a retry after the end reports the same');
    const otherAction = await unlinkByPattern(
      admin,
      { ...job, actionId: 'another', marker: markerKey('run-1', 'another') },
      detachedProgress(),
    );
    assert.equal(otherAction.touched, 30, "another action's marker is its own");
  });

  void it('unlink-keys is paced by the probe: a tightened p99 target pauses between batches, a loose one never', async () => {
    const pausesOf = (detail: string) => Number(/(\d+) pause\(s\)/.exec(detail)?.[1] ?? NaN);
    const run = async (p99TargetMs: number) => {
      await admin.call('DEBUG', 'POPULATE', '3000', 'paced', '10');
      const result = await activities.applyRedisAction({
        redis: addr,
        action: planned({ kind: 'unlink-keys', pattern: 'paced:*', maxKeys: 10_000 }, `paced-${p99TargetMs}`),
        pacing: { p99TargetMs, maxPauseMs: 4 },
      });
      assert.equal(result.keysTouched, 3000);
      assert.equal(await dataKeys(), 0);
      const batches = Number(/(\d+) batch\(es\)/.exec(result.detail)?.[1] ?? NaN);
      assert.ok(batches >= 3, result.detail);
      return { pauses: pausesOf(result.detail), batches };
    };
    // No round trip takes 1 µs: every batch but the last (the scan may end on an empty page) is followed by a pause.
    const tight = await run(0.001);
    assert.ok(tight.pauses >= tight.batches - 1 && tight.pauses <= tight.batches, JSON.stringify(tight));
    assert.equal((await run(10_000)).pauses, 0);
  });

  void it('paces by the p99 of the probe: doubling pauses while above the target, halving below', async () => {
    let emit: (ms: number) => void = () => undefined;
    const source: LatencySource = {
      start: (sample) => (emit = sample),
      inFlightMs: () => undefined,
      stop: () => Promise.resolve(),
    };
    const pacer = new LatencyPacer(source, { p99TargetMs: 5, maxPauseMs: 16 });
    await pacer.ready(10);
    const pauses: number[] = [];
    for (let i = 0; i < 6; i++) {
      emit(20);
      pauses.push(await pacer.afterBatch());
    }
    for (let i = 0; i < 300; i++) emit(1); // the slow samples leave the window
    for (let i = 0; i < 4; i++) pauses.push(await pacer.afterBatch());
    assert.deepEqual(pauses, [2, 4, 8, 16, 16, 16, 8, 4, 2, 0]);
    const report = await pacer.stop();
    assert.equal(report.pauses, 9);
    assert.equal(report.pausedMs, 76);
    assert.equal(report.samples, 306);
  });

  void it('probes of many steps share one thread: each gets its own round trips, and stop ends each', async () => {
    const threads = () => readdirSync('/proc/self/task').length;
    const source = () => {
      const samples: number[] = [];
      const latency = threadLatency({ host: addr.host, port: addr.port });
      latency.start((ms) => samples.push(ms));
      return { latency, samples };
    };
    const sampled = async (probes: Array<{ samples: number[] }>) => {
      const deadline = Date.now() + 10_000;
      while (probes.some((p) => p.samples.length < 3)) {
        assert.ok(Date.now() < deadline, 'every probe measures within 10 s');
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const first = source();
    await sampled([first]);
    const withOne = threads();
    const more = Array.from({ length: 15 }, source);
    await sampled(more);
    // A thread per probe would add 15 (and an isolate each: tens of MB apiece under many runs).
    assert.ok(threads() - withOne <= 2, `threads ${withOne} with one probe, ${threads()} with 16`);
    for (const p of more) await p.latency.stop();
    const counted = first.samples.length;
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(first.samples.length > counted, 'the probe still running keeps measuring');
    await first.latency.stop();
    const stopped = more.map((p) => p.samples.length);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(
      more.map((p) => p.samples.length),
      stopped,
      'a stopped probe gets no more samples',
    );
    const again = source();
    await sampled([again]);
    await again.latency.stop();
  });

  void it('unlink killed after a batch ran but before its heartbeat: exact count, nothing left', async () => {
    await fill(100, (i) => `tmp:${i}`, 'x'.repeat(100));
    const job = {
      actionId: 'cleanup-tmp',
      marker: markerKey('run-2', 'cleanup-tmp'),
      pattern: 'tmp:*',
      maxKeys: 1000,
      scanCount: 10,
    };
    let beats = 0;
    const killed = detachedProgress<CleanupState>(undefined, () => {
      // The third batch has run on the server, but its heartbeat never reaches Temporal.
      if (++beats === 3) throw new Error('worker killed');
    });
    await assert.rejects(unlinkByPattern(admin, job, killed), /worker killed/);
    assert.ok((await dataKeys()) < 100, 'the lost batch did delete keys');

    const outcome = await unlinkByPattern(admin, job, detachedProgress());
    assert.equal(await dataKeys(), 0, 'none left behind');
    assert.equal(outcome.touched, 100, 'every key counted once: the marker counted the lost batch with its UNLINK');
  });

  void it('trim-sorted-set keeps the newest members, in chunks, once', async () => {
    const members: Array<number | string> = [];
    for (let i = 1; i <= 2500; i++) members.push(i, `job-${i}`);
    await admin.zadd('dead', ...members);
    const first = await apply({ kind: 'trim-sorted-set', key: 'dead', keep: 100 });
    assert.equal(first.keysTouched, 2400);
    assert.ok((first.bytesFreed ?? 0) > 0);
    assert.equal(await admin.zcard('dead'), 100);
    assert.deepEqual(await admin.zrange('dead', '0', '0', 'WITHSCORES'), ['job-2401', '2401']);
    const second = await apply({ kind: 'trim-sorted-set', key: 'dead', keep: 100 });
    assert.equal(second.keysTouched, 0);
    assert.equal((await apply({ kind: 'trim-sorted-set', key: 'missing', keep: 1 })).keysTouched, 0);
    await admin.set('str', 'v');
    await assert.rejects(apply({ kind: 'trim-sorted-set', key: 'str', keep: 1 }), invalid);
  });

  void it('trim-sorted-set with an age cut-off: the older of the two limits wins, and a retry removes nothing more', async () => {
    await admin.unlink('dead');
    const members: Array<number | string> = [];
    for (let i = 1; i <= 1000; i++) members.push(i, `job-${i}`);
    await admin.zadd('dead', ...members);
    // Keep the newest 900, but nothing scored 300 or less: the age limit removes more than the size limit.
    const byAge = await apply({ kind: 'trim-sorted-set', key: 'dead', keep: 900, maxScore: 300 });
    assert.equal(byAge.keysTouched, 300);
    assert.deepEqual(await admin.zrange('dead', '0', '0', 'WITHSCORES'), ['job-301', '301']);
    assert.equal((await apply({ kind: 'trim-sorted-set', key: 'dead', keep: 900, maxScore: 300 })).keysTouched, 0);
    // The size limit removes more than an old cut-off: the newest 500 stay.
    await apply({ kind: 'trim-sorted-set', key: 'dead', keep: 500, maxScore: 10 }, 'trim-again');
    assert.equal(await admin.zcard('dead'), 500);
  });

  void it("Sidekiq's failing job classes and the oldest retry failure, from the newest jobs' payloads", async () => {
    await admin.flushdb();
    const now = Number((await admin.time())[0]);
    const job = (cls: string, failedAt: number, wrapped?: string) =>
      JSON.stringify({ class: cls, ...(wrapped ? { wrapped } : {}), failed_at: failedAt, jid: `${cls}-${failedAt}` });
    await admin.zadd('dead', now - 10, job('HardWorker', now - 10), now - 5, job('HardWorker', now - 5));
    await admin.zadd(
      'dead',
      now - 3,
      job('ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper', now - 3, 'ExportJob'),
    );
    await admin.zadd('retry', now + 60, job('HardWorker', now - 7200), now + 90, 'not json');
    const d = await activities.diagnoseRedis({ redis: addr });
    assert.deepEqual(d.sidekiq?.failingClasses, [
      { name: 'HardWorker', dead: 2, retry: 1 },
      { name: 'ExportJob', dead: 1, retry: 0 },
    ]);
    assert.ok(Math.abs((d.sidekiq?.oldestRetryAgeSeconds ?? 0) - 7200) <= 2);
  });

  void it('memory-purge, config-rewrite without a config file, and refusals', async () => {
    assert.equal((await apply({ kind: 'memory-purge' })).ok, true);
    const rewrite = await apply({ kind: 'config-rewrite' });
    assert.equal(rewrite.ok, false);
    assert.match(rewrite.detail, /without a config file/);
    assert.match(rewrite.detail, /redis\.conf/);
    await assert.rejects(
      apply({ kind: 'rolling-restart', workload: { kind: 'StatefulSet', name: 'redis', namespace: 'default' } }),
      invalid,
    );
    await fill(3, (i) => `a:${i}`);
    await assert.rejects(apply({ kind: 'unlink-keys', pattern: '*', maxKeys: 10 }), invalid);
    await assert.rejects(apply({ kind: 'expire-keys', pattern: '*:x', ttlSeconds: 10, maxKeys: 10 }), invalid);
    await assert.rejects(apply({ kind: 'expire-keys', pattern: 'a:*', ttlSeconds: 0, maxKeys: 10 }), invalid);
    assert.equal(await dataKeys(), 3);
  });
});

void describe('connection failures', () => {
  void it('maps an unreachable server to retryable RedisUnreachable', async () => {
    const closed = { host: '127.0.0.1', port: await freePort() };
    await assert.rejects(activities.diagnoseRedis({ redis: closed }), {
      type: 'RedisUnreachable',
      nonRetryable: false,
    });
  });

  void it('maps refused credentials to non-retryable RedisAuth', async () => {
    await admin.config('SET', 'requirepass', 'sekret');
    try {
      // `requirepass` is the default user's password: a client without one is refused.
      const none = createRedisActivities(createRedisConnector());
      await assert.rejects(none.diagnoseRedis({ redis: addr }), { type: 'RedisAuth', nonRetryable: true });
      const wrong = createRedisActivities(createRedisConnector(() => ({ password: 'nope' })));
      await assert.rejects(wrong.backupRedis({ redis: addr }), { type: 'RedisAuth', nonRetryable: true });
      const right = createRedisActivities(createRedisConnector(() => ({ password: 'sekret' })));
      assert.equal((await right.diagnoseRedis({ redis: addr })).writable, true);
    } finally {
      await admin.config('SET', 'requirepass', '');
    }
  });
});

void describe('seedCrashScenario', () => {
  void it('reproduces the crash: a 100 KB write fails with OOM, and diagnostics show it', async () => {
    const seed = new Redis({ host: server.host, port: server.port });
    try {
      const summary = await seedCrashScenario(seed, { scale: 0.2 });
      assert.equal(summary.writeFailsWithOom, true);
      assert.match(summary.oomError ?? '', /^OOM command not allowed/);
      assert.ok(summary.keys > 1000);
      assert.ok(summary.maxmemory > 0 && summary.maxmemory < summary.usedMemory);
    } finally {
      seed.disconnect();
    }
    const d = await activities.diagnoseRedis({ redis: addr });
    assert.equal(d.writable, false);
    assert.equal(d.memory.maxmemoryPolicy, 'noeviction');
    assert.ok(d.sidekiq && d.sidekiq.dead >= 1000 && d.sidekiq.statKeysWithoutTtl >= 1000);
    assert.equal(d.sidekiq.retry, 40);
    assert.deepEqual(
      d.bigKeys.slice(0, 2).map((k) => [k.key, k.type]),
      [
        ['dead', 'zset'],
        ['Course#1000:cache', 'string'],
      ],
    );
    assert.ok(d.bigKeys[1]!.bytes > 200 * 1024);

    // The remedies are not refused under OOM (UNLINK, EXPIRE, ZREMRANGEBYRANK are not denied when memory is full).
    const apply = (action: RemediationAction) => activities.applyRedisAction({ redis: addr, action: planned(action) });
    assert.equal((await apply({ kind: 'trim-sorted-set', key: 'dead', keep: 10 })).keysTouched, d.sidekiq.dead - 10);
    const expired = await apply({ kind: 'expire-keys', pattern: 'stat:*', ttlSeconds: 86_400, maxKeys: 100_000 });
    assert.equal(expired.keysTouched, d.sidekiq.statKeysWithoutTtl);
    assert.equal((await apply({ kind: 'unlink-keys', pattern: 'Course#*', maxKeys: 10 })).keysTouched, 1);
    let after = await activities.diagnoseRedis({ redis: addr });
    for (let i = 0; i < 20 && !after.writable; i++) {
      await new Promise((r) => setTimeout(r, 100)); // UNLINK frees in the background
      after = await activities.diagnoseRedis({ redis: addr });
    }
    assert.equal(after.writable, true, after.writeError);
    assert.equal(after.sidekiq?.statKeysWithoutTtl, 0);
  });
});

void describe('inside an activity context', () => {
  void it('heartbeats the scan per batch and resumes from the heartbeat details', async () => {
    await fill(95, (i) => `k:${i}`);
    await admin.set('big', 'b'.repeat(10_000));
    await rehashed();
    const beats: ScanState[] = [];
    const env = new MockActivityEnvironment();
    env.on('heartbeat', (d: ScanState) => beats.push(d));
    const full = await runIn(env, () => activities.diagnoseRedis({ redis: addr, scanCount: 10 }));
    assert.ok(beats.length >= 5, `one heartbeat per batch, got ${beats.length}`);
    const mid = beats[2]!;
    assert.equal(mid.db, 0);
    assert.notEqual(mid.cursor, '0');
    assert.ok(mid.scanned > 0 && mid.scanned < 96);

    const resumedEnv = new MockActivityEnvironment({ heartbeatDetails: mid });
    let resumedBeats = 0;
    resumedEnv.on('heartbeat', () => resumedBeats++);
    const resumed = await runIn(resumedEnv, () => activities.diagnoseRedis({ redis: addr, scanCount: 10 }));
    assert.equal(resumed.scannedKeys, full.scannedKeys);
    assert.deepEqual(resumed.bigKeys, full.bigKeys);
    assert.deepEqual(resumed.prefixes, full.prefixes);
    assert.equal(resumedBeats, beats.length - 3, 'the resumed scan starts after the third batch');

    const foreign = new MockActivityEnvironment({ heartbeatDetails: { something: 'else' } });
    assert.equal((await runIn(foreign, () => activities.diagnoseRedis({ redis: addr }))).scannedKeys, 96);
  });

  void it('resumes a cleanup from its marker inside an activity, counting its keys once', async () => {
    await fill(40, (i) => `tmp:${i}`);
    const env = new MockActivityEnvironment();
    const action = planned({ kind: 'unlink-keys', pattern: 'tmp:*', maxKeys: 30 }, 'unlink-tmp');
    const run = () => runIn(env, () => activities.applyRedisAction({ redis: addr, action }));
    const first = await run();
    assert.equal(first.keysTouched, 30);
    // A retry of the same activity (same run, same action) finds the marker: the cap spans attempts.
    const retry = await run();
    assert.equal(retry.keysTouched, 30, 'counted once');
    assert.match(retry.detail, /cap of 30/);
    assert.equal(await dataKeys(), 10);
  });

  void it('stops a scan when the activity is cancelled', async () => {
    await fill(100, (i) => `k:${i}`);
    const env = new MockActivityEnvironment();
    env.once('heartbeat', () => env.cancel());
    await assert.rejects(
      runIn(env, () => activities.diagnoseRedis({ redis: addr, scanCount: 10 })),
      {
        name: 'CancelledFailure',
      },
    );
  });
});

void describe('commands sent', () => {
  void it('never KEYS, never DEL', async () => {
    const calls = commandCalls(parseInfo(await admin.info('commandstats')));
    assert.ok((calls['scan'] ?? 0) > 0, 'sanity: commandstats counts our commands');
    assert.equal(calls['keys'], undefined);
    assert.equal(calls['del'], undefined);
  });
});
