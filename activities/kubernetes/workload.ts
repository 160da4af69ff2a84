import { setHeaderOptions, type PatchStrategy } from '@kubernetes/client-node';
import type { AppsV1Api, V1Deployment, V1StatefulSet } from '@kubernetes/client-node';
import { callApi } from './errors.js';

import type { ActionResult } from '../../workflows/logic/actions.js';
import type { WorkloadRef } from './types.js';

export type { WorkloadRef };

/** Reading and patching one StatefulSet or Deployment, with the activities' error mapping. */
export interface WorkloadAccess {
  /** `StatefulSet cache/redis`, for details and errors. */
  label: string;
  read(): Promise<V1StatefulSet | V1Deployment>;
  /** Patches with the given content type (the client's default, JSON patch, would need an array of operations). */
  patch(body: object, strategy: PatchStrategy): Promise<void>;
  /** Why the controller will not roll the pods of `current` by itself, if it will not (StatefulSets only). */
  rolloutBlocker(current: V1StatefulSet | V1Deployment): string | undefined;
}

export function workloadAccess(apps: AppsV1Api, workload: WorkloadRef): WorkloadAccess {
  const { kind, name, namespace } = workload;
  const resource = kind === 'StatefulSet' ? 'statefulsets.apps' : 'deployments.apps';
  return {
    label: `${kind} ${namespace}/${name}`,
    read: () =>
      callApi<V1StatefulSet | V1Deployment>({ verb: 'get', resource, name, namespace }, () =>
        kind === 'StatefulSet'
          ? apps.readNamespacedStatefulSet({ name, namespace })
          : apps.readNamespacedDeployment({ name, namespace }),
      ),
    async patch(body, strategy) {
      const options = setHeaderOptions('Content-Type', strategy);
      await callApi<V1StatefulSet | V1Deployment>({ verb: 'patch', resource, name, namespace }, () =>
        kind === 'StatefulSet'
          ? apps.patchNamespacedStatefulSet({ name, namespace, body }, options)
          : apps.patchNamespacedDeployment({ name, namespace, body }, options),
      );
    },
    rolloutBlocker: (current) =>
      kind === 'StatefulSet' ? statefulSetRolloutBlocker(current as V1StatefulSet) : undefined,
  };
}

/**
 * Why a patched StatefulSet will not replace its pods by itself, or undefined when it will. Under the default
 * `OrderedReady` policy the controller waits for a pod that is not Running and Ready instead of replacing it (checked
 * against a real API server: a crash-looping pod blocks the rollout until it is Ready or deleted), and `OnDelete`
 * replaces pods only when they are deleted.
 */
export function statefulSetRolloutBlocker(sts: V1StatefulSet): string | undefined {
  if (sts.spec?.updateStrategy?.type === 'OnDelete') {
    return 'its updateStrategy is OnDelete: each pod is replaced only when it is deleted';
  }
  const replicas = sts.spec?.replicas ?? 1;
  const ready = sts.status?.readyReplicas ?? 0;
  if ((sts.spec?.podManagementPolicy ?? 'OrderedReady') === 'OrderedReady' && ready < replicas) {
    return (
      `${replicas - ready} of ${replicas} pod(s) are not ready, and under podManagementPolicy OrderedReady the ` +
      'controller waits for them instead of replacing them: the restart happens once they are Ready, or after a ' +
      'person deletes the stuck pod'
    );
  }
  return undefined;
}

/** The result of a patch that should roll the pods: `change` and what follows from it, or why the pods wait. */
export function rolloutResult(id: string, change: string, blocker: string | undefined, follows: string): ActionResult {
  return {
    id,
    ok: true,
    detail: blocker === undefined ? `${change}: ${follows}` : `${change}, but the pods do not take it yet: ${blocker}`,
  };
}
