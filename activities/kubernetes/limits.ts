import type { AppsV1Api, CoreV1Api, V1OwnerReference } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { RunbookErrorType } from '../../workflows/definitions.js';
import type { ResourceLimits, WorkloadRef } from './types.js';
import { apiStatusCode, callApi, toActivityError } from './errors.js';
import { parseMemoryBytes } from './quantity.js';

function controllerOf(refs: V1OwnerReference[] | undefined): V1OwnerReference | undefined {
  return refs?.find((r) => r.controller === true) ?? refs?.[0];
}

function memoryBytes(quantities: Record<string, string> | undefined, what: string): number | undefined {
  const value = quantities?.['memory'];
  if (value === undefined) return undefined;
  try {
    return parseMemoryBytes(value);
  } catch (err) {
    throw ApplicationFailure.create({
      type: RunbookErrorType.InvalidConfig,
      message: `${what}: ${(err as Error).message}`,
      nonRetryable: true,
    });
  }
}

/**
 * Builds the `checkLimits` activity: the container's memory and cpu requests and limits, and the workload that owns
 * the pod (Pod → StatefulSet, or Pod → ReplicaSet → Deployment), which a rolling restart would patch.
 *
 * Memory is in bytes; cpu stays a quantity string (`500m`). `workload` is absent when the pod has no such owner (a bare
 * pod, a DaemonSet, a ReplicaSet without Deployment) or the owner is gone. Throws `PodNotFound` when the pod does not
 * exist and `InvalidConfig` when the pod has no container of that name.
 */
export function createCheckLimits(core: CoreV1Api, apps: AppsV1Api) {
  /** The owner when it exists: a missing owner is no workload rather than a failure. */
  async function ifExists(ref: WorkloadRef): Promise<WorkloadRef | undefined> {
    const { kind, name, namespace } = ref;
    try {
      if (kind === 'StatefulSet') await apps.readNamespacedStatefulSet({ name, namespace });
      else await apps.readNamespacedDeployment({ name, namespace });
      return ref;
    } catch (err) {
      if (apiStatusCode(err) === 404) return undefined;
      const resource = kind === 'StatefulSet' ? 'statefulsets.apps' : 'deployments.apps';
      throw toActivityError(err, { verb: 'get', resource, name, namespace });
    }
  }

  async function resolveWorkload(
    ref: V1OwnerReference | undefined,
    namespace: string,
  ): Promise<WorkloadRef | undefined> {
    if (ref?.kind === 'StatefulSet') {
      return ifExists({ kind: 'StatefulSet', name: ref.name, namespace });
    }
    if (ref?.kind === 'ReplicaSet') {
      let owner: V1OwnerReference | undefined;
      try {
        const rs = await apps.readNamespacedReplicaSet({ name: ref.name, namespace });
        owner = controllerOf(rs.metadata?.ownerReferences);
      } catch (err) {
        if (apiStatusCode(err) === 404) return undefined;
        throw toActivityError(err, { verb: 'get', resource: 'replicasets.apps', name: ref.name, namespace });
      }
      if (owner?.kind !== 'Deployment') return undefined;
      return ifExists({ kind: 'Deployment', name: owner.name, namespace });
    }
    return undefined;
  }

  return async function checkLimits(input: {
    namespace: string;
    pod: string;
    container?: string;
  }): Promise<ResourceLimits> {
    const { namespace, pod: name } = input;
    const pod = await callApi({ verb: 'get', resource: 'pods', name, namespace }, () =>
      core.readNamespacedPod({ name, namespace }),
    );
    const containers = pod.spec?.containers ?? [];
    const container =
      input.container === undefined ? containers[0] : containers.find((c) => c.name === input.container);
    if (!container) {
      throw ApplicationFailure.create({
        type: RunbookErrorType.InvalidConfig,
        message: `pod "${name}" in namespace ${namespace} has no container "${input.container ?? ''}" (containers: ${containers.map((c) => c.name).join(', ') || 'none'})`,
        nonRetryable: true,
      });
    }
    const { requests, limits } = container.resources ?? {};
    const where = `container "${container.name}" of pod ${namespace}/${name}`;
    const requestBytes = memoryBytes(requests, `memory request of ${where}`);
    const limitBytes = memoryBytes(limits, `memory limit of ${where}`);
    const workload = await resolveWorkload(controllerOf(pod.metadata?.ownerReferences), namespace);
    return {
      container: container.name,
      requests: {
        ...(requestBytes !== undefined && { memoryBytes: requestBytes }),
        ...(requests?.['cpu'] !== undefined && { cpu: String(requests['cpu']) }),
      },
      limits: {
        ...(limitBytes !== undefined && { memoryBytes: limitBytes }),
        ...(limits?.['cpu'] !== undefined && { cpu: String(limits['cpu']) }),
      },
      ...(workload && { workload }),
    };
  };
}
