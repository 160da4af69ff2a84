import type { Redis } from 'ioredis';
import type { RedisAddress } from '../../workflows/definitions.js';
import { infoText } from './config.js';
import { parseInfo } from './info.js';
import { withRedis, type RedisConnector } from './connection.js';
import { isInSync, nodeKey } from '../../workflows/logic/topology.js';
import { keyInRanges, type SlotRanges } from './slots.js';

/** One node of the set or cluster the target belongs to, as its primary (or Cluster) reported it. */
export interface RedisNode {
  host: string;
  port: number;
  role: 'primary' | 'replica';
  /** A replica's primary, `host:port`. */
  replicaOf?: string;
  /** A replica's `master_link_status` (`up` or `down`), as the replica itself reports it. */
  linkStatus?: string;
  /** Replication offset: the primary's `master_repl_offset`, a replica's processed offset. */
  offset?: number;
  /** How far a replica is behind its primary, in bytes of the replication stream. */
  lagBytes?: number;
  /** Cluster: the slot ranges a primary serves, inclusive. */
  slots?: Array<[number, number]>;
  /** Cluster: the shard's id and the node's health (`online`, `loading`, `fail`). */
  shard?: string;
  health?: string;
  /**
   * Sentinel counts it as a replica but it still reports itself primary: an old primary a failover left behind (one at
   * its memory limit refuses Sentinel's reconfiguration until memory is freed).
   */
  reportsPrimary?: boolean;
}

/** What the runbook acts on: which nodes there are, which are primaries, and how it found them. */
export interface RedisTopology {
  kind: 'standalone' | 'replicated' | 'sentinel' | 'cluster';
  /** The primary of a set; every primary of a Cluster (slot order). */
  primaries: RedisAddress[];
  nodes: RedisNode[];
  /** Sentinel: the set's name and the Sentinel that answered. */
  sentinel?: { masterName: string; answeredBy: string };
  /** What the discovery had to decide: a target that named a replica, a Sentinel that did not answer. */
  notes: string[];
}

/**
 * Finds the nodes behind `target`: through its Sentinels when it names some (the primary they agree on now, so a
 * failover between steps is followed), else from `INFO replication` and, on a Cluster node, `CLUSTER SHARDS`. A target
 * that points at a replica resolves to its primary. Read-only: INFO, ROLE-like sections, CLUSTER SHARDS, SENTINEL.
 */
export async function discoverTopology(connect: RedisConnector, target: RedisAddress): Promise<RedisTopology> {
  const notes: string[] = [];
  let start: RedisAddress = target;
  let sentinel: RedisTopology['sentinel'];
  let sentinelReplicas: SentinelReplica[] = [];
  if (target.sentinel) {
    const found = await askSentinels(connect, target, notes);
    start = { ...plain(target), ...found.primary };
    sentinel = { masterName: target.sentinel.masterName, answeredBy: found.answeredBy };
    sentinelReplicas = found.replicas;
  }
  const first = await readNode(connect, start);
  if (first.cluster) return clusterTopology(connect, start, notes);
  let primary = start;
  let view = first;
  if (first.role === 'replica') {
    primary = { ...plain(target), host: first.masterHost, port: first.masterPort };
    notes.push(`${nodeKey(start)} is a replica of ${nodeKey(primary)}: the runbook acts on the primary`);
    view = await readNode(connect, primary);
  }
  const replicas = await Promise.all(
    view.replicas.map(async (r): Promise<RedisNode> => {
      const node: RedisNode = {
        host: r.host,
        port: r.port,
        role: 'replica',
        replicaOf: nodeKey(primary),
        offset: r.offset,
      };
      try {
        const own = await readNode(connect, { ...plain(target), host: r.host, port: r.port });
        return {
          ...node,
          linkStatus: own.linkStatus,
          offset: own.offset,
          lagBytes: Math.max(0, view.offset - own.offset),
        };
      } catch (err) {
        notes.push(`replica ${r.host}:${r.port} did not answer: ${err instanceof Error ? err.message : String(err)}`);
        return { ...node, linkStatus: 'unreachable', lagBytes: Math.max(0, view.offset - r.offset) };
      }
    }),
  );
  // Replicas Sentinel counts that the primary does not list: an old primary that has not rejoined, a replica down.
  const listed = new Set(replicas.map(nodeKey));
  const missing = sentinelReplicas
    .filter((r) => !listed.has(nodeKey(r)) && nodeKey(r) !== nodeKey(primary) && !r.down)
    .map((r): RedisNode => {
      notes.push(
        r.reportsPrimary
          ? `${nodeKey(r)}: Sentinel counts it as a replica of ${nodeKey(primary)}, it still reports itself primary (not rejoined since a failover)`
          : `${nodeKey(r)}: Sentinel counts it as a replica, ${nodeKey(primary)} does not list it (link ${r.linkOk ? 'ok' : 'down'})`,
      );
      return {
        host: r.host,
        port: r.port,
        role: 'replica',
        replicaOf: nodeKey(primary),
        linkStatus: 'down',
        ...(r.reportsPrimary && { reportsPrimary: true }),
      };
    });
  const nodes: RedisNode[] = [
    { host: primary.host, port: primary.port, role: 'primary', offset: view.offset },
    ...replicas,
    ...missing,
  ];
  const kind = sentinel ? 'sentinel' : replicas.length > 0 ? 'replicated' : 'standalone';
  return { kind, primaries: [plain(primary)], nodes, ...(sentinel && { sentinel }), notes };
}

