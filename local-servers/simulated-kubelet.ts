import type { V1Pod } from '@kubernetes/client-node';
import { startProbeLoop, withReadiness, type ProbedContainer, type ProbeLoop } from './readiness.js';
import type { SimulatedCluster } from './simulated-cluster/index.js';

/** A running readiness loop; `stop()` ends it. */
export type SimulatedKubelet = ProbeLoop;

/**
 * Plays the kubelet's readiness probe for one pod of the simulated cluster against the real Redis behind it: a probe
 * passes when Redis answers PING and accepts a write (a key with a 5 s TTL). A passing probe marks the container
 * running and ready; a failing one marks it not ready. The restart count is never touched, so a verify window sees
 * exactly the restarts the scenario (or a test) put there.
 */
export function startSimulatedKubelet(cluster: SimulatedCluster, target: ProbedContainer): SimulatedKubelet {
  return startProbeLoop(target.redis, target.intervalMs ?? 500, (ready) => {
    const pod = cluster.scenario.pods.find(
      (p) => p.metadata.namespace === target.namespace && p.metadata.name === target.pod,
    );
    if (!pod) return;
    const status = withReadiness(pod as V1Pod, target.container, ready);
    // The scenario holds JSON as the API server would serve it: times as strings.
    if (status) pod.status = JSON.parse(JSON.stringify(status)) as typeof pod.status;
  });
}
