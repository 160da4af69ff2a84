import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  commandCalls,
  commandStat,
  keyspaceOf,
  parseInfo,
  parseKeyspaceValue,
  rdbStateOf,
  riskyCommandsOf,
  summarizeInfo,
} from '../../activities/redis/info.js';
import { foldPrefixes } from '../../activities/redis/diagnose.js';
import { p99 } from '../../activities/redis/pacing.js';
import { displayKey, keyPrefix, offerTopKey, OTHER_PREFIX } from '../../activities/redis/scan.js';
import { assertNarrowPattern } from '../../activities/redis/cleanup.js';
import type { BigKey } from '../../activities/redis/types.js';

// Trimmed from a real Redis 7.0.15 reply to `INFO server memory keyspace stats clients persistence`.
const INFO = [
  '# Server',
  'redis_version:7.0.15',
  'redis_mode:standalone',
  'tcp_port:6379',
  '',
  '# Clients',
  'connected_clients:12',
  'blocked_clients:3',
  '',
  '# Memory',
  'used_memory:104857600',
  'used_memory_human:100.00M',
  'used_memory_rss:157286400',
  'used_memory_peak:110000000',
  'used_memory_dataset:90000000',
  'used_memory_overhead:14000000',
  'maxmemory:104857600',
  'maxmemory_human:100.00M',
  'maxmemory_policy:noeviction',
  'allocator_frag_ratio:1.09',
  'mem_fragmentation_ratio:1.50',
  '',
  '# Persistence',
  'loading:0',
  'rdb_changes_since_last_save:1234',
  'rdb_bgsave_in_progress:1',
  'rdb_last_save_time:1700000000',
  'rdb_last_bgsave_status:err',
  'rdb_saves:7',
  'rdb_last_cow_size:5242880',
  'aof_enabled:0',
  'aof_rewrite_in_progress:1',
  'aof_current_rewrite_time_sec:742',
  'aof_last_bgrewrite_status:err',
  'aof_last_write_status:ok',
  'aof_last_cow_size:0',
  '',
  '# Stats',
  'evicted_keys:0',
  'expired_keys:42',
  'keyspace_hits:1000',
  'keyspace_misses:10',
  'rejected_connections:2',
  'total_error_replies:5000',
  '',
  '# Keyspace',
  'db0:keys=10500,expires=500,avg_ttl=3600000',
  'db3:keys=2,expires=0,avg_ttl=0',
  '',
].join('\r\n');

void describe('parseInfo', () => {
  void it('splits sections by header and keeps raw values', () => {
    const sections = parseInfo(INFO);
    assert.equal(sections['server']?.['redis_version'], '7.0.15');
    assert.equal(sections['memory']?.['used_memory_human'], '100.00M');
    assert.deepEqual(Object.keys(sections).sort(), ['clients', 'keyspace', 'memory', 'persistence', 'server', 'stats']);
  });

  void it('accepts LF line ends and fields before any header', () => {
    const sections = parseInfo('a:1\nb:x:y\n# Memory\nused_memory:5\n');
    assert.deepEqual(sections['default'], { a: '1', b: 'x:y' });
    assert.equal(sections['memory']?.['used_memory'], '5');
  });

  void it('returns no sections for an empty reply', () => {
    assert.deepEqual(parseInfo(''), {});
  });
});

