import { PatchStrategy } from '@kubernetes/client-node';
import type { AppsV1Api } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { RunbookErrorType } from '../../workflows/definitions.js';
import type { ActionResult } from '../../workflows/logic/actions.js';
import type { WorkloadRef } from './types.js';
import { rolloutResult, workloadAccess } from './workload.js';

/** The pod-template annotation `kubectl rollout restart` sets; changing it makes the controller replace the pods. */
export const RESTARTED_AT_ANNOTATION = 'kubectl.kubernetes.io/restartedAt';

/** Input of `rollingRestart`. */
export interface RollingRestartInput {
  workload: WorkloadRef;
  /**
   * Value of the annotation: any string (`kubectl` writes an RFC 3339 time). The workflow fixes it per run and action,
   * so that a retried activity does not restart twice.
   */
  restartedAt: string;
  /** `id` of the returned result, the planned action's id; `rolling-restart` when absent. */
  actionId?: string;
}

/**
 * Builds the `rollingRestart` activity: what `kubectl rollout restart` does, a merge patch of the pod template's
 * `kubectl.kubernetes.io/restartedAt` annotation.
 *
 * Idempotent: when the annotation already holds `restartedAt`, nothing is patched and the detail says so. For a
 * StatefulSet whose controller will not replace the pods by itself (`statefulSetRolloutBlocker` in workload.ts) the result is
 * still ok (the patch is applied) and the detail says what the rollout waits for. Throws
 * `PodNotFound` when the workload does not exist, `Forbidden` when RBAC refuses the patch, `Conflict` (retryable) on a
 * conflict.
 */
export function createRollingRestart(apps: AppsV1Api) {
  return async function rollingRestart(input: RollingRestartInput): Promise<ActionResult> {
    const { workload, restartedAt } = input;
    const id = input.actionId ?? 'rolling-restart';
    if (restartedAt.trim() === '') {
      throw ApplicationFailure.create({
        type: RunbookErrorType.InvalidAction,
        message: 'rollingRestart needs a non-empty restartedAt',
        nonRetryable: true,
      });
    }
    const target = workloadAccess(apps, workload);
    const label = target.label;
    const current = await target.read();
    if (current.spec?.template.metadata?.annotations?.[RESTARTED_AT_ANNOTATION] === restartedAt) {
      return {
        id,
        ok: true,
        detail: `${label} already has ${RESTARTED_AT_ANNOTATION}=${restartedAt}: restart requested before, not patched again`,
      };
    }

    const body = { spec: { template: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: restartedAt } } } } };
    // The generated client sends application/json-patch+json by default, which needs an array of operations.
    await target.patch(body, PatchStrategy.MergePatch);
    const change = `${label} patched with ${RESTARTED_AT_ANNOTATION}=${restartedAt}`;
    return rolloutResult(id, change, target.rolloutBlocker(current), 'the controller replaces its pods');
  };
}
