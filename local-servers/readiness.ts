/**
 * The kubelet's readiness check as the demo and the tests play it, shared by the simulated kubelet (scenario objects)
 * and the prober of the real-API-server suites (status subresource).
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { Redis } from 'ioredis';

/** A readiness probe passes when Redis answers PING and accepts a write (a key with a 5 s TTL). */
export async function probeRedisReadiness(redis: Redis): Promise<boolean> {
  try {
    await redis.ping();
    await redis.set('kubelet:readiness', '1', 'PX', 5000);
    return true;
  } catch {
    return false;
  }
}

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

/** What a readiness loop probes and whose status it writes: one container of one pod, every `intervalMs` (500). */
export interface ProbedContainer {
  namespace: string;
  pod: string;
  container: string;
  redis: Redis;
  intervalMs?: number;
}

/** A running probe loop; `stop()` ends it after the probe in flight. */
export interface ProbeLoop {
  /** Probes run so far, and how many passed. */
  probes: { total: number; passed: number };
  stop(): Promise<void>;
}

/** Probes `redis` every `intervalMs` until stopped, handing each outcome to `apply` (which writes it somewhere). */
export function startProbeLoop(
  redis: Redis,
  intervalMs: number,
  apply: (ready: boolean) => void | Promise<void>,
): ProbeLoop {
  const probes = { total: 0, passed: 0 };
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const ok = await probeRedisReadiness(redis);
      probes.total++;
      if (ok) probes.passed++;
      await apply(ok);
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return {
    probes,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}
