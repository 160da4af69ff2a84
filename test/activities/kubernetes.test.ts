import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiException, AppsV1Api, KubeConfig } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { createKubernetesActivities, RESTARTED_AT_ANNOTATION } from '../../activities/kubernetes/index.js';
import {
  demoScenarioPath,
  loadScenario,
  startSimulatedCluster,
  type Scenario,
  type SimulatedCluster,
} from '../../local-servers/simulated-cluster/index.js';
import { RunbookErrorType } from '../../workflows/definitions.js';

/** The demo scenario plus what these tests need: another pod's event, and a Deployment's pod with no crash. */
function testScenario(): Scenario {
  const scenario = loadScenario(demoScenarioPath('oomkilled-redis'));
  scenario.events.push({
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: 'redis-1.1', namespace: 'cache' },
    involvedObject: { kind: 'Pod', name: 'redis-1', namespace: 'cache' },
    reason: 'BackOff',
    message: 'Back-off restarting failed container redis in pod redis-1_cache(x)',
    type: 'Warning',
    count: 3,
    lastTimestamp: '2026-03-14T02:44:00Z',
  });
  const template = {
    metadata: { labels: { app: 'sessions' } },
    spec: {
      containers: [{ name: 'redis', image: 'redis:7.2', resources: { limits: { memory: '512Mi', cpu: '250m' } } }],
    },
  };
  scenario.deployments.push({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'sessions', namespace: 'cache', uid: 'dep-uid', generation: 1 },
    spec: { replicas: 1, selector: { matchLabels: { app: 'sessions' } }, template },
  });
  scenario.replicaSets.push({
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name: 'sessions-6c8f9d7b5',
      namespace: 'cache',
      uid: 'rs-uid',
      ownerReferences: [
        { apiVersion: 'apps/v1', kind: 'Deployment', name: 'sessions', uid: 'dep-uid', controller: true },
      ],
    },
    spec: { replicas: 1, selector: { matchLabels: { app: 'sessions' } }, template },
  });
  scenario.pods.push({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'sessions-6c8f9d7b5-x2k9p',
      namespace: 'cache',
      labels: { app: 'sessions' },
      ownerReferences: [
        { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'sessions-6c8f9d7b5', uid: 'rs-uid', controller: true },
      ],
    },
    spec: template.spec,
    status: {
      phase: 'Running',
      conditions: [{ type: 'Ready', status: 'True' }],
      containerStatuses: [
        { name: 'redis', ready: true, restartCount: 0, state: { running: { startedAt: '2026-03-14T01:00:00Z' } } },
      ],
    },
  });
  return scenario;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail('expected a rejection');
}

