/**
 * The kubelet's readiness probe for a scripted pod on the real API server: probes the local redis-server (PING and a
 * write, as the simulated kubelet does) and writes the outcome into the pod's status through the status subresource.
 * The restart count and lastState stay as scripted, so a verify window sees exactly the restarts the scenario has.
 */
import { PatchStrategy, setHeaderOptions, type CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import type { Redis } from 'ioredis';

/** A running probe loop. */
export interface ReadinessProber {
  probes: { total: number; passed: number; statusWrites: number };
  /** The last error writing the status, if any (the loop keeps going). */
  lastError(): unknown;
  stop(): Promise<void>;
}

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/**
 * The pod's status with `container` (and the pod's Ready conditions) set to `ready`, restarts and lastState kept; or
 * undefined when the container already is so.
 */
export function withReadiness(pod: V1Pod, container: string, ready: boolean): NonNullable<V1Pod['status']> | undefined {
  const status = structuredClone(pod.status ?? {});
  const c = status.containerStatuses?.find((s) => s.name === container);
  if (!c || c.ready === ready) return undefined;
  const now = new Date();
  c.ready = ready;
  c.started = ready;
  if (ready) c.state = { running: { startedAt: now } };
  for (const cond of status.conditions ?? []) {
    if (cond.type === 'Ready' || cond.type === 'ContainersReady') {
      cond.status = ready ? 'True' : 'False';
      cond.lastTransitionTime = now;
      if (ready) {
        delete cond.reason;
        delete cond.message;
      }
    }
  }
  return status;
}

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

  async function probe(): Promise<boolean> {
    try {
      await redis.ping();
      await redis.set('kubelet:readiness', '1', 'PX', 5000);
      return true;
    } catch {
      return false;
    }
  }

  const loop = (async () => {
    while (!stopped) {
      const ok = await probe();
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
