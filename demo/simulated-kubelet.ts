import type { Redis } from 'ioredis';
import type { SimulatedCluster } from './simulated-cluster.js';

/** A running readiness loop; `stop()` ends it. */
export interface SimulatedKubelet {
  /** Probes run so far, and how many passed. */
  probes: { total: number; passed: number };
  stop(): Promise<void>;
}

/**
 * Plays the kubelet's readiness probe for one pod of the simulated cluster against the real Redis behind it: a probe
 * passes when Redis answers PING and accepts a write (a key with a 5 s TTL). A passing probe marks the container
 * running and ready; a failing one marks it not ready. The restart count is never touched, so a verify window sees
 * exactly the restarts the scenario (or a test) put there.
 */
export function startSimulatedKubelet(
  cluster: SimulatedCluster,
  target: { namespace: string; pod: string; container: string },
  redis: Redis,
  intervalMs = 500,
): SimulatedKubelet {
  const probes = { total: 0, passed: 0 };
  let stopped = false;

  async function probe(): Promise<boolean> {
    try {
      await redis.ping();
      await redis.set('kubelet:readiness', '1', 'PX', 5000);
      return true;
    } catch {
      return false;
    }
  }

  function apply(ready: boolean): void {
    const pod = cluster.scenario.pods.find(
      (p) => p.metadata.namespace === target.namespace && p.metadata.name === target.pod,
    );
    const status = pod?.status as Record<string, unknown> | undefined;
    if (!status) return;
    const containers = (status.containerStatuses ?? []) as Array<Record<string, unknown>>;
    const c = containers.find((s) => s.name === target.container);
    if (!c || c.ready === ready) return;
    c.ready = ready;
    c.started = ready;
    if (ready) c.state = { running: { startedAt: new Date().toISOString() } };
    const conditions = (status.conditions ?? []) as Array<Record<string, unknown>>;
    for (const cond of conditions) {
      if (cond.type === 'Ready' || cond.type === 'ContainersReady') {
        cond.status = ready ? 'True' : 'False';
        if (ready) {
          delete cond.reason;
          delete cond.message;
        }
        cond.lastTransitionTime = new Date().toISOString();
      }
    }
  }

  const loop = (async () => {
    while (!stopped) {
      const ok = await probe();
      probes.total++;
      if (ok) probes.passed++;
      apply(ok);
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
