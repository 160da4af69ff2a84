/**
 * The demo's crash scenario (demo/scenarios/oomkilled-redis.yaml) built on a real API server: a Redis StatefulSet whose
 * controller-made pod `redis-0` is given the crashed status (OOMKilled 14 times, CrashLoopBackOff) through the status
 * subresource, its kubelet and kernel events, its previous log (served by kwok), and a Deployment `sessions` whose pod
 * the controllers make and kwok runs.
 */
import {
  AppsV1Api,
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1Pod,
} from '@kubernetes/client-node';
import { demoScenarioPath, loadScenario, type Scenario } from '../../local-servers/simulated-cluster/index.js';
import { FAKE_NODE, type ContainerLogs } from '../servers/kube-apiserver.js';
import { SCRIPTED_STATUS_ANNOTATION } from './kwok-config.js';

export const NAMESPACE = 'cache';
export const REDIS_POD = 'redis-0';
export const REDIS_CONTAINER = 'redis';
export const SESSIONS_DEPLOYMENT = 'sessions';

const scenario: Scenario = loadScenario(demoScenarioPath('oomkilled-redis'));
const crashedPod = scenario.pods[0]!;
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** The previous log of redis-0 (the scenario's), for `startKubeApiServer({ logs })`; sessions has no previous one. */
export function scenarioLogs(): ContainerLogs[] {
  return [
    {
      namespace: NAMESPACE,
      pod: REDIS_POD,
      container: REDIS_CONTAINER,
      previous: scenario.previousLogs[`${NAMESPACE}/${REDIS_POD}/${REDIS_CONTAINER}`] ?? '',
    },
  ];
}

/** The previous log's lines, as the scenario has them. */
export function scenarioPreviousLogLines(): string[] {
  return (scenarioLogs()[0]?.previous ?? '').trimEnd().split('\n');
}

/** Polls `check` every 200 ms until it returns a value, or fails after `timeoutMs` saying what was awaited. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: Error | undefined;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err instanceof Error ? err : new Error(String(err));
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ''}`, {
        cause: last,
      });
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Whether the pod's Ready condition is True. */
export function podReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

const redisTemplateSpec = {
  // No scheduler runs: the template names the node kwok manages.
  nodeName: FAKE_NODE,
  automountServiceAccountToken: false,
  containers: [
    {
      name: REDIS_CONTAINER,
      image: 'redis:7.0',
      command: ['redis-server', '/etc/redis/redis.conf'],
      ports: [{ name: 'redis', containerPort: 6379, protocol: 'TCP' }],
      resources: { requests: { cpu: '500m', memory: '1Gi' }, limits: { memory: '2Gi' } },
      // Tight for a Redis that loads gigabytes: 5 + 2 × 5 = 15 s before the kubelet kills it.
      livenessProbe: { tcpSocket: { port: 6379 }, initialDelaySeconds: 5, periodSeconds: 5, failureThreshold: 2 },
    },
  ],
};

/**
 * Creates the namespace, the StatefulSet `redis` and the Deployment `sessions`, waits for the controllers and kwok to
 * run their pods, then scripts redis-0's crash and adds its events. Uses the admin client.
 */
export async function createRedisScenario(admin: KubeConfig): Promise<void> {
  const core = admin.makeApiClient(CoreV1Api);
  const apps = admin.makeApiClient(AppsV1Api);
  await core.createNamespace({ body: { metadata: { name: NAMESPACE } } }).catch((err: { code?: number }) => {
    if (err.code !== 409) throw err;
  });
  const labels = { 'app.kubernetes.io/name': 'redis', 'app.kubernetes.io/instance': 'redis' };
  await apps.createNamespacedStatefulSet({
    namespace: NAMESPACE,
    body: {
      metadata: { name: 'redis', namespace: NAMESPACE, labels },
      spec: {
        replicas: 1,
        serviceName: 'redis-headless',
        selector: { matchLabels: labels },
        template: { metadata: { labels }, spec: redisTemplateSpec },
      },
    },
  });
  const sessionsLabels = { app: SESSIONS_DEPLOYMENT };
  await apps.createNamespacedDeployment({
    namespace: NAMESPACE,
    body: {
      metadata: { name: SESSIONS_DEPLOYMENT, namespace: NAMESPACE },
      spec: {
        replicas: 1,
        selector: { matchLabels: sessionsLabels },
        template: {
          metadata: { labels: sessionsLabels },
          spec: {
            nodeName: FAKE_NODE,
            automountServiceAccountToken: false,
            containers: [
              {
                name: 'redis',
                image: 'redis:7.2',
                resources: { requests: { memory: '256Mi' }, limits: { memory: '512Mi', cpu: '250m' } },
              },
            ],
          },
        },
      },
    },
  });

  const pod = await eventually('redis-0 created by the StatefulSet controller and made ready by kwok', async () => {
    const p = await core.readNamespacedPod({ name: REDIS_POD, namespace: NAMESPACE });
    return podReady(p) ? p : undefined;
  });
  await eventually('the sessions pod running', async () => (await sessionsPod(core)) ?? undefined);

  // kwok's stages skip the pod from now on; then the crash is written as the kubelet would report it.
  await core.patchNamespacedPod(
    {
      name: REDIS_POD,
      namespace: NAMESPACE,
      body: { metadata: { annotations: { [SCRIPTED_STATUS_ANNOTATION]: 'true' } } },
    },
    mergePatch,
  );
  await core.patchNamespacedPodStatus(
    { name: REDIS_POD, namespace: NAMESPACE, body: { status: crashedStatus() } },
    mergePatch,
  );

  for (const event of scenario.events) {
    const { metadata, involvedObject, ...rest } = event;
    const isPod = involvedObject.kind === 'Pod';
    await core.createNamespacedEvent({
      namespace: NAMESPACE,
      body: {
        ...rest,
        metadata: { name: metadata.name, namespace: NAMESPACE },
        // The events must point at the objects that exist here, by uid as a kubelet's would.
        involvedObject: { ...involvedObject, uid: isPod ? pod.metadata?.uid : undefined },
        firstTimestamp: event.firstTimestamp ? new Date(event.firstTimestamp) : undefined,
        lastTimestamp: event.lastTimestamp ? new Date(event.lastTimestamp) : undefined,
      },
    });
  }
  // An event of another pod with a name sharing the prefix: the field selector must leave it out.
  await core.createNamespacedEvent({
    namespace: NAMESPACE,
    body: {
      metadata: { name: 'redis-01.backoff', namespace: NAMESPACE },
      involvedObject: { kind: 'Pod', name: 'redis-01', namespace: NAMESPACE, apiVersion: 'v1' },
      reason: 'BackOff',
      message: 'Back-off restarting failed container redis in pod redis-01',
      type: 'Warning',
      count: 3,
      firstTimestamp: new Date(),
      lastTimestamp: new Date(),
      source: { component: 'kubelet', host: FAKE_NODE },
    },
  });
}

/** The scenario's crashed status, for the status subresource (timestamps as the API expects them). */
export function crashedStatus(): NonNullable<V1Pod['status']> {
  const status = structuredClone(crashedPod.status) as Record<string, unknown>;
  // The addresses of another cluster would be refused or misleading here.
  delete status['hostIP'];
  delete status['podIP'];
  return status;
}

/** The running pod of the Deployment `sessions`, if any. */
export async function sessionsPod(core: CoreV1Api): Promise<V1Pod | undefined> {
  const pods = await core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: `app=${SESSIONS_DEPLOYMENT}` });
  return pods.items.find((p) => p.metadata?.deletionTimestamp === undefined && podReady(p));
}