/** A replica in sync with `primary` that may take a read-only load off it (see {@link isInSync}). */
export function inSyncReplicaOf(topology: RedisTopology, primary: RedisAddress): RedisNode | undefined {
  return topology.nodes.find((n) => n.replicaOf === nodeKey(primary) && isInSync(n));
}

/** The address of `node` with the target's db and credentials' lookup key, without topology fields. */
export function nodeAddress(target: RedisAddress, node: { host: string; port: number }): RedisAddress {
  return { ...plain(target), host: node.host, port: node.port };
}

function plain(addr: RedisAddress): RedisAddress {
  return { host: addr.host, port: addr.port, ...(addr.db !== undefined && { db: addr.db }) };
}

async function askSentinels(
  connect: RedisConnector,
  target: RedisAddress,
  notes: string[],
): Promise<{ primary: { host: string; port: number }; answeredBy: string; replicas: SentinelReplica[] }> {
  const { masterName, nodes } = target.sentinel!;
  const errors: string[] = [];
  for (const s of nodes) {
    try {
      const [reply, replicas] = await withRedis(connect, { host: s.host, port: s.port }, async (r) => [
        await r.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName),
        ((await r.call('SENTINEL', 'REPLICAS', masterName)) as unknown[]).map(pairs),
      ]);
      if (!Array.isArray(reply) || reply.length < 2) throw new Error(`does not know a set named ${masterName}`);
      if (errors.length > 0) notes.push(`Sentinels that did not answer: ${errors.join('; ')}`);
      return {
        primary: { host: String(reply[0]), port: Number(reply[1]) },
        answeredBy: nodeKey(s),
        replicas: replicas.map((r) => ({
          host: String(r['ip']),
          port: Number(r['port']),
          linkOk: r['master-link-status'] === 'ok',
          reportsPrimary: r['role-reported'] === 'master',
          down: typeof r['flags'] === 'string' && r['flags'].includes('s_down'),
        })),
      };
    } catch (err) {
      errors.push(`${nodeKey(s)}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  throw new Error(`no Sentinel answered for ${masterName}: ${errors.join('; ')}`);
}

/** A replica as Sentinel sees it (`SENTINEL REPLICAS`). */
interface SentinelReplica {
  host: string;
  port: number;
  linkOk: boolean;
  reportsPrimary: boolean;
  down: boolean;
}

interface NodeView {
  role: 'primary' | 'replica';
  cluster: boolean;
  offset: number;
  masterHost: string;
  masterPort: number;
  linkStatus?: string;
  replicas: Array<{ host: string; port: number; offset: number }>;
}

async function readNode(connect: RedisConnector, addr: RedisAddress): Promise<NodeView> {
  return withRedis(connect, addr, async (redis) => {
    const sections = parseInfo(await infoText(redis, 'replication', 'cluster'));
    const rep = sections['replication'] ?? {};
    const replicas = Object.entries(rep)
      .filter(([k]) => /^slave\d+$/.test(k))
      .map(([, v]) => Object.fromEntries(v.split(',').map((kv) => kv.split('=') as [string, string])))
      .map((f) => ({ host: f['ip'] ?? '', port: Number(f['port']), offset: Number(f['offset'] ?? 0) }));
    const replica = rep['role'] === 'slave';
    return {
      role: replica ? 'replica' : 'primary',
      cluster: sections['cluster']?.['cluster_enabled'] === '1',
      offset:
        Number(replica ? (rep['slave_repl_offset'] ?? rep['master_repl_offset']) : rep['master_repl_offset']) || 0,
      masterHost: rep['master_host'] ?? '',
      masterPort: Number(rep['master_port'] ?? 0),
      ...(replica && { linkStatus: rep['master_link_status'] }),
      replicas,
    };
  });
}

async function clusterTopology(connect: RedisConnector, seed: RedisAddress, notes: string[]): Promise<RedisTopology> {
  const shards = await withRedis(connect, seed, (redis) => clusterShards(redis));
  const nodes: RedisNode[] = [];
  for (const shard of shards) {
    const primary = shard.nodes.find((n) => n.role === 'master' && n.health !== 'fail');
    // Offsets and links as each node reports them: the Cluster's gossip lags behind by a ping or two.
    const primaryOffset = primary ? await ownView(connect, seed, primary, notes) : undefined;
    for (const n of shard.nodes) {
      const isPrimary = n === primary;
      const own = isPrimary ? primaryOffset : await ownView(connect, seed, n, notes);
      nodes.push({
        host: n.ip,
        port: n.port,
        role: isPrimary ? 'primary' : 'replica',
        offset: own?.offset ?? n.offset,
        shard: shard.id,
        health: n.health,
        ...(isPrimary
          ? { slots: shard.slots }
          : {
              ...(primary && { replicaOf: nodeKey({ host: primary.ip, port: primary.port }) }),
              linkStatus: own?.linkStatus ?? 'unreachable',
              ...(own && primaryOffset && { lagBytes: Math.max(0, primaryOffset.offset - own.offset) }),
            }),
      });
    }
    if (!primary) notes.push(`shard ${shard.id} has no healthy primary`);
  }
  const primaries = nodes
    .filter((n) => n.role === 'primary' && (n.slots?.length ?? 0) > 0)
    .sort((a, b) => (a.slots![0]![0] ?? 0) - (b.slots![0]![0] ?? 0))
    .map((n) => nodeAddress(seed, n));
  return { kind: 'cluster', primaries, nodes, notes };
}

/** A Cluster node's own replication view; undefined (and a note) when it does not answer. */
async function ownView(
  connect: RedisConnector,
  seed: RedisAddress,
  n: { ip: string; port: number },
  notes: string[],
): Promise<NodeView | undefined> {
  try {
    return await readNode(connect, nodeAddress(seed, { host: n.ip, port: n.port }));
  } catch (err) {
    notes.push(`${n.ip}:${n.port} did not answer: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
}

interface Shard {
  id: string;
  slots: Array<[number, number]>;
  nodes: Array<{ ip: string; port: number; role: string; offset: number; health: string }>;
}

/** `CLUSTER SHARDS` (Redis ≥ 7.0) as plain objects: RESP2 gives flat name/value arrays. */
async function clusterShards(redis: Redis): Promise<Shard[]> {
  const reply = (await redis.call('CLUSTER', 'SHARDS')) as unknown[];
  return reply.map((raw) => {
    const shard = pairs(raw);
    const flat = (shard['slots'] as unknown[]).map(Number);
    const slots: Array<[number, number]> = [];
    for (let i = 0; i + 1 < flat.length; i += 2) slots.push([flat[i]!, flat[i + 1]!]);
    const nodes = (shard['nodes'] as unknown[]).map((n) => {
      const node = pairs(n);
      return {
        ip: String(node['ip'] ?? node['endpoint']),
        port: Number(node['port'] ?? node['tls-port']),
        role: String(node['role']),
        offset: Number(node['replication-offset'] ?? 0),
        health: String(node['health']),
      };
    });
    const first = pairs((shard['nodes'] as unknown[])[0])['id'];
    const id = typeof first === 'string' ? first.slice(0, 12) : '';
    return { id, slots, nodes };
  });
}

function pairs(raw: unknown): Record<string, unknown> {
  const list = raw as unknown[];
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < list.length; i += 2) out[String(list[i])] = list[i + 1];
  return out;
}

/**
 * `base` where this node may write it: unchanged outside a Cluster; in one, {@link keyInRanges} over the slots this
 * node serves, since a node answers MOVED for the others.
 */
export async function localKey(redis: Redis, base: string): Promise<string> {
  if (!/cluster_enabled:1/.test(await redis.info('cluster'))) return base;
  const myself = String(await redis.call('CLUSTER', 'NODES'))
    .split('\n')
    .find((line) => line.split(' ')[2]?.split(',').includes('myself'));
  const ranges: SlotRanges = (myself?.split(' ').slice(8) ?? [])
    .filter((r) => /^\d+(-\d+)?$/.test(r))
    .map((r) => {
      const [a, b] = r.split('-').map(Number) as [number, number?];
      return [a, b ?? a];
    });
  const key = keyInRanges(base, ranges);
  if (!key) throw new Error(`this Cluster node serves no slot (${myself ?? 'no myself line in CLUSTER NODES'})`);
  return key;
}
