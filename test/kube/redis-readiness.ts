/**
 * The kubelet's readiness probe for a scripted pod on the real API server: probes the local redis-server (PING and a
 * write, as the simulated kubelet does) and writes the outcome into the pod's status through the status subresource.
 * The restart count and lastState stay as scripted, so a verify window sees exactly the restarts the scenario has.
 */
import { PatchStrategy, setHeaderOptions, type CoreV1Api } from '@kubernetes/client-node';
import { startProbeLoop, withReadiness, type ProbedContainer } from '../../local-servers/readiness.js';

export { withReadiness };

/** A running probe loop. */
export interface ReadinessProber {
  probes: { total: number; passed: number };
  /** Status writes so far: probes whose outcome changed the pod. */
  statusWrites(): number;
  /** The last error writing the status, if any (the loop keeps going). */
  lastError(): unknown;
  stop(): Promise<void>;
}

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** Probes every `intervalMs` until stopped. */
export function startReadinessProber(core: CoreV1Api, target: ProbedContainer): ReadinessProber {
  let statusWrites = 0;
  let lastError: unknown;
  const loop = startProbeLoop(target.redis, target.intervalMs ?? 500, async (ready) => {
    try {
      const pod = await core.readNamespacedPod({ name: target.pod, namespace: target.namespace });
      const status = withReadiness(pod, target.container, ready);
      if (status) {
        await core.patchNamespacedPodStatus(
          { name: target.pod, namespace: target.namespace, body: { status } },
          mergePatch,
        );
        statusWrites++;
      }
    } catch (err) {
      lastError = err;
    }
  });
  return {
    probes: loop.probes,
    statusWrites: () => statusWrites,
    lastError: () => lastError,
    stop: () => loop.stop(),
  };
}
