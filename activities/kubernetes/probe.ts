import { PatchStrategy } from '@kubernetes/client-node';
import type { AppsV1Api } from '@kubernetes/client-node';
import type { ActionResult } from '../../workflows/logic/actions.js';
import type { WorkloadRef } from './types.js';
import { invalidAction } from './errors.js';
import { rolloutResult, workloadAccess } from './workload.js';

/** A delay past an hour is a typo, not a load time. */
export const MAX_LIVENESS_DELAY_SECONDS = 3600;

/** Input of `setLivenessDelay`. */
export interface SetLivenessDelayInput {
  workload: WorkloadRef;
  container: string;
  initialDelaySeconds: number;
  /** `id` of the returned result, the planned action's id. */
  actionId?: string;
}

/**
 * Builds the `setLivenessDelay` activity: sets a pod-template container's `livenessProbe.initialDelaySeconds`, so
 * the kubelet stops killing Redis while it loads its data. A strategic merge patch merges the container by name and
 * the probe field by field: the probe's handler, period and threshold stay as they are.
 *
 * Idempotent: a delay already at least the value is left alone (never shortened), and the detail says so. Throws
 * `InvalidAction` for a container without a liveness probe (there is nothing to delay) or a delay out of range.
 */
export function createSetLivenessDelay(apps: AppsV1Api) {
  return async function setLivenessDelay(input: SetLivenessDelayInput): Promise<ActionResult> {
    const { workload, container, initialDelaySeconds: delay } = input;
    const id = input.actionId ?? 'set-liveness-delay';
    if (!Number.isInteger(delay) || delay <= 0 || delay > MAX_LIVENESS_DELAY_SECONDS) {
      throw invalidAction(
        `initialDelaySeconds must be a whole number of seconds in 1..${MAX_LIVENESS_DELAY_SECONDS}, got ${String(delay)}`,
      );
    }
    const target = workloadAccess(apps, workload);
    const current = await target.read();
    const found = (current.spec?.template.spec?.containers ?? []).find((c) => c.name === container);
    if (!found) throw invalidAction(`${target.label} has no container "${container}" in its pod template`);
    const probe = found.livenessProbe;
    if (!probe) throw invalidAction(`${target.label} container ${container} has no liveness probe: nothing to delay`);
    const old = probe.initialDelaySeconds ?? 0;
    if (old >= delay) {
      return {
        id,
        ok: true,
        detail: `${target.label} container ${container} liveness probe already waits ${old} s: no change`,
        previous: { initialDelaySeconds: old },
      };
    }
    const body = {
      spec: {
        template: { spec: { containers: [{ name: container, livenessProbe: { initialDelaySeconds: delay } }] } },
      },
    };
    await target.patch(body, PatchStrategy.StrategicMergePatch);
    return {
      ...rolloutResult(
        id,
        `${target.label} container ${container} livenessProbe.initialDelaySeconds ${old} → ${delay}`,
        target.rolloutBlocker(current),
        'the controller rolls the pods to take the new probe',
      ),
      previous: { initialDelaySeconds: old },
    };
  };
}
