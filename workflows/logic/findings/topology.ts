import { nodePodLine } from '../topology.js';
import type { Evidence, Finding, Rule } from './model.js';

/**
 * The pods behind a replicated set or a Cluster. The alert names one pod, but the primary may run in another (a
 * failover moved it there), and the other nodes' pods may be failing the same way: an SRE looks at all of them.
 */
export const topologyPodRules: Rule = (e) => {
  const others = (e.nodePods ?? []).filter((p) => p.pod && p.pod !== e.pod?.name);
  const out: Finding[] = [];
  const primary = e.pod ? others.find((p) => p.role === 'primary') : undefined;
  if (e.pod && primary?.pod) {
    out.push({
      id: 'primary-in-other-pod',
      severity: 'warning',
      message: `The primary (${primary.node}) runs in pod ${primary.pod}, not in ${e.pod.name} the alert named: the Redis steps act on the primary, so look at ${primary.pod} too (kubectl describe pod ${primary.pod}).`,
      evidence: { node: primary.node, pod: primary.pod },
    });
  }
  const failing = others.filter((p) => p.lastTerminated === 'OOMKilled' || p.ready === false || p.phase !== 'Running');
  if (failing.length > 0) {
    out.push({
      id: 'node-pod-failing',
      severity: 'warning',
      message: `Other pods of the ${e.redis?.topology?.kind ?? 'set'} are not well: ${failing.map(nodePodLine).join('; ')}. The same cause (memory, limits) likely hits them too.`,
      evidence: { pods: failing.map((p) => p.pod).join(','), oomKilled: failing.filter(oom).length },
    });
  }
  return out;
};

const oom = (p: NonNullable<Evidence['nodePods']>[number]) => p.lastTerminated === 'OOMKilled';
