import { PatchStrategy } from '@kubernetes/client-node';
import type { AppsV1Api } from '@kubernetes/client-node';
import type { ActionResult } from '../../workflows/logic/actions.js';
import { parseMemoryBytes } from './quantity.js';
import type { WorkloadRef } from './types.js';
import { invalidAction } from './errors.js';
import { rolloutResult, workloadAccess } from './workload.js';

const MiB = 1024 * 1024;

/** Input of `setMemoryLimit`. */
export interface SetMemoryLimitInput {
  workload: WorkloadRef;
  /** Container of the pod template whose limit changes. */
  container: string;
  /** The new `resources.limits.memory` in bytes; rounded up to whole MiB, the unit it is written in. */
  bytes: number;
  /** `id` of the returned result, the planned action's id; `set-memory-limit` when absent. */
  actionId?: string;
}

/**
 * Builds the `setMemoryLimit` activity: sets a pod-template container's `resources.limits.memory` (written in Mi, e.g.
 * `3072Mi`) with a strategic merge patch, which merges `containers` by name, so the other containers and the
 * container's other fields stay as they are. `requests.memory` is lowered to the limit only when it would exceed it
 * (the API server refuses a request above the limit).
 *
 * Idempotent: when the limit already equals the value, nothing is patched and the detail says so. The changed template
 * makes the controller roll the pods; for a StatefulSet that will not replace them by itself the detail says what the
 * rollout waits for (see `statefulSetRolloutBlocker`). Throws `InvalidAction` for a container the template does not
 * have or a value that is not a positive size, `PodNotFound` when the workload does not exist, `Forbidden` when RBAC
 * refuses, `Conflict` (retryable) on a conflict.
 */
export function createSetMemoryLimit(apps: AppsV1Api) {
  return async function setMemoryLimit(input: SetMemoryLimitInput): Promise<ActionResult> {
    const { workload, container } = input;
    const id = input.actionId ?? 'set-memory-limit';
    if (!Number.isFinite(input.bytes) || input.bytes <= 0) {
      throw invalidAction(`setMemoryLimit needs a positive number of bytes, got ${String(input.bytes)}`);
    }
    const mib = Math.ceil(input.bytes / MiB);
    const quantity = `${mib}Mi`;
    const target = workloadAccess(apps, workload);
    const label = target.label;
    const current = await target.read();
    const containers = current.spec?.template.spec?.containers ?? [];
    const found = containers.find((c) => c.name === container);
    if (!found) {
      const names = containers.map((c) => c.name).join(', ');
      throw invalidAction(
        `${label} has no container "${container}" in its pod template (containers: ${names || 'none'})`,
      );
    }
    const oldLimit = found.resources?.limits?.['memory'];
    const oldRequest = found.resources?.requests?.['memory'];
    if (oldLimit !== undefined && parseMemoryBytes(oldLimit) === mib * MiB) {
      return {
        id,
        ok: true,
        detail: `${label} container ${container} already has memory limit ${oldLimit}: no change`,
      };
    }

    const lowerRequest = oldRequest !== undefined && parseMemoryBytes(oldRequest) > mib * MiB;
    const resources = {
      limits: { memory: quantity },
      ...(lowerRequest ? { requests: { memory: quantity } } : {}),
    };
    const body = { spec: { template: { spec: { containers: [{ name: container, resources }] } } } };
    // A merge patch would replace the whole containers list; the strategic merge patch merges it by name.
    await target.patch(body, PatchStrategy.StrategicMergePatch);
    const change =
      `${label} container ${container} memory limit ${oldLimit ?? 'unset'} → ${quantity}` +
      (lowerRequest ? ` (request lowered from ${oldRequest} to ${quantity})` : '');
    return rolloutResult(
      id,
      change,
      target.rolloutBlocker(current),
      'the controller rolls the pods to take the new limit',
    );
  };
}
