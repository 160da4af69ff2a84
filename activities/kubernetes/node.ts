import type { CoreV1Api, CustomObjectsApi, V1Node, V1Pod } from '@kubernetes/client-node';
import type { LiveMemory, NodeDescription, NodePods } from './types.js';
import { summarizeEvents } from './describe-pod.js';
import { apiStatusCode, apiStatusMessage, callApi, toActivityError } from './errors.js';
import { parseMemoryBytes } from './quantity.js';

/** Evicted pods named in a description; the count covers all of them. */
export const MAX_EVICTED_PODS = 10;

/**
 * The namespace where node events land: a kubelet (and node-problem-detector) records events about its node with no
 * namespace, which the API server files under `default`.
 */
export const NODE_EVENTS_NAMESPACE = 'default';

const METRICS = { group: 'metrics.k8s.io', version: 'v1beta1' };

function memory(q: string | undefined): number | undefined {
  return q === undefined ? undefined : parseMemoryBytes(q);
}

/** What the pods of one node ask for: the same sums `kubectl describe node` prints under "Allocated resources". */
export function summarizeNodePods(pods: V1Pod[]): NodePods {
  const holding = pods.filter((p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed');
  let requests = 0;
  let limits = 0;
  let unlimited = 0;
  for (const pod of holding) {
    const containers = pod.spec?.containers ?? [];
    for (const c of containers) {
      requests += memory(c.resources?.requests?.['memory']) ?? 0;
      limits += memory(c.resources?.limits?.['memory']) ?? 0;
    }
    if (containers.some((c) => c.resources?.limits?.['memory'] === undefined)) unlimited += 1;
  }
  return {
    count: holding.length,
    memoryRequestsBytes: requests,
    memoryLimitsBytes: limits,
    withoutMemoryLimit: unlimited,
    evicted: evictedPods(pods),
  };
}

/** The pods the kubelet evicted (`phase: Failed`, `reason: Evicted`), newest first. */
export function evictedPods(pods: V1Pod[]): NodePods['evicted'] {
  const evicted = pods
    .filter((p) => p.status?.phase === 'Failed' && p.status.reason === 'Evicted')
    .sort((a, b) => startTime(b) - startTime(a));
  return {
    count: evicted.length,
    pods: evicted.slice(0, MAX_EVICTED_PODS).map((p) => ({
      namespace: p.metadata?.namespace ?? '',
      name: p.metadata?.name ?? '',
      message: (p.status?.message ?? '').slice(0, 300),
    })),
  };
}

function startTime(pod: V1Pod): number {
  const t = pod.status?.startTime ?? pod.metadata?.creationTimestamp;
  return t === undefined ? 0 : new Date(t).getTime();
}

function conditionsOf(node: V1Node): NodeDescription['conditions'] {
  return (node.status?.conditions ?? []).map((c) => ({
    type: c.type,
    status: c.status,
    ...(c.reason !== undefined && { reason: c.reason }),
    ...(c.message !== undefined && { message: c.message.slice(0, 300) }),
  }));
}

interface MetricsObject {
  usage?: { memory?: string };
  containers?: Array<{ name: string; usage?: { memory?: string } }>;
}

/**
 * Live memory from `metrics.k8s.io` (what `kubectl top` reads). The API is optional: a cluster without metrics-server
 * answers 404 (or 503 while it is down), and a Role without the grant 403; each is said, never a failure.
 */
async function liveMemory(custom: CustomObjectsApi, node: string, namespace: string, pod: string): Promise<LiveMemory> {
  try {
    const n = (await custom.getClusterCustomObject({ ...METRICS, plural: 'nodes', name: node })) as MetricsObject;
    // A pod without metrics yet (just restarted) leaves the node's figure standing.
    let p: MetricsObject | undefined;
    try {
      p = (await custom.getNamespacedCustomObject({
        ...METRICS,
        namespace,
        plural: 'pods',
        name: pod,
      })) as MetricsObject;
    } catch (err) {
      if (apiStatusCode(err) !== 404) throw err;
    }
    const containerBytes = Object.fromEntries(
      (p?.containers ?? []).map((c) => [c.name, memory(c.usage?.memory) ?? 0] as const),
    );
    const nodeBytes = memory(n.usage?.memory);
    return {
      available: true,
      ...(nodeBytes !== undefined && { nodeBytes }),
      ...(p && { podBytes: Object.values(containerBytes).reduce((a, b) => a + b, 0), containerBytes }),
    };
  } catch (err) {
    const code = apiStatusCode(err);
    const detail = apiStatusMessage(err);
    const reason =
      code === 404
        ? 'the metrics.k8s.io API is not served here (no metrics-server): no live memory figures'
        : code === 403
          ? `not allowed to read metrics.k8s.io (HTTP 403)${detail ? `: ${detail}` : ''}`
          : `the metrics.k8s.io API did not answer (${code === undefined ? (err as Error).message : `HTTP ${code}`})`;
    return { available: false, reason };
  }
}

/** A read whose 401/403 is reported (`refused`) instead of thrown; any other failure throws as usual. */
async function readable<T>(
  call: () => Promise<T>,
  req: Parameters<typeof toActivityError>[1],
): Promise<T | { refused: string }> {
  try {
    return await call();
  } catch (err) {
    const failure = toActivityError(err, req);
    const code = apiStatusCode(err);
    if (code === 401 || code === 403) return { refused: failure.message };
    throw failure;
  }
}

/**
 * Builds the `describeNode` activity: the node the pod runs on, its conditions, allocatable memory against what its
 * pods request and limit, its events, the pods it evicted, and live memory where `metrics.k8s.io` answers.
 *
 * Reads only: `get` nodes, `list` pods across namespaces with a field selector on the node, `list` events in
 * {@link NODE_EVENTS_NAMESPACE}, `get` on metrics.k8s.io nodes and pods. Throws `PodNotFound` when the node is gone and
 * `Forbidden` when RBAC refuses the node itself; a refused pod list, event list or metrics read is said in its field.
 */
export function createDescribeNode(core: CoreV1Api, custom: CustomObjectsApi) {
  return async function describeNode(input: {
    node: string;
    namespace: string;
    pod: string;
  }): Promise<NodeDescription> {
    const { node: name, namespace, pod } = input;
    const node = await callApi({ verb: 'get', resource: 'nodes', name }, () => core.readNode({ name }));
    // The cluster-wide reads are the widest grants the runbook asks for: refused, the step says so and goes on.
    const pods = await readable(() => core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${name}` }), {
      verb: 'list',
      resource: 'pods',
    });
    const events = await readable(
      () =>
        core.listNamespacedEvent({
          namespace: NODE_EVENTS_NAMESPACE,
          fieldSelector: `involvedObject.kind=Node,involvedObject.name=${name}`,
        }),
      { verb: 'list', resource: 'events', namespace: NODE_EVENTS_NAMESPACE },
    );
    const allocatable = memory(node.status?.allocatable?.['memory']);
    const capacity = memory(node.status?.capacity?.['memory']);
    return {
      name,
      conditions: conditionsOf(node),
      ...(allocatable !== undefined && { allocatableMemoryBytes: allocatable }),
      ...(capacity !== undefined && { capacityMemoryBytes: capacity }),
      pods: 'refused' in pods ? { unavailable: pods.refused } : summarizeNodePods(pods.items),
      events: 'refused' in events ? [] : summarizeEvents(events.items),
      ...('refused' in events && { eventsUnavailable: events.refused }),
      metrics: await liveMemory(custom, name, namespace, pod),
    };
  };
}