void describe('summarizeInfo', () => {
  void it('types the figures the runbook reads', () => {
    const s = summarizeInfo(parseInfo(INFO));
    assert.equal(s.version, '7.0.15');
    assert.deepEqual(s.memory, {
      usedMemory: 104857600,
      usedMemoryRss: 157286400,
      usedMemoryPeak: 110000000,
      usedMemoryDataset: 90000000,
      usedMemoryOverhead: 14000000,
      fragmentationRatio: 1.5,
      allocatorFragRatio: 1.09,
      maxmemory: 104857600,
      maxmemoryPolicy: 'noeviction',
    });
    assert.deepEqual(s.keyspace, [
      { db: 0, keys: 10500, expires: 500 },
      { db: 3, keys: 2, expires: 0 },
    ]);
    assert.deepEqual(s.stats, {
      evictedKeys: 0,
      expiredKeys: 42,
      keyspaceHits: 1000,
      keyspaceMisses: 10,
      rejectedConnections: 2,
      totalErrorReplies: 5000,
    });
    assert.deepEqual(s.clients, { connectedClients: 12, blockedClients: 3 });
    assert.deepEqual(s.persistence, {
      rdbLastBgsaveStatus: 'err',
      rdbLastSaveTime: 1700000000,
      rdbBgsaveInProgress: true,
      rdbChangesSinceLastSave: 1234,
      aofEnabled: false,
      aofLastWriteStatus: 'ok',
      // No ETA while not loading; the rewrite's time only while one runs.
      loading: false,
      aofRewriteInProgress: true,
      aofRewriteSeconds: 742,
      aofLastBgrewriteStatus: 'err',
      rdbLastCowBytes: 5242880,
      aofLastCowBytes: 0,
    });
  });

  void it('survives a trimmed INFO (older server): zeros and undefined, never NaN', () => {
    const s = summarizeInfo(parseInfo('# Memory\r\nused_memory:10\r\n'));
    assert.equal(s.version, 'unknown');
    assert.equal(s.memory.usedMemory, 10);
    assert.equal(s.memory.usedMemoryDataset, undefined);
    assert.equal(s.stats.totalErrorReplies, undefined);
    assert.deepEqual(s.keyspace, []);
    assert.equal(s.persistence.rdbBgsaveInProgress, false);
    for (const v of Object.values(s.memory)) assert.ok(!Number.isNaN(v));
  });
});

void describe('keyspace and rdb state', () => {
  void it('parses keyspace values and ignores non-db fields', () => {
    assert.deepEqual(parseKeyspaceValue('keys=3,expires=1,avg_ttl=99'), { keys: 3, expires: 1, avgTtl: 99 });
    assert.deepEqual(parseKeyspaceValue('keys=3'), { keys: 3, expires: 0, avgTtl: 0 });
    assert.deepEqual(keyspaceOf({ keyspace: { db10: 'keys=1,expires=0', db2: 'keys=5,expires=5', other: 'x' } }), [
      { db: 2, keys: 5, expires: 5 },
      { db: 10, keys: 1, expires: 0 },
    ]);
  });

  void it('reads the fields a backup polls', () => {
    assert.deepEqual(rdbStateOf(parseInfo(INFO)), {
      inProgress: true,
      lastSaveTime: 1700000000,
      lastBgsaveStatus: 'err',
      saves: 7,
    });
    assert.equal(rdbStateOf(parseInfo('# Persistence\nrdb_bgsave_in_progress:0\n')).saves, undefined);
  });

  void it('counts calls from commandstats, subcommands included', () => {
    const calls = commandCalls(
      parseInfo(
        '# Commandstats\r\ncmdstat_scan:calls=12,usec=1,usec_per_call=0.1,rejected_calls=0,failed_calls=0\r\ncmdstat_config|set:calls=2,usec=3\r\n',
      ),
    );
    assert.deepEqual(calls, { scan: 12, 'config|set': 2 });
  });

  void it('summarises the commands that hurt a busy server, absent ones as 0', () => {
    const sections = parseInfo(
      '# Commandstats\r\ncmdstat_keys:calls=3,usec=90000,usec_per_call=30000.00\r\n' +
        'cmdstat_del:calls=4,usec=10000,usec_per_call=2500.50\r\ncmdstat_flushall:calls=1,usec=5,usec_per_call=5.00\r\n',
    );
    assert.deepEqual(riskyCommandsOf(sections), {
      keys: 3,
      del: 4,
      delUsecPerCall: 2500.5,
      monitor: 0,
      flushall: 1,
      flushdb: 0,
    });
    assert.deepEqual(commandStat(sections, 'get'), { calls: 0, usecPerCall: 0 });
  });

  void it('p99 by nearest rank', () => {
    assert.equal(p99([]), 0);
    assert.equal(p99([3]), 3);
    assert.equal(p99(Array.from({ length: 100 }, (_, i) => 100 - i)), 99);
    assert.equal(p99([...Array.from({ length: 98 }, () => 1), 60, 50]), 50, 'the 99th of 100 values');
  });
});

