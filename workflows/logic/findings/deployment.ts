import { mib, MiB, mountHolding, redisContainer } from './model.js';
import type { Finding, Rule } from './model.js';

/**
 * How the pod is set up (its spec, as `describePod` read it): a liveness probe that kills Redis while it loads its
 * data, a memory request below the limit, a floating image tag, a sidecar without a memory limit, the data directory
 * outside every volume. Each names the field to change and the value to put there.
 */
export const deploymentRules: Rule = (e) => {
  const spec = e.pod?.spec;
  if (!spec) return [];
  const out: Finding[] = [];
  const redis = redisContainer(e);
  if (!redis) return [];
  const workload = e.limits?.workload;
  const target = workload
    ? `${workload.kind.toLowerCase()}/${workload.name} -n ${workload.namespace}`
    : `the pod's owner`;
  const index = spec.containers.indexOf(redis);
  const load = e.logs?.loadSeconds;
  const live = redis.liveness;
  if (live && load !== undefined && !redis.startup) {
    // What the probe allows before it kills: the delay, then failureThreshold periods.
    const budget = live.initialDelaySeconds + live.periodSeconds * live.failureThreshold;
    if (budget < load * 1.5) {
      const delay = Math.ceil(load * 2);
      out.push({
        id: 'liveness-kills-loading',
        severity: 'critical',
        message: `The liveness probe gives Redis ${budget} s (initialDelaySeconds ${live.initialDelaySeconds} + ${live.failureThreshold} × periodSeconds ${live.periodSeconds}) but its last load took ${load} s: the kubelet kills it while it loads, a crash loop. Set livenessProbe.initialDelaySeconds to ${delay} (or add a startupProbe), with kubectl patch ${target} --type json -p '[{"op":"replace","path":"/spec/template/spec/containers/${index}/livenessProbe/initialDelaySeconds","value":${delay}}]'.`,
        evidence: { budgetSeconds: budget, loadSeconds: load, suggestedInitialDelaySeconds: delay },
      });
    }
  }
  if (redis.memoryLimitBytes !== undefined && (redis.memoryRequestBytes ?? 0) < redis.memoryLimitBytes) {
    out.push({
      id: 'memory-request-below-limit',
      severity: 'info',
      message: `Container ${redis.name} requests ${mib(redis.memoryRequestBytes ?? 0)} of memory under a ${mib(redis.memoryLimitBytes)} limit: under node memory pressure it is evicted before Guaranteed pods. Set resources.requests.memory to ${Math.round(redis.memoryLimitBytes / MiB)}Mi (equal to the limit).`,
      evidence: { requestBytes: redis.memoryRequestBytes ?? 0, limitBytes: redis.memoryLimitBytes },
    });
  }
  const tag = redis.image.includes('@') ? 'digest' : (/:([^:/]+)$/.exec(redis.image)?.[1] ?? 'latest');
  if (tag === 'latest') {
    out.push({
      id: 'image-latest',
      severity: 'warning',
      message: `Container ${redis.name} runs image ${redis.image} (tag latest): a restart can bring another Redis version than the data was written by. Pin the image to a version (e.g. redis:7.0.15).`,
      evidence: { image: redis.image },
    });
  }
  for (const c of spec.containers.filter((x) => x !== redis && x.memoryLimitBytes === undefined)) {
    out.push({
      id: 'sidecar-without-memory-limit',
      severity: 'warning',
      message: `Sidecar ${c.name} (${c.image}) has no memory limit: it competes with Redis for the node's memory, and the pod's total is unbounded. Set its resources.limits.memory.`,
      evidence: { container: c.name },
    });
  }
  const dir = e.redis?.config.dir;
  if (dir) {
    if (!mountHolding(redis, dir))
      out.push({
        id: 'data-dir-not-on-volume',
        severity: 'warning',
        message: `Redis writes its data to ${dir}, which is on no volume of container ${redis.name}: every restart loses the RDB and AOF. Mount a PersistentVolumeClaim at ${dir} (volumeMounts).`,
        evidence: { dir },
      });
  }
  return out;
};