void describe('Kubernetes activities against the simulated cluster', () => {
  let cluster: SimulatedCluster;
  let kc: KubeConfig;
  let k8s: ReturnType<typeof createKubernetesActivities>;

  before(async () => {
    cluster = await startSimulatedCluster(testScenario());
    kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    k8s = createKubernetesActivities(kc);
  });

  after(async () => {
    await cluster.stop();
  });

  void describe('describePod', () => {
    void it('describes the crash: OOMKilled, exit 137, 14 restarts, back-off, failed probes, owner', async () => {
      const pod = await k8s.describePod({ namespace: 'cache', pod: 'redis-0' });
      assert.equal(pod.phase, 'Running');
      assert.equal(pod.ready, false);
      assert.equal(pod.nodeName, 'ip-10-42-3-117.eu-west-1.compute.internal');
      const [redis] = pod.containers;
      assert.equal(redis?.name, 'redis');
      assert.equal(redis?.restartCount, 14);
      assert.deepEqual(redis?.state, { state: 'waiting', reason: 'CrashLoopBackOff' });
      assert.equal(redis?.lastState?.reason, 'OOMKilled');
      assert.equal(redis?.lastState?.exitCode, 137);
      assert.equal(redis?.lastState?.finishedAt, '2026-03-14T02:41:06.000Z');
      assert.ok(pod.failedProbes >= 1);
      assert.deepEqual(pod.owner, { kind: 'StatefulSet', name: 'redis' });
      assert.deepEqual(
        pod.conditions.find((c) => c.type === 'Ready'),
        { type: 'Ready', status: 'False', reason: 'ContainersNotReady' },
      );
      const backOff = pod.events.find((e) => e.reason === 'BackOff');
      assert.equal(backOff?.type, 'Warning');
      assert.match(backOff?.message ?? '', /Back-off restarting failed container/);
      assert.equal(pod.events.at(-1)?.reason, 'BackOff', 'newest event last');
      assert.ok(pod.events.some((e) => e.reason === 'OOMKilling'));
      for (const e of pod.events) assert.ok(e.message.length <= 300);
    });

    void it('asks only for the pod’s events, and keeps no other object’s', async () => {
      const pod = await k8s.describePod({ namespace: 'cache', pod: 'redis-0' });
      assert.ok(!pod.events.some((e) => e.message.includes('redis-1')), 'redis-1 event excluded');
      assert.ok(!pod.events.some((e) => e.reason === 'SuccessfulCreate'), 'StatefulSet event excluded');
      const query = cluster.requests.filter((r) => r.path.startsWith('/api/v1/namespaces/cache/events')).at(-1);
      const selector = new URL(query?.path ?? '', cluster.url).searchParams.get('fieldSelector');
      assert.equal(selector, 'involvedObject.name=redis-0,involvedObject.kind=Pod');
    });

    void it('fails with a non-retryable PodNotFound naming the pod when it does not exist', async () => {
      const err = await rejection(k8s.describePod({ namespace: 'cache', pod: 'redis-9' }));
      assert.ok(err instanceof ApplicationFailure);
      assert.equal(err.type, RunbookErrorType.PodNotFound);
      assert.equal(err.nonRetryable, true);
      assert.equal(err.message, 'pods "redis-9" not found in namespace cache');
      assert.ok(err.cause instanceof ApiException);
    });

    void it('maps 403 to Forbidden and a 5xx to a plain retryable error with its cause', async () => {
      cluster.injectFailure({
        method: 'GET',
        path: '/api/v1/namespaces/cache/pods/redis-0',
        code: 403,
        reason: 'Forbidden',
        message: 'pods "redis-0" is forbidden: User "system:serviceaccount:ops:runbook" cannot get resource "pods"',
      });
      const forbidden = await rejection(k8s.describePod({ namespace: 'cache', pod: 'redis-0' }));
      assert.ok(forbidden instanceof ApplicationFailure);
      assert.equal(forbidden.type, RunbookErrorType.Forbidden);
      assert.equal(forbidden.nonRetryable, true);
      assert.match(forbidden.message, /cannot get resource "pods"/);

      cluster.injectFailure({
        method: 'GET',
        path: '/api/v1/namespaces/cache/pods/redis-0',
        code: 503,
        reason: 'ServiceUnavailable',
      });
      const unavailable = await rejection(k8s.describePod({ namespace: 'cache', pod: 'redis-0' }));
      assert.ok(unavailable instanceof Error);
      assert.ok(!(unavailable instanceof ApplicationFailure));
      assert.match(unavailable.message, /HTTP 503/);
      assert.ok(unavailable.cause instanceof ApiException);
    });

    void it('refuses a client without the token (401 → Forbidden)', async () => {
      const other = new KubeConfig();
      other.loadFromFile(cluster.kubeconfigPath);
      const stranger = new KubeConfig();
      stranger.loadFromOptions({
        clusters: other.clusters,
        contexts: other.contexts,
        users: [{ name: 'runbook', token: 'wrong' }],
        currentContext: other.currentContext,
      });
      const err = await rejection(
        createKubernetesActivities(stranger).describePod({ namespace: 'cache', pod: 'redis-0' }),
      );
      assert.ok(err instanceof ApplicationFailure);
      assert.equal(err.type, RunbookErrorType.Forbidden);
    });

    void it('gives a plain retryable error when the API server is unreachable', async () => {
      const gone = new KubeConfig();
      gone.loadFromOptions({
        clusters: [{ name: 'gone', server: 'http://127.0.0.1:1', skipTLSVerify: true }],
        users: [{ name: 'u', token: 't' }],
        contexts: [{ name: 'gone', cluster: 'gone', user: 'u' }],
        currentContext: 'gone',
      });
      const err = await rejection(createKubernetesActivities(gone).describePod({ namespace: 'cache', pod: 'redis-0' }));
      assert.ok(err instanceof Error && !(err instanceof ApplicationFailure));
      assert.match(err.message, /cannot reach the Kubernetes API to get pods "redis-0" in namespace cache/);
      assert.ok(err.cause !== undefined);
    });
  });

  void describe('fetchPreviousLogs', () => {
    void it('classifies the crashed container’s log', async () => {
      const logs = await k8s.fetchPreviousLogs({ namespace: 'cache', pod: 'redis-0' });
      assert.equal(logs.available, true);
      assert.ok(logs.bytesRead > 0);
      const fork = logs.signals.find((s) => s.signal === 'fork-cannot-allocate-memory');
      assert.ok(fork);
      assert.ok(fork.count >= 2);
      assert.match(fork.example, /Can't save in background: fork: Cannot allocate memory/);
      assert.equal(logs.lastLines.length, 20);
      assert.match(logs.lastLines.at(-1) ?? '', /Background saving started by pid 219/);
      const call = cluster.requests.filter((r) => r.path.includes('/log?')).at(-1);
      const query = new URL(call?.path ?? '', cluster.url).searchParams;
      assert.equal(query.get('previous'), 'true');
      assert.equal(query.get('container'), 'redis');
      assert.equal(query.get('tailLines'), '500');
      assert.equal(query.get('limitBytes'), String(64 * 1024));
    });

    void it('keeps the end of the log when the byte limit would cut it, by asking for fewer lines', async () => {
      const logs = await k8s.fetchPreviousLogs({
        namespace: 'cache',
        pod: 'redis-0',
        container: 'redis',
        limitBytes: 2000,
      });
      assert.ok(logs.bytesRead < 2000);
      assert.match(logs.lastLines.at(-1) ?? '', /Background saving started by pid 219/);
    });

    void it('says the log is unavailable when there is no previous container', async () => {
      const logs = await k8s.fetchPreviousLogs({ namespace: 'cache', pod: 'sessions-6c8f9d7b5-x2k9p' });
      assert.equal(logs.available, false);
      assert.match(
        logs.unavailableReason ?? '',
        /previous terminated container "redis" in pod "sessions-6c8f9d7b5-x2k9p" not found/,
      );
      assert.deepEqual(logs.signals, []);
    });

    void it('says the log is unavailable when the pod is gone', async () => {
      const logs = await k8s.fetchPreviousLogs({ namespace: 'cache', pod: 'redis-9' });
      assert.equal(logs.available, false);
      assert.match(logs.unavailableReason ?? '', /not found/);
    });
  });

  void describe('checkLimits', () => {
    void it('reads requests and limits in bytes, and the owning StatefulSet', async () => {
      const limits = await k8s.checkLimits({ namespace: 'cache', pod: 'redis-0' });
      assert.deepEqual(limits, {
        container: 'redis',
        requests: { memoryBytes: 1073741824, cpu: '500m' },
        limits: { memoryBytes: 2147483648 },
        workload: { kind: 'StatefulSet', name: 'redis', namespace: 'cache' },
      });
    });

    void it('finds a Deployment through its ReplicaSet', async () => {
      const limits = await k8s.checkLimits({ namespace: 'cache', pod: 'sessions-6c8f9d7b5-x2k9p', container: 'redis' });
      assert.equal(limits.limits.memoryBytes, 536870912);
      assert.equal(limits.limits.cpu, '250m');
      assert.deepEqual(limits.workload, { kind: 'Deployment', name: 'sessions', namespace: 'cache' });
    });

    void it('refuses a container the pod does not have', async () => {
      const err = await rejection(k8s.checkLimits({ namespace: 'cache', pod: 'redis-0', container: 'sidecar' }));
      assert.ok(err instanceof ApplicationFailure);
      assert.equal(err.type, RunbookErrorType.InvalidConfig);
      assert.match(err.message, /no container "sidecar".*containers: redis/);
    });
  });

  void describe('rollingRestart and podHealth', () => {
    const workload = { kind: 'StatefulSet' as const, name: 'redis', namespace: 'cache' };
    const restartedAt = '2026-03-14T03:00:00.000Z';

    void it('the client’s default JSON-patch content type is refused by the server (the trap rollingRestart avoids)', async () => {
      const apps = kc.makeApiClient(AppsV1Api);
      const before = cluster.patches.length;
      const err = await rejection(
        apps.patchNamespacedStatefulSet({ name: 'redis', namespace: 'cache', body: { spec: { replicas: 1 } } }),
      );
      assert.ok(err instanceof ApiException);
      assert.equal(err.code, 400);
      assert.equal(cluster.patches[before]?.contentType, 'application/json-patch+json');
      assert.equal(cluster.patches[before]?.status, 400);
    });

    void it('patches the template annotation with a merge patch, once', async () => {
      const before = cluster.patches.length;
      const first = await k8s.rollingRestart({ workload, restartedAt });
      assert.equal(first.ok, true);
      assert.match(first.detail, /patched/);
      const patches = cluster.patches.slice(before);
      assert.equal(patches.length, 1);
      assert.equal(patches[0]?.contentType, 'application/merge-patch+json');
      assert.equal(patches[0]?.path, '/apis/apps/v1/namespaces/cache/statefulsets/redis');
      assert.deepEqual(patches[0]?.body, {
        spec: { template: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: restartedAt } } } },
      });
      const sts = cluster.scenario.statefulSets.find((s) => s.metadata.name === 'redis');
      assert.equal(sts?.spec.template.metadata?.annotations?.[RESTARTED_AT_ANNOTATION], restartedAt);
      assert.deepEqual(
        sts?.spec.template.metadata?.labels?.['app.kubernetes.io/name'],
        'redis',
        'merge kept the labels',
      );
      assert.equal(sts?.metadata.generation, 4);

      const second = await k8s.rollingRestart({ workload, restartedAt });
      assert.equal(second.ok, true);
      assert.match(second.detail, /not patched again/);
      assert.equal(cluster.patches.length, before + 1, 'no second patch');
    });

    void it('the pod is ready afterwards and its restart count stays put', async () => {
      const first = await k8s.podHealth({ namespace: 'cache', pod: 'redis-0' });
      assert.equal(first.ready, true);
      assert.equal(first.phase, 'Running');
      assert.ok(!Number.isNaN(Date.parse(first.at)));
      const second = await k8s.podHealth({ namespace: 'cache', pod: 'redis-0' });
      assert.equal(second.restartCount, first.restartCount);
      const pod = await k8s.describePod({ namespace: 'cache', pod: 'redis-0' });
      assert.ok(pod.events.some((e) => e.reason === 'Killing' && e.message === 'Stopping container redis'));
      assert.equal(pod.events.at(-1)?.reason, 'Started');
      assert.deepEqual(pod.containers[0]?.state.state, 'running');
    });

    void it('sees a restart counter bumped by the test', async () => {
      const status = cluster.scenario.pods[0]!.status!.containerStatuses![0]!;
      status.restartCount += 1;
      const sample = await k8s.podHealth({ namespace: 'cache', pod: 'redis-0' });
      assert.equal(sample.restartCount, 1);
    });

    void it('restarts a Deployment the same way', async () => {
      const result = await k8s.rollingRestart({
        workload: { kind: 'Deployment', name: 'sessions', namespace: 'cache' },
        restartedAt: 'run-1:restart-sessions',
        actionId: 'restart-sessions',
      });
      assert.equal(result.ok, true);
      assert.equal(result.id, 'restart-sessions');
      const sample = await k8s.podHealth({ namespace: 'cache', pod: 'sessions-6c8f9d7b5-x2k9p' });
      assert.deepEqual({ ready: sample.ready, restartCount: sample.restartCount }, { ready: true, restartCount: 0 });
      assert.equal(cluster.patches.at(-1)?.path, '/apis/apps/v1/namespaces/cache/deployments/sessions');
      assert.equal(cluster.patches.at(-1)?.contentType, 'application/merge-patch+json');
    });

    void it('maps a conflict to a retryable Conflict, and a missing workload to PodNotFound', async () => {
      cluster.injectFailure({
        method: 'PATCH',
        path: /statefulsets\/redis$/,
        code: 409,
        reason: 'Conflict',
        message: 'the object has been modified',
      });
      const conflict = await rejection(k8s.rollingRestart({ workload, restartedAt: '2026-03-14T04:00:00.000Z' }));
      assert.ok(conflict instanceof ApplicationFailure);
      assert.equal(conflict.type, RunbookErrorType.Conflict);
      assert.equal(conflict.nonRetryable, false);

      const missing = await rejection(k8s.rollingRestart({ workload: { ...workload, name: 'nope' }, restartedAt }));
      assert.ok(missing instanceof ApplicationFailure);
      assert.equal(missing.type, RunbookErrorType.PodNotFound);
      assert.equal(missing.message, 'statefulsets.apps "nope" not found in namespace cache');
    });

    void it('reports a missing pod as a not-ready sample rather than failing', async () => {
      const sample = await k8s.podHealth({ namespace: 'cache', pod: 'redis-9' });
      assert.deepEqual({ ready: sample.ready, phase: sample.phase }, { ready: false, phase: 'Missing' });
    });
  });
});

