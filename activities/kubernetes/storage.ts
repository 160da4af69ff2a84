import type { CoreV1Api, V1PersistentVolumeClaim } from '@kubernetes/client-node';
import type { ClaimSummary } from './types.js';
import { apiStatusCode, toActivityError } from './errors.js';
import { parseMemoryBytes } from './quantity.js';

/** Claims described per run: a pod names a handful; the rest of a list that long is not the runbook's business. */
export const MAX_CLAIMS = 8;

/** Phase given to a claim the pod names but the API server does not have. */
export const MISSING_CLAIM_PHASE = 'Missing';

function bytes(q: string | undefined): number | undefined {
  return q === undefined ? undefined : parseMemoryBytes(q);
}

/** One claim's status, as `kubectl get pvc` shows it, with a resize still in flight. */
export function summarizeClaim(claim: V1PersistentVolumeClaim): ClaimSummary {
  const requested = bytes(claim.spec?.resources?.requests?.['storage']);
  const capacity = bytes(claim.status?.capacity?.['storage']);
  const resize =
    Object.values(claim.status?.allocatedResourceStatuses ?? {})[0] ??
    claim.status?.conditions?.find((c) => c.type === 'FileSystemResizePending' || c.type === 'Resizing')?.type;
  return {
    name: claim.metadata?.name ?? '',
    phase: claim.status?.phase ?? 'Unknown',
    ...(requested !== undefined && { requestedBytes: requested }),
    ...(capacity !== undefined && { capacityBytes: capacity }),
    accessModes: claim.status?.accessModes ?? claim.spec?.accessModes ?? [],
    ...(claim.spec?.storageClassName !== undefined && { storageClass: claim.spec.storageClassName }),
    ...(claim.spec?.volumeName !== undefined && { volumeName: claim.spec.volumeName }),
    ...(resize !== undefined && { resizing: resize }),
  };
}

/**
 * Builds the `describeClaims` activity: the PersistentVolumeClaims the pod's volumes name (`get`
 * persistentvolumeclaims in the target namespace). A claim that does not exist is a `Missing` entry, not a failure:
 * it is the finding.
 */
export function createDescribeClaims(core: CoreV1Api) {
  return async function describeClaims(input: { namespace: string; claims: string[] }): Promise<ClaimSummary[]> {
    const { namespace } = input;
    const out: ClaimSummary[] = [];
    for (const name of input.claims.slice(0, MAX_CLAIMS)) {
      try {
        out.push(summarizeClaim(await core.readNamespacedPersistentVolumeClaim({ name, namespace })));
      } catch (err) {
        if (apiStatusCode(err) !== 404)
          throw toActivityError(err, { verb: 'get', resource: 'persistentvolumeclaims', name, namespace });
        out.push({ name, phase: MISSING_CLAIM_PHASE, accessModes: [] });
      }
    }
    return out;
  };
}