void describe('key prefixes and top-K', () => {
  void it('cuts at the first : or #, else keeps the key (cut to 40)', () => {
    assert.equal(keyPrefix('stat:processed:2024-01-01'), 'stat:');
    assert.equal(keyPrefix('Course#12:cache'), 'Course#');
    assert.equal(keyPrefix('sidekiq:queue:default'), 'sidekiq:');
    assert.equal(keyPrefix('dead'), 'dead');
    assert.equal(keyPrefix('x'.repeat(50)), `${'x'.repeat(40)}…`);
    assert.equal(keyPrefix(`${'y'.repeat(70)}:z`), `${'y'.repeat(40)}…`);
  });

  void it('cuts key names to 200 characters', () => {
    assert.equal(displayKey('k'.repeat(500)).length, 200);
    assert.equal(displayKey('short'), 'short');
  });

  void it('keeps the k biggest, biggest first', () => {
    const top: BigKey[] = [];
    const key = (bytes: number): BigKey => ({ key: `k${bytes}`, db: 0, type: 'string', bytes, ttlSeconds: -1 });
    for (const bytes of [5, 1, 9, 3, 7, 9, 2]) offerTopKey(top, key(bytes), 3);
    assert.deepEqual(
      top.map((k) => k.bytes),
      [9, 9, 7],
    );
    offerTopKey(top, key(1), 3);
    assert.equal(top.length, 3);
    offerTopKey(top, key(100), 0);
    assert.equal(top.length, 3);
  });

  void it('among keys of one size, keeps the same ones whatever order SCAN met them in (db, then name)', () => {
    const same = ['d', 'a', 'c', 'b', 'e'].map((name): BigKey => ({
      key: name,
      db: 0,
      type: 'string',
      bytes: 88,
      ttlSeconds: -1,
    }));
    const keep = (order: BigKey[]) => {
      const top: BigKey[] = [];
      for (const k of order) offerTopKey(top, k, 3);
      return top.map((k) => k.key);
    };
    assert.deepEqual(keep(same), ['a', 'b', 'c']);
    assert.deepEqual(keep([...same].reverse()), ['a', 'b', 'c']);
  });

  void it('folds the prefixes beyond the limit into (other)', () => {
    const p = (prefix: string, bytes: number) => ({ prefix, keys: 1, bytes, keysWithoutTtl: 1 });
    const folded = foldPrefixes([p('a:', 10), p('b:', 30), p(OTHER_PREFIX, 5), p('c:', 20), p('d:', 1)], 2);
    assert.deepEqual(folded, [
      p('b:', 30),
      p('c:', 20),
      { prefix: OTHER_PREFIX, keys: 3, bytes: 16, keysWithoutTtl: 3 },
    ]);
    assert.deepEqual(foldPrefixes([p('a:', 1)], 5), [p('a:', 1)]);
  });
});

void describe('assertNarrowPattern', () => {
  for (const pattern of ['*', '*:foo', '?a*', 'st*', '[a-z]*', '\\**', '']) {
    void it(`refuses ${JSON.stringify(pattern)}`, () => {
      assert.throws(() => assertNarrowPattern(pattern), { type: 'InvalidAction', nonRetryable: true });
    });
  }
  for (const pattern of ['stat:*', 'Course#*:cache', 'session:?', 'exact-key']) {
    void it(`accepts ${JSON.stringify(pattern)}`, () => assertNarrowPattern(pattern));
  }
});