void describe('setMemoryLimit against the simulated cluster', () => {
  let cluster: SimulatedCluster;
  let k8s: ReturnType<typeof createKubernetesActivities>;
  const workload = { kind: 'StatefulSet' as const, name: 'redis', namespace: 'cache' };
  const redisContainer = () =>
    cluster.scenario.statefulSets
      .find((s) => s.metadata.name === 'redis')
      ?.spec.template.spec.containers.find((c) => c.name === 'redis');

  before(async () => {
    const scenario = testScenario();
    // A sidecar next to Redis: the patch must leave it, and Redis's other fields, as they are.
    const template = scenario.statefulSets.find((s) => s.metadata.name === 'redis')!.spec.template;
    template.spec.containers.push({ name: 'exporter', image: 'oliver006/redis_exporter:v1.62.0' });
    cluster = await startSimulatedCluster(scenario);
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    k8s = createKubernetesActivities(kc);
  });

  after(async () => {
    await cluster.stop();
  });

  void it('patches the template container limit with a strategic merge patch, keeps the rest, and rolls the pods', async () => {
    const before = structuredClone(redisContainer()!);
    assert.equal(before.resources?.limits?.['memory'], '2Gi');
    const oldUid = cluster.scenario.pods.find((p) => p.metadata.name === 'redis-0')?.metadata.uid;
    const result = await k8s.setMemoryLimit({ workload, container: 'redis', bytes: 3 * 2 ** 30, actionId: 'raise' });
    assert.equal(result.ok, true);
    assert.equal(result.id, 'raise');
    assert.match(result.detail, /memory limit 2Gi → 3072Mi/);
    // The scenario's redis-0 is crash-looping (readyReplicas 0): the detail says what the real controller waits for.
    assert.match(result.detail, /do not take it yet: 1 of 1 pod\(s\) are not ready.*OrderedReady/);
    const patch = cluster.patches.at(-1)!;
    assert.equal(patch.contentType, 'application/strategic-merge-patch+json');
    assert.equal(patch.status, 200);
    assert.equal(patch.path, '/apis/apps/v1/namespaces/cache/statefulsets/redis');
    assert.deepEqual(patch.body, {
      spec: { template: { spec: { containers: [{ name: 'redis', resources: { limits: { memory: '3072Mi' } } }] } } },
    });
    const after = redisContainer()!;
    assert.equal(after.resources?.limits?.['memory'], '3072Mi');
    assert.deepEqual({ ...after, resources: before.resources }, before, 'only the limit changed');
    assert.equal(after.resources?.requests?.['memory'], before.resources?.requests?.['memory'], 'request kept');
    const names = cluster.scenario.statefulSets[0]!.spec.template.spec.containers.map((c) => c.name);
    assert.deepEqual(names, ['redis', 'exporter'], 'the sidecar is still there');
    const pod = cluster.scenario.pods.find((p) => p.metadata.name === 'redis-0')!;
    assert.notEqual(pod.metadata.uid, oldUid, 'the pod was replaced');
    assert.equal(pod.spec.containers[0]?.resources?.limits?.['memory'], '3072Mi');
  });

  void it('is idempotent: the same limit again is a no-op, however it is written', async () => {
    const count = cluster.patches.length;
    const again = await k8s.setMemoryLimit({ workload, container: 'redis', bytes: 3072 * 2 ** 20 });
    assert.equal(again.ok, true);
    assert.equal(again.id, 'set-memory-limit');
    assert.match(again.detail, /already has memory limit 3072Mi: no change/);
    assert.equal(cluster.patches.length, count, 'no second patch');
  });

  void it('lowers the request only when it would exceed the limit', async () => {
    const result = await k8s.setMemoryLimit({ workload, container: 'redis', bytes: 512 * 2 ** 20 });
    assert.match(result.detail, /request lowered from 1Gi to 512Mi/);
    const c = redisContainer()!;
    assert.deepEqual([c.resources?.limits?.['memory'], c.resources?.requests?.['memory']], ['512Mi', '512Mi']);
  });

  void it('refuses a container the template does not have, before any patch', async () => {
    const count = cluster.patches.length;
    const err = await rejection(k8s.setMemoryLimit({ workload, container: 'nope', bytes: 2 ** 30 }));
    assert.ok(err instanceof ApplicationFailure);
    assert.equal(err.type, RunbookErrorType.InvalidAction);
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, /StatefulSet cache\/redis has no container "nope" .*containers: redis, exporter/);
    assert.equal(cluster.patches.length, count);
  });

  void it('maps a missing workload to PodNotFound and a conflict to a retryable Conflict', async () => {
    const missing = await rejection(
      k8s.setMemoryLimit({ workload: { ...workload, name: 'nope' }, container: 'redis', bytes: 2 ** 30 }),
    );
    assert.ok(missing instanceof ApplicationFailure);
    assert.equal(missing.type, RunbookErrorType.PodNotFound);
    cluster.injectFailure({ method: 'PATCH', path: /statefulsets\/redis$/, code: 409, reason: 'Conflict' });
    const conflict = await rejection(k8s.setMemoryLimit({ workload, container: 'redis', bytes: 2 ** 30 }));
    assert.ok(conflict instanceof ApplicationFailure);
    assert.equal(conflict.type, RunbookErrorType.Conflict);
    assert.equal(conflict.nonRetryable, false);
  });

  void it('changes a Deployment the same way', async () => {
    const result = await k8s.setMemoryLimit({
      workload: { kind: 'Deployment', name: 'sessions', namespace: 'cache' },
      container: 'redis',
      bytes: 768 * 2 ** 20,
    });
    assert.match(
      result.detail,
      /Deployment cache\/sessions container redis memory limit 512Mi → 768Mi: the controller rolls/,
    );
    const dep = cluster.scenario.deployments.find((d) => d.metadata.name === 'sessions')!;
    assert.deepEqual(dep.spec.template.spec.containers[0]?.resources?.limits, { memory: '768Mi', cpu: '250m' });
  });
});

