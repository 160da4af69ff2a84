/**
 * Remediation on real topologies: settings on every node (primaries and replicas, each read back), key actions on the
 * current primary, a Sentinel failover between two actions followed without applying anything twice, and a Cluster.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { createBackupActivities } from '../../activities/backup/index.js';
import { createRedisActivities, createRedisConnector } from '../../activities/redis/index.js';
import type { RedisAddress } from '../../workflows/definitions.js';
import { planned } from './planned-action.js';
import {
  startRedisCluster,
  startReplicatedSet,
  type RedisClusterServers,
  type ReplicatedSet,
} from '../../local-servers/redis-topology.js';

const redis = createRedisActivities(createRedisConnector());
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
      const copy = await createBackupActivities(createRedisConnector(), { directory: store, keep: 1 }).copyBackup({
        redis: target,
        incidentId: 'TOPO',
        target: 'cache/redis-0',
      });
      assert.equal(copy.verified, true, JSON.stringify(copy.restoreTest));
      const onPrimary = await createBackupActivities(createRedisConnector(), {
        directory: store,
        keep: 1,
        from: 'primary',
      }).copyBackup({ redis: target, incidentId: 'TOPO2', target: 'cache/redis-0' });
      assert.equal(onPrimary.verified, true);
    } finally {
      await rm(store, { recursive: true, force: true });
    }
    const primaryOnly = await createRedisActivities(createRedisConnector(), { backupFrom: 'primary' }).backupRedis({
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

  it('a Cluster: settings on all six nodes; a key cleanup is refused with the reason', async () => {
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
    await assert.rejects(
      redis.applyRedisAction({
        redis: seed,
        action: planned('unlink-tmp', { kind: 'unlink-keys', pattern: 'tmp:*', maxKeys: 10 }),
      }),
      (err: Error & { type?: string }) =>
        err.type === 'InvalidAction' && /Redis Cluster is not supported yet/.test(err.message),
    );
  });
});
