/**
 * Remediation on real topologies: settings on every node (primaries and replicas, each read back), key actions on the
 * current primary, a Sentinel failover between two actions followed without applying anything twice, and a Cluster
 * (settings on all six nodes; cleanups on every primary, the cap across them; a trim where the set lives).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Cluster, Redis } from 'ioredis';
import { createBackupActivities } from '../../activities/backup/index.js';
import { createRedisActivities } from '../../activities/redis/index.js';
import { suiteConnector } from './suite-connector.js';
import type { RedisAddress } from '../../workflows/definitions.js';
import { planned } from './planned-action.js';
import {
  startRedisCluster,
  startReplicatedSet,
  type RedisClusterServers,
  type ReplicatedSet,
} from '../../local-servers/redis-topology.js';

const redis = createRedisActivities(suiteConnector());
const at = (s: { host: string; port: number }) => `${s.host}:${s.port}`;

async function configOf(server: { host: string; port: number }, name: string): Promise<string | undefined> {
  const r = new Redis({ host: server.host, port: server.port });
  try {
    return (await r.config('GET', name))[1];
  } finally {
    r.disconnect();
  }
}

describe('remediation on replicated sets and Clusters (real redis-servers)', () => {
  let set: ReplicatedSet;
  let cluster: RedisClusterServers;
  let target: RedisAddress;
  before(async () => {
    [set, cluster] = await Promise.all([
      startReplicatedSet({ replicas: 2, sentinels: 3 }),
      startRedisCluster({ primaries: 3, replicasEach: 1 }),
    ]);
    target = {
      host: set.replicas[0]!.host,
      port: set.replicas[0]!.port,
      sentinel: { masterName: set.masterName, nodes: set.sentinels.map((s) => ({ host: s.host, port: s.port })) },
    };
  });
  after(async () => {
    await Promise.all([set?.stop(), cluster?.stop()]);
  });

  it('CONFIG SET reaches the primary and every replica, each read back; again, each says it already has it', async () => {
    const result = await redis.applyRedisAction({
      redis: target,
      action: planned('set-maxmemory', { kind: 'set-maxmemory', bytes: 300 * 1024 * 1024 }),
    });
    assert.equal(result.ok, true, result.detail);
    assert.match(result.detail, /^on 3 nodes \(sentinel\): primary /);
    assert.deepEqual(result.previous, { maxmemory: 0 }, 'what the primary had: the rollback value');
    for (const node of [set.primary, ...set.replicas]) assert.equal(await configOf(node, 'maxmemory'), '314572800');
    const again = await redis.applyRedisAction({
      redis: target,
      action: planned('set-maxmemory', { kind: 'set-maxmemory', bytes: 300 * 1024 * 1024 }),
    });
    assert.equal((again.detail.match(/already 314572800/g) ?? []).length, 3, again.detail);
    assert.equal(again.previous, undefined, 'nothing was replaced');
  });

  it('a cleanup goes to the primary though the target names a replica', async () => {
    const p = new Redis({ host: set.primary.host, port: set.primary.port });
    try {
      for (let i = 0; i < 50; i++) await p.set(`tmp:${i}`, 'x');
      await p.call('WAIT', 2, 5000);
      const result = await redis.applyRedisAction({
        redis: target,
        action: planned('unlink-tmp', { kind: 'unlink-keys', pattern: 'tmp:*', maxKeys: 1000 }),
      });
      assert.equal(result.keysTouched, 50, result.detail);
      assert.equal(await p.exists(...Array.from({ length: 50 }, (_, i) => `tmp:${i}`)), 0);
    } finally {
      p.disconnect();
    }
  });

  it('the backup: BGSAVE on a replica in sync (its marker on the primary), and the copy streamed off that replica', async () => {
    const saves = async (node: { host: string; port: number }) => {
      const r = new Redis({ host: node.host, port: node.port });
      try {
        return Number(/rdb_saves:(\d+)/.exec(await r.info('persistence'))?.[1] ?? 0);
      } finally {
        r.disconnect();
      }
    };
    const before = await Promise.all([set.primary, ...set.replicas].map(saves));
    const backup = await redis.backupRedis({ redis: target, timeoutSeconds: 30 });
    assert.equal(backup.confirmed, true, backup.error);
    assert.equal(backup.takenOn?.role, 'replica');
    const after = await Promise.all([set.primary, ...set.replicas].map(saves));
    assert.equal(after[0], before[0], 'the primary did not fork');
    const saver = [set.primary, ...set.replicas].findIndex((n) => at(n) === at(backup.takenOn!));
    assert.ok(saver > 0 && after[saver]! > before[saver]!, 'the replica saved');
    const store = await mkdtemp(join(tmpdir(), 'topology-backups-'));
    try {
      const copy = await createBackupActivities(suiteConnector(), { directory: store, keep: 1 }).copyBackup({
        redis: target,
        incidentId: 'TOPO',
        target: 'cache/redis-0',
      });
      assert.equal(copy.verified, true, JSON.stringify(copy.restoreTest));
      const onPrimary = await createBackupActivities(suiteConnector(), {
        directory: store,
        keep: 1,
        from: 'primary',
      }).copyBackup({ redis: target, incidentId: 'TOPO2', target: 'cache/redis-0' });
      assert.equal(onPrimary.verified, true);
    } finally {
      await rm(store, { recursive: true, force: true });
    }
    const primaryOnly = await createRedisActivities(suiteConnector(), { backupFrom: 'primary' }).backupRedis({
      redis: target,
      timeoutSeconds: 30,
    });
    assert.equal(primaryOnly.takenOn?.role, 'primary');
    assert.equal(at(primaryOnly.takenOn), at(set.primary));
  });

  it('after a Sentinel failover the next steps follow the new primary, and nothing applies twice', async () => {
    const policy = planned('set-maxmemory-policy', { kind: 'set-maxmemory-policy', policy: 'allkeys-lru' });
    const first = await redis.applyRedisAction({ redis: target, action: policy });
    assert.equal((first.detail.match(/noeviction → allkeys-lru/g) ?? []).length, 3, first.detail);
    const s = new Redis({ host: set.sentinels[0]!.host, port: set.sentinels[0]!.port });
    let promoted = at(set.primary);
    try {
      await s.call('SENTINEL', 'FAILOVER', set.masterName);
      for (let i = 0; i < 150 && promoted === at(set.primary); i++) {
        await new Promise((r) => setTimeout(r, 100));
        const addr = (await s.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', set.masterName)) as string[];
        promoted = `${addr[0]}:${addr[1]}`;
      }
    } finally {
      s.disconnect();
    }
    assert.notEqual(promoted, at(set.primary), 'the failover happened');
    // The old primary rejoins as a replica once Sentinel reconfigures it; wait until the new one sees both replicas.
    const np = new Redis({ host: promoted.split(':')[0], port: Number(promoted.split(':')[1]) });
    try {
      for (let i = 0; i < 150 && ((await np.info('replication')).match(/state=online/g) ?? []).length < 2; i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      const again = await redis.applyRedisAction({ redis: target, action: policy });
      assert.match(again.detail, new RegExp(`primary ${promoted}: maxmemory-policy already allkeys-lru`));
      assert.doesNotMatch(again.detail, /→/, 'no node changed twice');
      await np.set('tmp:after', 'x');
      const cleanup = await redis.applyRedisAction({
        redis: target,
        action: planned('unlink-after', { kind: 'unlink-keys', pattern: 'tmp:*', maxKeys: 10 }),
      });
      assert.equal(cleanup.keysTouched, 1, `the new primary took the cleanup: ${cleanup.detail}`);
    } finally {
      np.disconnect();
    }
  });

  it('a Cluster: settings on all six nodes, each read back', async () => {
    const seed = { host: cluster.primaries[1]!.host, port: cluster.primaries[1]!.port };
    const result = await redis.applyRedisAction({
      redis: seed,
      action: planned('set-maxmemory', { kind: 'set-maxmemory', bytes: 200 * 1024 * 1024 }),
    });
    assert.equal(result.ok, true, result.detail);
    assert.match(result.detail, /^on 6 nodes \(cluster\)/);
    for (const node of [...cluster.primaries, ...cluster.replicas]) {
      assert.equal(await configOf(node, 'maxmemory'), String(200 * 1024 * 1024));
    }
  });

  describe('key actions on a Cluster: every primary, keys where their slots are', () => {
    let client: Cluster;
    let seed: RedisAddress;
    // One run, so that every call of an action finds its markers (outside an activity each call is a run of its own).
    const inRun = <T>(fn: () => Promise<T>): Promise<T> =>
      new MockActivityEnvironment({ workflowExecution: { workflowId: 'redis-runbook-CL', runId: 'run-1' } }).run<
        [],
        T,
        () => Promise<T>
      >(fn);
    const fill = async (prefix: string, n: number) => {
      for (let i = 0; i < n; i += 1000) {
        const sets: Array<Promise<unknown>> = [];
        for (let j = i; j < Math.min(n, i + 1000); j++) sets.push(client.set(`${prefix}${j}`, 'x'.repeat(50)));
        await Promise.all(sets);
      }
    };
    /** Keys matching `pattern` on each primary, by SCAN of that node (what a cleanup there would see). */
    const countOn = async (pattern: string) =>
      Promise.all(
        cluster.primaries.map(async (node) => {
          const r = new Redis({ host: node.host, port: node.port });
          try {
            let n = 0;
            const stream = r.scanStream({ match: pattern, count: 1000 });
            for await (const keys of stream) n += (keys as string[]).length;
            return n;
          } finally {
            r.disconnect();
          }
        }),
      );
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    before(() => {
      // Auto-pipelining batches the writes per node (a Cluster pipeline must stay in one slot).
      client = new Cluster([{ host: cluster.primaries[0]!.host, port: cluster.primaries[0]!.port }], {
        enableAutoPipelining: true,
      });
      seed = { host: cluster.replicas[2]!.host, port: cluster.replicas[2]!.port };
    });
    after(() => client?.disconnect());

    it('UNLINK by pattern reaches the keys of every primary, and nothing else', async () => {
      await fill('tmp:', 3000);
      await fill('keep:', 300);
      const spread = await countOn('tmp:*');
      assert.ok(
        spread.every((n) => n > 500),
        `the keys are on every primary: ${spread.join(', ')}`,
      );
      const preview = await redis.previewCleanup({ redis: seed, pattern: 'tmp:*' });
      assert.equal(preview.keys, 3000, 'the preview counts every primary');
      assert.equal(preview.dbKeys, 3300);
      const result = await redis.applyRedisAction({
        redis: seed,
        action: planned('unlink-tmp', { kind: 'unlink-keys', pattern: 'tmp:*', maxKeys: 10_000 }),
      });
      assert.equal(result.ok, true, result.detail);
      assert.equal(result.keysTouched, 3000, result.detail);
      assert.ok((result.bytesFreed ?? 0) > 3000 * 50, 'MEMORY USAGE of each, summed over the primaries');
      assert.match(result.detail, /^on 3 primaries \(cluster\), 3000 keys in all: primary /);
      assert.deepEqual(await countOn('tmp:*'), [0, 0, 0]);
      assert.equal(sum(await countOn('keep:*')), 300, 'no key outside the pattern');
    });

    it('the cap spans the primaries: exactly maxKeys keys in all, and a retry of the action adds none', async () => {
      await fill('cap:', 3000);
      const action = planned('unlink-cap', { kind: 'unlink-keys', pattern: 'cap:*', maxKeys: 1000 });
      const first = await inRun(() => redis.applyRedisAction({ redis: seed, action }));
      assert.equal(first.keysTouched, 1000, first.detail);
      assert.equal(first.capReached, true);
      assert.equal(sum(await countOn('cap:*')), 2000);
      const again = await inRun(() => redis.applyRedisAction({ redis: seed, action }));
      assert.equal(again.keysTouched, 1000, again.detail);
      assert.equal(sum(await countOn('cap:*')), 2000, 'the markers hold the count: nothing more');
      const progress = await inRun(() => redis.actionProgress({ redis: seed, actionId: 'unlink-cap' }));
      assert.equal(progress.touched, 1000);
    });

    it('EXPIRE by pattern on every primary; a trim on the primary serving the set', async () => {
      await fill('ttl:', 900);
      const expire = await redis.applyRedisAction({
        redis: seed,
        action: planned('expire-ttl', { kind: 'expire-keys', pattern: 'ttl:*', ttlSeconds: 3600, maxKeys: 5000 }),
      });
      assert.equal(expire.keysTouched, 900, expire.detail);
      assert.equal(await client.ttl('ttl:17'), 3600);
      const members = Array.from({ length: 3000 }, (_, i) => [String(i), `job-${i}`]).flat();
      await client.zadd('dead', ...members);
      const trim = await redis.applyRedisAction({
        redis: seed,
        action: planned('trim-dead', { kind: 'trim-sorted-set', key: 'dead', keep: 100 }),
      });
      assert.equal(trim.keysTouched, 2900, trim.detail);
      assert.match(trim.detail, /^on primary \S+ \(slot \d+\): removed the 2900 oldest members of dead/);
      assert.equal(await client.zcard('dead'), 100);
      assert.equal((await client.zrange('dead', '0', '0'))[0], 'job-2900', 'the newest are kept');
    });

    it('the backup covers every shard: a snapshot on each replica, each copied off and restore-tested', async () => {
      const backup = await redis.backupRedis({ redis: seed, timeoutSeconds: 30 });
      assert.equal(backup.confirmed, true, backup.error);
      assert.equal(backup.shards?.length, 3);
      const replicas = new Set(cluster.replicas.map(at));
      assert.ok(
        backup.shards.every((s) => s.takenOn?.role === 'replica' && replicas.has(at(s.takenOn))),
        'each shard saved on its replica',
      );
      assert.equal(new Set(backup.shards.map((s) => at(s.takenOn!))).size, 3);
      const store = await mkdtemp(join(tmpdir(), 'cluster-backups-'));
      try {
        const copy = await createBackupActivities(suiteConnector(), { directory: store, keep: 1 }).copyBackup({
          redis: seed,
          incidentId: 'CLUSTER',
          target: 'cache/redis-cluster-0',
        });
        assert.equal(copy.verified, true, JSON.stringify(copy.restoreTest));
        assert.equal(copy.shards?.length, 3);
        // One copy per shard, labelled by its slots: together they cover the 16,384 slots, in order.
        const ranges = copy.shards.map((c) => /slots_(\d+)-(\d+)/.exec(c.path)!.slice(1).map(Number));
        assert.equal(ranges[0]![0], 0);
        assert.equal(ranges.at(-1)![1], 16383);
        ranges.slice(1).forEach((r, i) => assert.equal(r[0], ranges[i]![1]! + 1));
        const keys = sum(
          await Promise.all(
            cluster.primaries.map(async (p) => {
              const r = new Redis(p.port, p.host);
              try {
                return await r.dbsize();
              } finally {
                r.disconnect();
              }
            }),
          ),
        );
        assert.equal(copy.restoreTest.keys, keys, 'every key of the Cluster is in one of the snapshots');
      } finally {
        await rm(store, { recursive: true, force: true });
      }
    });
  });
});
