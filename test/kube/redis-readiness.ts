/**
 * The kubelet's readiness probe for a scripted pod on the real API server: probes the local redis-server (PING and a
 * write, as the simulated kubelet does) and writes the outcome into the pod's status through the status subresource.
 * The restart count and lastState stay as scripted, so a verify window sees exactly the restarts the scenario has.
 */
import { PatchStrategy, setHeaderOptions, type CoreV1Api } from '@kubernetes/client-node';
import type { Redis } from 'ioredis';
import { probeRedisReadiness, withReadiness } from '../../local-servers/readiness.js';

export { withReadiness };

/** A running probe loop. */
export interface ReadinessProber {
  probes: { total: number; passed: number; statusWrites: number };
  /** The last error writing the status, if any (the loop keeps going). */
  lastError(): unknown;
  stop(): Promise<void>;
}

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** Probes every `intervalMs` until stopped. */
export function startReadinessProber(
  core: CoreV1Api,
  target: { namespace: string; pod: string; container: string },
  redis: Redis,
  intervalMs = 500,
): ReadinessProber {
  const probes = { total: 0, passed: 0, statusWrites: 0 };
  let stopped = false;
  let lastError: unknown;

  const loop = (async () => {
    while (!stopped) {
      const ok = await probeRedisReadiness(redis);
      probes.total++;
      if (ok) probes.passed++;
      try {
        const pod = await core.readNamespacedPod({ name: target.pod, namespace: target.namespace });
        const status = withReadiness(pod, target.container, ok);
        if (status) {
          await core.patchNamespacedPodStatus(
            { name: target.pod, namespace: target.namespace, body: { status } },
            mergePatch,
          );
          probes.statusWrites++;
        }
      } catch (err) {
        lastError = err;
      }
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();

  return {
    probes,
    lastError: () => lastError,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}
