import type { RedisDiagnostics } from '../../activities/redis/types.js';

/** Replication lag (bytes) a replica may have once the run is over. */
export const MAX_REPLICA_LAG_BYTES = 1024 * 1024;

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
}

const at = (n: { host: string; port: number }) => `${n.host}:${n.port}`;

/** The view of a diagnosis's topology; undefined for a diagnosis without one (older workers). */
export function topologyView(d: RedisDiagnostics | undefined): TopologyView | undefined {
  const t = d?.topology;
  if (!t) return undefined;
  const replicas = t.nodes.filter((n) => n.role === 'replica');
  return {
    kind: t.kind,
    primaries: t.primaries.map(at),
    replicas: replicas.length,
    inSync: replicas.filter((r) => r.linkStatus === 'up' && (r.lagBytes ?? Infinity) <= MAX_REPLICA_LAG_BYTES).length,
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
    if (n.health === 'fail') problems.push(`${n.role} ${at(n)} is marked failed in the Cluster`);
    if (n.role !== 'replica') continue;
    if (n.linkStatus !== 'up') problems.push(`replica ${at(n)}: master_link_status ${n.linkStatus ?? 'unknown'}`);
    else if ((n.lagBytes ?? 0) > MAX_REPLICA_LAG_BYTES)
      problems.push(`replica ${at(n)} is ${n.lagBytes} bytes behind its primary`);
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
  return from && to && at(from) !== at(to) ? `${at(from)} → ${at(to)}` : undefined;
}
