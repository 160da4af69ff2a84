import type { RedisDiagnostics } from '../../activities/redis/types.js';
import type { RedisNode } from '../../activities/redis/topology.js';
import type { RedisNodePod } from '../../activities/kubernetes/types.js';

/** Replication lag (bytes) under which a replica counts as in sync: it may take the scan, and verification wants it. */
export const MAX_REPLICA_LAG_BYTES = 1024 * 1024;

/** `host:port`: how nodes are named and compared (a replica's `replicaOf` too). */
export function nodeKey(n: { host: string; port: number }): string {
  return `${n.host}:${n.port}`;
}

/** A replica linked to its primary and at most {@link MAX_REPLICA_LAG_BYTES} behind (an unknown lag is not). */
export function isInSync(n: RedisNode): boolean {
  return n.role === 'replica' && n.linkStatus === 'up' && (n.lagBytes ?? Infinity) <= MAX_REPLICA_LAG_BYTES;
}

/** The topology as the status and the UI show it: one line's worth. */
export interface TopologyView {
  kind: 'standalone' | 'replicated' | 'sentinel' | 'cluster';
  primaries: string[];
  replicas: number;
  /** Replicas with their link up and lag under {@link MAX_REPLICA_LAG_BYTES}. */
  inSync: number;
  /** Where the key scan ran, and why there. */
  scannedOn?: string;
  notes: string[];
  /** The pod each node runs in, as Kubernetes says (a replicated set or Cluster only). */
  pods?: RedisNodePod[];
}

/** `replica 10.0.0.7:6379 in redis-2 (ready, 3 restart(s), last ended OOMKilled)`: one node's pod, one line. */
export function nodePodLine(p: RedisNodePod): string {
  if (!p.pod) return `${p.role} ${p.node}: no pod of the namespace has this address`;
  const state = [
    p.phase !== 'Running' ? (p.phase ?? 'Unknown') : p.ready ? 'ready' : 'not ready',
    `${p.restarts ?? 0} restart(s)`,
    ...(p.lastTerminated ? [`last ended ${p.lastTerminated}`] : []),
  ];
  return `${p.role} ${p.node} in ${p.pod} (${state.join(', ')})`;
}

/** The view of a diagnosis's topology; undefined for a diagnosis without one (older workers). */
export function topologyView(d: RedisDiagnostics | undefined): TopologyView | undefined {
  const t = d?.topology;
  if (!t) return undefined;
  const replicas = t.nodes.filter((n) => n.role === 'replica');
  return {
    kind: t.kind,
    primaries: t.primaries.map(nodeKey),
    replicas: replicas.length,
    inSync: replicas.filter(isInSync).length,
    ...(d.scanNote && { scannedOn: d.scanNote }),
    notes: t.notes,
  };
}

/**
 * What the topology after remediation says is wrong: a replica whose link is down or that is far behind, a Cluster
 * node marked failed. Nothing for a diagnosis without a topology.
 */
export function topologyProblems(after: RedisDiagnostics | undefined): string[] {
  const nodes = after?.topology?.nodes ?? [];
  const problems: string[] = [];
  for (const n of nodes) {
    if (n.health === 'fail') problems.push(`${n.role} ${nodeKey(n)} is marked failed in the Cluster`);
    if (n.role !== 'replica') continue;
    if (n.linkStatus !== 'up') problems.push(`replica ${nodeKey(n)}: master_link_status ${n.linkStatus ?? 'unknown'}`);
    else if ((n.lagBytes ?? 0) > MAX_REPLICA_LAG_BYTES)
      problems.push(`replica ${nodeKey(n)} is ${n.lagBytes} bytes behind its primary`);
  }
  return problems;
}

/** `X → Y` when the primary the run started with is not the primary at the end (a failover during the run). */
export function primaryMoved(
  before: RedisDiagnostics | undefined,
  after: RedisDiagnostics | undefined,
): string | undefined {
  const b = before?.topology;
  const a = after?.topology;
  if (!a || !b || a.kind === 'cluster' || b.kind === 'cluster') return undefined;
  const from = b.primaries[0];
  const to = a.primaries[0];
  return from && to && nodeKey(from) !== nodeKey(to) ? `${nodeKey(from)} → ${nodeKey(to)}` : undefined;
}
