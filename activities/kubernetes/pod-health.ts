import type { CoreV1Api } from '@kubernetes/client-node';
import type { PodHealthSample } from './types.js';
import { isPodReady } from './describe-pod.js';
import { apiStatusCode, toActivityError } from './errors.js';

/** Phase reported for a pod that does not exist at the time of the sample. */
export const MISSING_POD_PHASE = 'Missing';

/**
 * Builds the `podHealth` activity: one sample of the pod's readiness, total restart count and phase, taken now.
 *
 * A pod that does not exist gives a not-ready sample with phase {@link MISSING_POD_PHASE} instead of a failure: a
 * StatefulSet pod is briefly absent while the controller recreates it, and the verify window must go on sampling.
 */
export function createPodHealth(core: CoreV1Api) {
  return async function podHealth(input: { namespace: string; pod: string }): Promise<PodHealthSample> {
    const { namespace, pod: name } = input;
    try {
      const pod = await core.readNamespacedPod({ name, namespace });
      const restartCount = (pod.status?.containerStatuses ?? []).reduce((sum, s) => sum + s.restartCount, 0);
      return {
        at: new Date().toISOString(),
        ready: isPodReady(pod),
        restartCount,
        phase: pod.status?.phase ?? 'Unknown',
      };
    } catch (err) {
      if (apiStatusCode(err) === 404) {
        return { at: new Date().toISOString(), ready: false, restartCount: 0, phase: MISSING_POD_PHASE };
      }
      throw toActivityError(err, { verb: 'get', resource: 'pods', name, namespace });
    }
  };
}
