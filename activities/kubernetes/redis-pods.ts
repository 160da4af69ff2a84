import type { CoreV1Api, V1Pod } from '@kubernetes/client-node';
import { isPodReady } from './describe-pod.js';
import { callApi } from './errors.js';
import type { RedisNodePod, RedisNodeRef } from './types.js';

/**
 * Builds the `locateRedisPods` activity: for each node of the topology, the pod of `namespace` it runs in, by the
 * pod's IP or its name (a StatefulSet pod's DNS name starts with it: `redis-node-1.redis-headless…`); when several
 * pods share the address (host networking, or a test on loopback), the one whose container declares the node's port.
 * One LIST of the namespace's pods; read-only.
 */
export function createLocateRedisPods(core: CoreV1Api) {
  return async function locateRedisPods(input: { namespace: string; nodes: RedisNodeRef[] }): Promise<RedisNodePod[]> {
    const { namespace } = input;
    const pods = (
      await callApi({ verb: 'list', resource: 'pods', namespace }, () => core.listNamespacedPod({ namespace }))
    ).items;
    return input.nodes.map((node) => {
      const pod = podOf(pods, node);
      const ref = { node: `${node.host}:${node.port}`, role: node.role };
      if (!pod?.metadata?.name) return ref;
      const statuses = pod.status?.containerStatuses ?? [];
      const ended = statuses.map((s) => s.lastState?.terminated?.reason).find((r) => r !== undefined);
      return {
        ...ref,
        pod: pod.metadata.name,
        phase: pod.status?.phase ?? 'Unknown',
        ready: isPodReady(pod),
        restarts: statuses.reduce((n, s) => n + s.restartCount, 0),
        ...(ended && { lastTerminated: ended }),
        ...(pod.spec?.nodeName && { nodeName: pod.spec.nodeName }),
      };
    });
  };
}

function podOf(pods: V1Pod[], node: RedisNodeRef): V1Pod | undefined {
  const label = node.host.split('.')[0];
  const named = pods.filter((p) => p.status?.podIP === node.host || p.metadata?.name === label);
  if (named.length <= 1) return named[0];
  const declaring = named.filter((p) =>
    (p.spec?.containers ?? []).some((c) => (c.ports ?? []).some((port) => port.containerPort === node.port)),
  );
  return declaring.length === 1 ? declaring[0] : undefined;
}
