/** Failures as a real API server answers them: an HTTP code and a `Status` body with its reason. */

/** A failure the server answers with a `Status` body. */
export class HttpError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

export function statusBody(code: number, reason: string, message: string, details?: Record<string, unknown>) {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details && { details }),
    code,
  };
}

const RESOURCES = {
  pods: { group: '', label: 'pods' },
  statefulsets: { group: 'apps', label: 'statefulsets.apps' },
  deployments: { group: 'apps', label: 'deployments.apps' },
  replicasets: { group: 'apps', label: 'replicasets.apps' },
  nodes: { group: '', label: 'nodes' },
  persistentvolumeclaims: { group: '', label: 'persistentvolumeclaims' },
  'nodes.metrics.k8s.io': { group: 'metrics.k8s.io', label: 'nodes.metrics.k8s.io' },
  'pods.metrics.k8s.io': { group: 'metrics.k8s.io', label: 'pods.metrics.k8s.io' },
} as const;

export function notFound(resource: keyof typeof RESOURCES, name: string): HttpError {
  const { group, label } = RESOURCES[resource];
  return new HttpError(404, 'NotFound', `${label} "${name}" not found`, {
    name,
    ...(group !== '' && { group }),
    kind: resource.split('.')[0],
  });
}
