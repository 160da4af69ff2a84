import { AppsV1Api, CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import type { KubeConfig } from '@kubernetes/client-node';
import { createDescribePod } from './describe-pod.js';
import { createCheckLimits } from './limits.js';
import { createFetchPreviousLogs } from './logs.js';
import { createDescribeNode } from './node.js';
import { createDescribeClaims } from './storage.js';
import { createSetMemoryLimit } from './memory-limit.js';
import { createPodHealth } from './pod-health.js';
import { createSetLivenessDelay } from './probe.js';
import { createRollingRestart } from './restart.js';
import { createLocateRedisPods } from './redis-pods.js';

export type { PreviousLogsInput } from './logs.js';
export type { SetMemoryLimitInput } from './memory-limit.js';
export type { SetLivenessDelayInput } from './probe.js';
export type { RollingRestartInput } from './restart.js';
export type { RedisNodePod, RedisNodeRef } from './types.js';
export { RESTARTED_AT_ANNOTATION } from './restart.js';

/**
 * The runbook's Kubernetes activities, built on one kubeconfig (the worker's: in-cluster service account, `KUBECONFIG`
 * or `~/.kube/config`). They need `get` and `list` on pods, pods/log, events, replicasets and `get`/`patch` on statefulsets and
 * deployments in the target namespace.
 *
 * Failures are `ApplicationFailure`s typed with `RunbookErrorType` (`PodNotFound`, `Forbidden`, `Conflict`,
 * `InvalidAction`, `InvalidConfig`); unreachable or failing API servers give plain retryable errors with a `cause`.
 */
export function createKubernetesActivities(kc: KubeConfig) {
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  return {
    describePod: createDescribePod(core),
    fetchPreviousLogs: createFetchPreviousLogs(core),
    checkLimits: createCheckLimits(core, apps),
    rollingRestart: createRollingRestart(apps),
    setMemoryLimit: createSetMemoryLimit(apps),
    setLivenessDelay: createSetLivenessDelay(apps),
    podHealth: createPodHealth(core),
    describeNode: createDescribeNode(core, custom),
    describeClaims: createDescribeClaims(core),
    locateRedisPods: createLocateRedisPods(core),
  };
}

/** The Kubernetes activities, for `proxyActivities<KubernetesActivities>`. */
export type KubernetesActivities = ReturnType<typeof createKubernetesActivities>;
