import type { Redis } from 'ioredis';
import type { RedisAddress } from '../../workflows/definitions.js';
import type { RedisDiagnostics } from './types.js';
import { withRedis, type RedisConnector } from './connection.js';
import { infoText } from './config.js';
import { parseInfo, summarizeInfo } from './info.js';
import { LatencyPacer, threadLatency, type PacingOptions } from './pacing.js';
import type { ScanNode } from './scan-nodes.js';
import { nodeKey } from '../../workflows/logic/topology.js';
import { inSyncReplicaOf, nodeAddress, type RedisNode, type RedisTopology } from './topology.js';

/** The primary a diagnosis reads INFO of: the target itself when it is one, else its primary (a Cluster's shard). */
export function homePrimary(topology: RedisTopology, target: RedisAddress): RedisAddress {
  const named = (n: { host: string; port: number }) => n.host === target.host && n.port === target.port;
  if (topology.kind === 'cluster') {
    const node = topology.nodes.find(named);
    const primary =
      node?.role === 'primary'
        ? node
        : topology.nodes.find((n) => n.role === 'primary' && nodeKey(n) === node?.replicaOf);
    if (primary) return nodeAddress(target, primary);
  }
  return topology.primaries[0] ?? target;
}

/** Where the key scan runs: for each primary a replica in sync where there is one (sparing it), else the primary. */
export function scanPlan(
  topology: RedisTopology,
  target: RedisAddress,
): { nodes: Array<RedisAddress & { role: RedisNode['role'] }>; note?: string } {
  const primaries = topology.kind === 'cluster' ? topology.primaries : [homePrimary(topology, target)];
  const nodes = primaries.map((p) => {
    const replica = inSyncReplicaOf(topology, p);
    return replica ? { ...nodeAddress(target, replica), role: 'replica' as const } : { ...p, role: 'primary' as const };
  });
  if (topology.kind === 'standalone') return { nodes };
  const onReplicas = nodes.filter((n) => n.role === 'replica').length;
  const note =
    onReplicas === nodes.length
      ? `scanned on ${onReplicas === 1 ? 'a replica' : 'replicas'} in sync (${nodes.map(nodeKey).join(', ')}): the primaries were spared`
      : onReplicas === 0
        ? `no replica in sync: scanned on the primary (${nodes.map(nodeKey).join(', ')})`
        : `scanned on ${nodes.map((n) => `${nodeKey(n)} (${n.role})`).join(', ')}: some shards had no replica in sync`;
  return { nodes, note };
}

/**
 * Opens the scan's nodes (reusing `home`'s connection where the scan runs there), each with a latency pacer of its
 * own (a scan on a replica is paced by the replica's latency), runs `fn` and closes them all.
 */
export async function withScanNodes<T>(
  connect: RedisConnector,
  nodes: Array<RedisAddress & { role: RedisNode['role'] }>,
  home: { addr: RedisAddress; redis: Redis },
  pacing: PacingOptions | undefined,
  cluster: boolean,
  fn: (scanOn: ScanNode[]) => Promise<T>,
): Promise<T> {
  const open = async (i: number, scanOn: ScanNode[]): Promise<T> => {
    if (i === nodes.length) return fn(scanOn);
    const addr = nodes[i]!;
    const run = async (redis: Redis) => {
      // A Cluster replica serves reads of its primary's slots only to a connection that asked for it.
      if (cluster && addr.role === 'replica') await redis.call('READONLY');
      const pacer = new LatencyPacer(threadLatency(redis.options), pacing);
      try {
        await pacer.ready();
        const at = { host: addr.host, port: addr.port, role: addr.role };
        return await open(i + 1, [...scanOn, { redis, pace: () => pacer.afterBatch(), at }]);
      } finally {
        await pacer.stop();
      }
    };
    return addr.host === home.addr.host && addr.port === home.addr.port
      ? run(home.redis)
      : withRedis(connect, addr, run);
  };
  return open(0, []);
}

/** A Cluster's primaries: used memory, maxmemory and keys of each, and the largest over the mean. */
export async function shardMemory(
  connect: RedisConnector,
  primaries: RedisAddress[],
): Promise<Pick<RedisDiagnostics, 'shards' | 'shardSkew'>> {
  const shards = await Promise.all(
    primaries.map((p) =>
      withRedis(connect, p, async (redis) => {
        const info = summarizeInfo(parseInfo(await infoText(redis, 'memory', 'keyspace')));
        return {
          host: p.host,
          port: p.port,
          usedMemory: info.memory.usedMemory,
          maxmemory: info.memory.maxmemory,
          keys: info.keyspace.reduce((n, d) => n + d.keys, 0),
        };
      }),
    ),
  );
  const mean = shards.reduce((n, s) => n + s.usedMemory, 0) / Math.max(1, shards.length);
  const most = Math.max(0, ...shards.map((s) => s.usedMemory));
  return { shards, shardSkew: mean > 0 ? Math.round((most / mean) * 100) / 100 : 1 };
}
