import { mib, pct, unavailable } from './model.js';
import type { Finding, Rule } from './model.js';

/** Node events that say the node itself ran out of memory or is evicting. */
const NODE_OOM_EVENTS = new Set(['SystemOOM', 'OOMKilling']);
const NODE_EVICTION_EVENTS = new Set(['EvictionThresholdMet', 'Evicted', 'FreeDiskSpaceFailed']);
/** Share of the node's allocatable memory in use past which it is close to evicting. */
const NODE_MEMORY_HIGH = 0.9;

const NOT_A_REDIS_FIX =
  'no Redis CONFIG SET or cleanup fixes the node: move Redis (drain or cordon the node), add memory or give the other pods limits';

/**
 * The node the pod runs on: pressure conditions, kernel OOM kills, evictions, memory overcommitted by limits, live use
 * near allocatable. Each says whether a Redis change can help (mostly: it cannot).
 */
export const nodeRules: Rule = (e) => {
  const node = e.node;
  if (!node) return unavailable('node-unavailable', 'info', 'Could not describe the node', e.nodeError);
  const out: Finding[] = [];
  const status = (type: string) => node.conditions.find((c) => c.type === type);
  const ready = status('Ready');
  if (ready && ready.status !== 'True') {
    out.push({
      id: 'node-not-ready',
      severity: 'critical',
      message: `Node ${node.name} is not Ready (${ready.reason ?? ready.status}): its pods are not running as reported. Look at the node (kubelet, network) before Redis; ${NOT_A_REDIS_FIX}.`,
      evidence: { node: node.name, status: ready.status, reason: ready.reason ?? '' },
    });
  }
  const pressure: Array<[type: string, id: Finding['id'], what: string]> = [
    ['MemoryPressure', 'node-memory-pressure', 'memory: the kubelet evicts pods, BestEffort and Burstable first'],
    ['DiskPressure', 'node-disk-pressure', 'disk: the kubelet evicts pods and Redis saves on node storage can fail'],
    ['PIDPressure', 'node-pid-pressure', 'process IDs: forks (BGSAVE, AOF rewrite) can fail'],
  ];
  for (const [type, id, what] of pressure) {
    const c = status(type);
    if (c?.status !== 'True') continue;
    out.push({
      id,
      severity: type === 'PIDPressure' ? 'warning' : 'critical',
      message: `Node ${node.name} reports ${type} (out of ${what}); ${NOT_A_REDIS_FIX}.`,
      evidence: { node: node.name, condition: type, reason: c.reason ?? '' },
    });
  }
  const ooms = node.events.filter((ev) => NODE_OOM_EVENTS.has(ev.reason));
  if (ooms.length > 0) {
    const count = ooms.reduce((sum, ev) => sum + ev.count, 0);
    out.push({
      id: 'node-oom-events',
      severity: 'critical',
      message: `The kernel of node ${node.name} ran out of memory ${count} time(s) (${ooms.at(-1)!.reason}: "${ooms.at(-1)!.message}"): processes die for the node's memory, not for their own limit; ${NOT_A_REDIS_FIX}.`,
      evidence: { node: node.name, events: count },
    });
  }
  const evictionEvents = node.events.filter((ev) => NODE_EVICTION_EVENTS.has(ev.reason));
  const pods = 'unavailable' in node.pods ? undefined : node.pods;
  const evicted = pods?.evicted ?? { count: 0, pods: [] };
  if (evicted.count > 0 || evictionEvents.length > 0) {
    const names = evicted.pods.slice(0, 3).map((p) => `${p.namespace}/${p.name}`);
    out.push({
      id: 'node-evictions',
      severity: 'warning',
      message: `Node ${node.name} evicted ${evicted.count} pod(s)${names.length ? ` (${names.join(', ')})` : ''}${evictionEvents.length ? ` and reported ${evictionEvents.at(-1)!.reason}` : ''}: it is short of a resource. A Redis whose memory request equals its limit (Guaranteed) is evicted last.`,
      evidence: { node: node.name, evictedPods: evicted.count, evictionEvents: evictionEvents.length },
    });
  }
  const allocatable = node.allocatableMemoryBytes;
  if (allocatable !== undefined && pods && pods.memoryLimitsBytes > allocatable) {
    out.push({
      id: 'node-overcommitted',
      severity: 'warning',
      message: `The ${pods.count} pods on node ${node.name} may use ${mib(pods.memoryLimitsBytes)} by their limits (${pct(pods.memoryLimitsBytes / allocatable)} of its ${mib(allocatable)} allocatable)${pods.withoutMemoryLimit ? `, and ${pods.withoutMemoryLimit} have no memory limit at all` : ''}: together they can run the node out of memory before any reaches its own limit.`,
      evidence: {
        node: node.name,
        limitsBytes: pods.memoryLimitsBytes,
        requestsBytes: pods.memoryRequestsBytes,
        allocatableBytes: allocatable,
        podsWithoutLimit: pods.withoutMemoryLimit,
      },
    });
  }
  if (!node.metrics.available) {
    out.push({
      id: 'node-metrics-unavailable',
      severity: 'info',
      message: `No live memory figures for node ${node.name} (kubectl top): ${node.metrics.reason}.`,
      evidence: { node: node.name },
    });
  } else if (
    allocatable &&
    node.metrics.nodeBytes !== undefined &&
    node.metrics.nodeBytes / allocatable >= NODE_MEMORY_HIGH
  ) {
    out.push({
      id: 'node-memory-high',
      severity: 'warning',
      message: `Node ${node.name} uses ${mib(node.metrics.nodeBytes)} of its ${mib(allocatable)} allocatable memory (${pct(node.metrics.nodeBytes / allocatable)}): close to the kubelet's eviction threshold.`,
      evidence: { node: node.name, usedBytes: node.metrics.nodeBytes, allocatableBytes: allocatable },
    });
  }
  return out;
};
