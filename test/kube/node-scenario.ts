/**
 * A node in trouble on a real API server: `pressure-node` (no kwok annotation, so nothing rewrites its status) under
 * memory pressure, with pods whose limits exceed its allocatable memory, one evicted, a kernel OOM event, and live
 * figures in `metrics.k8s.io`. No metrics-server can run here, so the metrics API is served by two CustomResource
 * definitions at the same paths (`/apis/metrics.k8s.io/v1beta1/nodes/<name>`, `.../namespaces/<ns>/pods/<name>`) with
 * metrics-server's object shapes: the client, the URLs and RBAC are the real ones.
 */
import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import { eventually, NAMESPACE } from './redis-workloads.js';

export const PRESSURE_NODE = 'pressure-node';
export const JOBS_NAMESPACE = 'jobs';
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

function metricsCrd(plural: 'nodes' | 'pods', kind: string, scope: 'Cluster' | 'Namespaced') {
  return {
    metadata: {
      name: `${plural}.metrics.k8s.io`,
      // A *.k8s.io group is reserved for approved APIs; this stands in for metrics-server's aggregated one.
      annotations: { 'api-approved.kubernetes.io': 'unapproved, test stand-in for metrics-server' },
    },
    spec: {
      group: 'metrics.k8s.io',
      scope,
      names: { plural, singular: kind.toLowerCase(), kind, listKind: `${kind}List` },
      versions: [
        {
          name: 'v1beta1',
          served: true,
          storage: true,
          // The client's model names the schema's x-kubernetes-* fields with underscores.
          schema: { openAPIV3Schema: { type: 'object', x_kubernetes_preserve_unknown_fields: true } },
        },
      ],
    },
  };
}

/** Serves `metrics.k8s.io` (see above) and waits until the API server does. */
export async function serveMetricsApi(admin: KubeConfig): Promise<void> {
  const ext = admin.makeApiClient(ApiextensionsV1Api);
  for (const crd of [metricsCrd('nodes', 'NodeMetrics', 'Cluster'), metricsCrd('pods', 'PodMetrics', 'Namespaced')]) {
    await ext.createCustomResourceDefinition({ body: crd });
    await eventually(`${crd.metadata.name} established`, async () => {
      const got = await ext.readCustomResourceDefinition({ name: crd.metadata.name });
      return got.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ? true : undefined;
    });
  }
}

async function createPod(core: CoreV1Api, namespace: string, name: string, limit?: string): Promise<void> {
  const resources = limit ? { requests: { memory: limit }, limits: { memory: limit } } : {};
  await core.createNamespacedPod({
    namespace,
    body: {
      metadata: { name },
      spec: {
        nodeName: PRESSURE_NODE,
        automountServiceAccountToken: false,
        containers: [{ name: 'app', image: 'busybox:1.36', resources }],
      },
    },
  });
}

/**
 * Creates `pressure-node` and its pods (two in {@link NAMESPACE} with 3Gi and 2Gi limits, one without a limit and
 * one evicted in {@link JOBS_NAMESPACE}), its `SystemOOM` event, and its metrics (3.8Gi of 4Gi in use). Needs
 * {@link serveMetricsApi} first.
 */
export async function createPressureNode(admin: KubeConfig): Promise<void> {
  const core = admin.makeApiClient(CoreV1Api);
  await core.createNode({
    body: { metadata: { name: PRESSURE_NODE, labels: { 'kubernetes.io/hostname': PRESSURE_NODE } } },
  });
  const condition = (type: string, status: string, reason: string) => ({
    type,
    status,
    reason,
    message: `${type} ${status}`,
    lastHeartbeatTime: new Date(),
    lastTransitionTime: new Date(),
  });
  await core.patchNodeStatus(
    {
      name: PRESSURE_NODE,
      body: {
        status: {
          capacity: { memory: '4Gi', cpu: '2', pods: '110' },
          allocatable: { memory: '4Gi', cpu: '2', pods: '110' },
          conditions: [
            condition('MemoryPressure', 'True', 'KubeletHasInsufficientMemory'),
            condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure'),
            condition('PIDPressure', 'False', 'KubeletHasSufficientPID'),
            condition('Ready', 'True', 'KubeletReady'),
          ],
        },
      },
    },
    mergePatch,
  );
  await core.createNamespace({ body: { metadata: { name: JOBS_NAMESPACE } } });
  await createPod(core, NAMESPACE, 'hog', '3Gi');
  await createPod(core, NAMESPACE, 'cache-1', '2Gi');
  await createPod(core, JOBS_NAMESPACE, 'unbounded');
  await createPod(core, JOBS_NAMESPACE, 'evicted-1', '1Gi');
  await core.patchNamespacedPodStatus(
    {
      name: 'evicted-1',
      namespace: JOBS_NAMESPACE,
      body: { status: { phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: memory.' } },
    },
    mergePatch,
  );
  await core.createNamespacedEvent({
    namespace: 'default',
    body: {
      metadata: { name: `${PRESSURE_NODE}.system-oom` },
      involvedObject: { kind: 'Node', name: PRESSURE_NODE, uid: PRESSURE_NODE },
      reason: 'SystemOOM',
      message: 'System OOM encountered, victim process: ruby, pid: 4012',
      type: 'Warning',
      count: 2,
      firstTimestamp: new Date(),
      lastTimestamp: new Date(),
      source: { component: 'kubelet', host: PRESSURE_NODE },
    },
  });
  const custom = admin.makeApiClient(CustomObjectsApi);
  const group = { group: 'metrics.k8s.io', version: 'v1beta1' };
  await custom.createClusterCustomObject({
    ...group,
    plural: 'nodes',
    body: {
      apiVersion: 'metrics.k8s.io/v1beta1',
      kind: 'NodeMetrics',
      metadata: { name: PRESSURE_NODE },
      timestamp: new Date().toISOString(),
      window: '20s',
      usage: { cpu: '1500m', memory: '3891Mi' },
    },
  });
  await custom.createNamespacedCustomObject({
    ...group,
    namespace: NAMESPACE,
    plural: 'pods',
    body: {
      apiVersion: 'metrics.k8s.io/v1beta1',
      kind: 'PodMetrics',
      metadata: { name: 'hog', namespace: NAMESPACE },
      timestamp: new Date().toISOString(),
      window: '20s',
      containers: [{ name: 'app', usage: { cpu: '900m', memory: '2900Mi' } }],
    },
  });
}
