import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { AppsV1Api, V1Deployment, V1StatefulSet } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { RunbookErrorType } from '../../workflows/definitions.js';
import type { ActionResult } from '../../workflows/types.js';
import { callApi } from './errors.js';

/** The pod-template annotation `kubectl rollout restart` sets; changing it makes the controller replace the pods. */
export const RESTARTED_AT_ANNOTATION = 'kubectl.kubernetes.io/restartedAt';

/** Input of `rollingRestart`. */
export interface RollingRestartInput {
  workload: { kind: 'StatefulSet' | 'Deployment'; name: string; namespace: string };
  /**
   * Value of the annotation: any string (`kubectl` writes an RFC 3339 time). The workflow fixes it per run and action,
   * so that a retried activity does not restart twice.
   */
  restartedAt: string;
  /** `id` of the returned result, the planned action's id; `rolling-restart` when absent. */
  actionId?: string;
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

/**
 * Builds the `rollingRestart` activity: what `kubectl rollout restart` does, a merge patch of the pod template's
 * `kubectl.kubernetes.io/restartedAt` annotation.
 *
 * Idempotent: when the annotation already holds `restartedAt`, nothing is patched and the detail says so. For a
 * StatefulSet whose controller will not replace the pods by itself ({@link statefulSetRolloutBlocker}) the result is
 * still ok (the patch is applied) and the detail says what the rollout waits for. Throws
 * `PodNotFound` when the workload does not exist, `Forbidden` when RBAC refuses the patch, `Conflict` (retryable) on a
 * conflict.
 */
export function createRollingRestart(apps: AppsV1Api) {
  return async function rollingRestart(input: RollingRestartInput): Promise<ActionResult> {
    const { workload, restartedAt } = input;
    const id = input.actionId ?? 'rolling-restart';
    const { kind, name, namespace } = workload;
    if (restartedAt.trim() === '') {
      throw ApplicationFailure.create({
        type: RunbookErrorType.InvalidAction,
        message: 'rollingRestart needs a non-empty restartedAt',
        nonRetryable: true,
      });
    }
    const label = `${kind} ${namespace}/${name}`;
    const resource = kind === 'StatefulSet' ? 'statefulsets.apps' : 'deployments.apps';

    const current = await callApi<V1StatefulSet | V1Deployment>({ verb: 'get', resource, name, namespace }, () =>
      kind === 'StatefulSet'
        ? apps.readNamespacedStatefulSet({ name, namespace })
        : apps.readNamespacedDeployment({ name, namespace }),
    );
    if (current.spec?.template.metadata?.annotations?.[RESTARTED_AT_ANNOTATION] === restartedAt) {
      return {
        id,
        ok: true,
        detail: `${label} already has ${RESTARTED_AT_ANNOTATION}=${restartedAt}: restart requested before, not patched again`,
      };
    }

    const body = { spec: { template: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: restartedAt } } } } };
    // The generated client sends application/json-patch+json by default, which needs an array of operations.
    const options = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
    await callApi<V1StatefulSet | V1Deployment>({ verb: 'patch', resource, name, namespace }, () =>
      kind === 'StatefulSet'
        ? apps.patchNamespacedStatefulSet({ name, namespace, body }, options)
        : apps.patchNamespacedDeployment({ name, namespace, body }, options),
    );
    const blocker = kind === 'StatefulSet' ? statefulSetRolloutBlocker(current as V1StatefulSet) : undefined;
    return {
      id,
      ok: true,
      detail:
        blocker === undefined
          ? `${label} patched with ${RESTARTED_AT_ANNOTATION}=${restartedAt}: the controller replaces its pods`
          : `${label} patched with ${RESTARTED_AT_ANNOTATION}=${restartedAt}, but the pods are not replaced yet: ${blocker}`,
    };
  };
}