void describe('simulated cluster', () => {
  void it('refuses a JSON-patch body that is not an array, and unknown content types', async () => {
    const cluster = await startSimulatedCluster(testScenario());
    try {
      const url = `${cluster.url}/apis/apps/v1/namespaces/cache/statefulsets/redis`;
      const headers = { Authorization: `Bearer ${cluster.token}` };
      const object = JSON.stringify({ spec: { replicas: 2 } });
      const jsonPatch = await fetch(url, {
        method: 'PATCH',
        headers: { ...headers, 'Content-Type': 'application/json-patch+json' },
        body: object,
      });
      assert.equal(jsonPatch.status, 400);
      assert.equal(((await jsonPatch.json()) as { kind: string }).kind, 'Status');
      const plain = await fetch(url, {
        method: 'PATCH',
        headers: { ...headers, 'Content-Type': 'application/json' },
        body: object,
      });
      assert.equal(plain.status, 415);
      await plain.body?.cancel();
      const ops = JSON.stringify([{ op: 'replace', path: '/spec/replicas', value: 2 }]);
      const applied = await fetch(url, {
        method: 'PATCH',
        headers: { ...headers, 'Content-Type': 'application/json-patch+json' },
        body: ops,
      });
      assert.equal(applied.status, 200);
      assert.equal(((await applied.json()) as { spec: { replicas: number } }).spec.replicas, 2);
      const notFound = await fetch(`${cluster.url}/api/v1/namespaces/cache/pods/x`, { headers });
      assert.deepEqual(await notFound.json(), {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'pods "x" not found',
        reason: 'NotFound',
        details: { name: 'x', kind: 'pods' },
        code: 404,
      });
      const list = await fetch(`${cluster.url}/api/v1/namespaces/cache/pods?labelSelector=app%3Dsessions`, { headers });
      const pods = (await list.json()) as { kind: string; items: Array<{ metadata: { name: string } }> };
      assert.equal(pods.kind, 'PodList');
      assert.deepEqual(
        pods.items.map((p) => p.metadata.name),
        ['sessions-6c8f9d7b5-x2k9p'],
      );
    } finally {
      await cluster.stop();
    }
  });

  void it('names the bad field of a scenario file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'scenario-test-'));
    try {
      const file = join(dir, 'bad.yaml');
      await writeFile(
        file,
        [
          'pods:',
          '  - apiVersion: v1',
          '    kind: Pod',
          '    metadata: { namespace: cache }',
          '    spec: { containers: [{ name: redis, image: redis:7.0 }] }',
          '    status: { phase: Crashing }',
          'previouslogs: {}',
        ].join('\n'),
      );
      assert.throws(
        () => loadScenario(file),
        (err: Error) => {
          assert.match(err.message, /bad\.yaml: invalid scenario/);
          assert.match(err.message, /pods\[0\]\.metadata\.name/);
          assert.match(err.message, /pods\[0\]\.status\.phase/);
          assert.match(err.message, /previouslogs/);
          return true;
        },
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
