/**
 * Topology discovery against real topologies on loopback: a primary with two replicas watched by three Sentinels (a
 * failover forced between two discoveries) and a three-primary Cluster with a replica each.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Cluster, Redis } from 'ioredis';
import { createRedisActivities } from '../../activities/redis/index.js';
import { suiteConnector } from './suite-connector.js';
import { discoverTopology, inSyncReplicaOf } from '../../activities/redis/topology.js';
import { startRedisServer, type RedisServer } from '../../local-servers/redis-server.js';
import {
  startRedisCluster,
  startReplicatedSet,
  type RedisClusterServers,
  type ReplicatedSet,
} from '../../local-servers/redis-topology.js';

const connect = suiteConnector();
const at = (s: { host: string; port: number }) => `${s.host}:${s.port}`;

describe('topology discovery (real redis-servers)', () => {
  let standalone: RedisServer;
  let set: ReplicatedSet;
  let cluster: RedisClusterServers;
  before(async () => {
    [standalone, set, cluster] = await Promise.all([
      startRedisServer(),
      startReplicatedSet({ replicas: 2, sentinels: 3 }),
      startRedisCluster({ primaries: 3, replicasEach: 1 }),
    ]);
  });
  after(async () => {
    await Promise.all([standalone?.stop(), set?.stop(), cluster?.stop()]);
  });

  it('a lone server is standalone', async () => {
    const t = await discoverTopology(connect, { host: standalone.host, port: standalone.port });
    assert.equal(t.kind, 'standalone');
    assert.deepEqual(t.primaries, [{ host: standalone.host, port: standalone.port }]);
    assert.equal(t.nodes.length, 1);
  });

  it('a primary with replicas: every replica, its link and its lag', async () => {
    const t = await discoverTopology(connect, { host: set.primary.host, port: set.primary.port, db: 2 });
    assert.equal(t.kind, 'replicated');
    assert.deepEqual(t.primaries, [{ host: set.primary.host, port: set.primary.port, db: 2 }]);
    assert.deepEqual(
      t.nodes
        .filter((n) => n.role === 'replica')
        .map(at)
        .sort(),
      set.replicas.map(at).sort(),
    );
    for (const r of t.nodes.filter((n) => n.role === 'replica')) {
      assert.equal(r.linkStatus, 'up');
      assert.equal(r.replicaOf, at(set.primary));
      assert.ok((r.lagBytes ?? -1) >= 0);
    }
    assert.ok(inSyncReplicaOf(t, set.primary), 'a replica in sync can take the scan');
  });

  it('a target that names a replica resolves to its primary, and says so', async () => {
    const replica = set.replicas[0]!;
    const t = await discoverTopology(connect, { host: replica.host, port: replica.port });
    assert.deepEqual(t.primaries, [{ host: set.primary.host, port: set.primary.port }]);
    assert.match(t.notes.join('\n'), new RegExp(`${at(replica)} is a replica of ${at(set.primary)}`));
  });

  it('a diagnosis of a replicated set reads the primary and scans a replica in sync, sparing the primary', async () => {
    const primary = new Redis({ host: set.primary.host, port: set.primary.port });
    const evalsOn = async (server: { host: string; port: number }) => {
      const r = new Redis({ host: server.host, port: server.port });
      try {
        return Number(/cmdstat_evalsha:calls=(\d+)/.exec(await r.info('commandstats'))?.[1] ?? 0);
      } finally {
        r.disconnect();
      }
    };
    try {
      const pipe = primary.pipeline();
      for (let i = 0; i < 2000; i++) pipe.set(`sess:${i}`, 'x'.repeat(100));
      pipe.set('blob:big', 'y'.repeat(200_000));
      await pipe.exec();
      await primary.call('WAIT', 2, 5000);
      const before = await evalsOn(set.primary);
      const d = await createRedisActivities(connect).diagnoseRedis({
        redis: { host: set.primary.host, port: set.primary.port },
      });
      assert.equal(d.topology?.kind, 'replicated');
      assert.equal(d.scannedOn?.length, 1);
      assert.equal(d.scannedOn?.[0]?.role, 'replica');
      assert.ok(set.replicas.map(at).includes(at(d.scannedOn[0])));
      assert.match(d.scanNote ?? '', /scanned on a replica in sync/);
      assert.equal(d.scannedKeys, 2001);
      assert.equal(d.bigKeys[0]?.key, 'blob:big');
      assert.equal(await evalsOn(set.primary), before, 'no scan script ran on the primary');
      assert.equal(d.writable, true, 'the write probe went to the primary');
    } finally {
      primary.disconnect();
    }
  });

  it('a diagnosis of a Cluster merges every primary: all keys, the biggest wherever it lives, memory per shard', async () => {
    const c = new Cluster([{ host: cluster.primaries[0]!.host, port: cluster.primaries[0]!.port }]);
    try {
      for (let i = 0; i < 3000; i++) await c.set(`user:${i}`, 'v'.repeat(50));
      await c.set('cart:big', 'z'.repeat(300_000));
      const holder = await c.call('CLUSTER', 'KEYSLOT', 'cart:big');
      const seed = cluster.primaries.find((p, i) => i !== Math.floor((Number(holder) * 3) / 16384))!;
      const d = await createRedisActivities(connect).diagnoseRedis({ redis: { host: seed.host, port: seed.port } });
      assert.equal(d.topology?.kind, 'cluster');
      assert.equal(d.scannedKeys, 3001, "every primary's slots");
      assert.equal(d.bigKeys[0]?.key, 'cart:big', 'found on the shard the seed is not');
      assert.deepEqual(
        d.scannedOn?.map((n) => n.role),
        ['replica', 'replica', 'replica'],
      );
      assert.equal(
        d.scannedOn?.reduce((n, x) => n + x.keys, 0),
        3001,
      );
      assert.equal(d.shards?.length, 3);
      assert.equal(
        d.shards?.reduce((n, x) => n + x.keys, 0),
        3001,
      );
      assert.ok((d.shardSkew ?? 0) >= 1);
      assert.equal(d.prefixes.find((p) => p.prefix === 'user:')?.keys, 3000);
    } finally {
      c.disconnect();
    }
  });

  it('a replica with its link down or far behind does not take the scan', () => {
    const primary = { host: '10.0.0.1', port: 6379 };
    const replica = { host: '10.0.0.2', port: 6379, role: 'replica' as const, replicaOf: '10.0.0.1:6379' };
    const topology = (r: object) => ({
      kind: 'replicated' as const,
      primaries: [primary],
      nodes: [
        { ...primary, role: 'primary' as const },
        { ...replica, ...r },
      ],
      notes: [],
    });
    assert.ok(inSyncReplicaOf(topology({ linkStatus: 'up', lagBytes: 10 }), primary));
    assert.equal(inSyncReplicaOf(topology({ linkStatus: 'down', lagBytes: 0 }), primary), undefined);
    assert.equal(inSyncReplicaOf(topology({ linkStatus: 'up', lagBytes: 64 * 1024 * 1024 }), primary), undefined);
    assert.equal(inSyncReplicaOf(topology({ linkStatus: 'up' }), primary), undefined, 'an unknown lag is not in sync');
  });

  it('through Sentinel: the primary they agree on, followed across a failover', async () => {
    const sentinel = {
      masterName: set.masterName,
      nodes: [{ host: '127.0.0.1', port: 1 }, ...set.sentinels.map((s) => ({ host: s.host, port: s.port }))],
    };
    const before = await discoverTopology(connect, { host: set.primary.host, port: set.primary.port, sentinel });
    assert.equal(before.kind, 'sentinel');
    assert.equal(at(before.primaries[0]!), at(set.primary));
    assert.equal(before.sentinel?.masterName, set.masterName);
    assert.match(before.notes.join('\n'), /Sentinels that did not answer: 127\.0\.0\.1:1/);

    const s = new Redis({ host: set.sentinels[0]!.host, port: set.sentinels[0]!.port });
    try {
      await s.call('SENTINEL', 'FAILOVER', set.masterName);
      let now = before;
      for (let i = 0; i < 150 && at(now.primaries[0]!) === at(set.primary); i++) {
        await new Promise((r) => setTimeout(r, 100));
        now = await discoverTopology(connect, { host: set.primary.host, port: set.primary.port, sentinel });
      }
      const promoted = now.primaries[0]!;
      assert.ok(set.replicas.map(at).includes(at(promoted)), `a former replica is the primary: ${at(promoted)}`);
      assert.equal(now.nodes.find((n) => n.role === 'primary')?.port, promoted.port);
    } finally {
      s.disconnect();
    }
  });

  it('a Cluster: every primary with its slots, every replica with its primary', async () => {
    const seed = cluster.replicas[0]!;
    const t = await discoverTopology(connect, { host: seed.host, port: seed.port });
    assert.equal(t.kind, 'cluster');
    assert.deepEqual(t.primaries.map(at), cluster.primaries.map(at), 'primaries in slot order');
    const slots = t.nodes.flatMap((n) => n.slots ?? []).sort((a, b) => a[0] - b[0]);
    assert.deepEqual(slots[0]![0], 0);
    assert.deepEqual(slots.at(-1)![1], 16383);
    const covered = slots.reduce((sum, [a, b]) => sum + (b - a + 1), 0);
    assert.equal(covered, 16384, 'every slot served once');
    const replicas = t.nodes.filter((n) => n.role === 'replica');
    assert.deepEqual(replicas.map(at).sort(), cluster.replicas.map(at).sort());
    for (const r of replicas) assert.ok(t.primaries.map(at).includes(r.replicaOf!), `${at(r)} has a primary`);
  });
});
