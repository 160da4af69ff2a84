/**
 * The runbook's Kubernetes activities against a real API server (etcd, kube-apiserver, the workload controllers and
 * kwok), with the real `@kubernetes/client-node` over HTTPS: what test/activities/kubernetes.test.ts proves on the
 * simulated cluster, here answered by Kubernetes itself, including the errors it gives.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  PatchStrategy,
  RbacAuthorizationV1Api,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { createKubernetesActivities, RESTARTED_AT_ANNOTATION } from '../../activities/kubernetes/index.js';
import { MISSING_POD_PHASE } from '../../activities/kubernetes/pod-health.js';
import { RunbookErrorType } from '../../workflows/definitions.js';
import { startKubeApiServer, type KubeApiServer } from '../servers/kube-apiserver.js';
import { INJECT_CONFLICT_LABEL, startConflictWebhook, type ConflictWebhook } from './conflict-webhook.js';
import {
  createRedisScenario,
  eventually,
  NAMESPACE,
  podReady,
  REDIS_CONTAINER,
  REDIS_POD,
  scenarioLogs,
  scenarioPreviousLogLines,
  sessionsPod,
} from './redis-workloads.js';
import { withReadiness } from './redis-readiness.js';
import { readManifestFile, serverSideApply } from './manifests.js';
import { kubeSuiteSkip } from './suite-gate.js';
import { serviceAccountToken } from './service-account-token.js';

let server: KubeApiServer;
let admin: KubeConfig;
let core: CoreV1Api;
let apps: AppsV1Api;
let activities: ReturnType<typeof createKubernetesActivities>;
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const REDIS_STS = { kind: 'StatefulSet' as const, name: 'redis', namespace: NAMESPACE };
const RESTART_1 = 'run-1:rolling-restart';

async function failure(promise: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the call to fail');
}

describe('Kubernetes activities on a real API server', { skip: kubeSuiteSkip() }, () => {
  before(async () => {
    server = await startKubeApiServer({ logs: scenarioLogs() });
    admin = server.adminConfig();
    core = admin.makeApiClient(CoreV1Api);
    apps = admin.makeApiClient(AppsV1Api);
    await createRedisScenario(admin);
    activities = createKubernetesActivities(admin);
  });
  after(async () => {
    await server?.stop();
  });

  it('describePod: the crash as the kubelet reported it, and only this pod’s events (field selector)', async () => {
    const d = await activities.describePod({ namespace: NAMESPACE, pod: REDIS_POD });
    assert.equal(d.phase, 'Running');
    assert.equal(d.ready, false);
    assert.deepEqual(d.owner, { kind: 'StatefulSet', name: 'redis' });
    const c = d.containers[0]!;
    assert.equal(c.restartCount, 14);
    assert.deepEqual(c.state, { state: 'waiting', reason: 'CrashLoopBackOff' });
    assert.equal(c.lastState?.reason, 'OOMKilled');
    assert.equal(c.lastState?.exitCode, 137);
    // The scenario's 7 pod events; not the StatefulSet's SuccessfulCreate, not redis-01's BackOff.
    assert.deepEqual(d.events.map((e) => e.reason).sort(), [
      'BackOff',
      'Killing',
      'OOMKilling',
      'Pulled',
      'Started',
      'Unhealthy',
      'Unhealthy',
    ]);
    assert.ok(!d.events.some((e) => e.message.includes('redis-01')));
    assert.equal(d.failedProbes, 37 + 9);
    assert.equal(d.events.at(-1)?.reason, 'BackOff', 'oldest first, by lastTimestamp');
    // The spec, for the deployment-config findings: the API server's defaults filled in where the manifest is silent.
    assert.deepEqual(d.spec?.containers[0], {
      name: 'redis',
      image: 'redis:7.0',
      memoryRequestBytes: 1024 ** 3,
      memoryLimitBytes: 2 * 1024 ** 3,
      liveness: { kind: 'tcpSocket', initialDelaySeconds: 5, periodSeconds: 5, timeoutSeconds: 1, failureThreshold: 2 },
      mounts: [],
    });
    assert.deepEqual(d.spec?.volumes, []);
  });

  it('fetchPreviousLogs: the previous container’s log, proxied by the API server from kwok', async () => {
    const logs = await activities.fetchPreviousLogs({
      namespace: NAMESPACE,
      pod: REDIS_POD,
      container: REDIS_CONTAINER,
    });
    assert.equal(logs.available, true, logs.unavailableReason);
    assert.ok(
      logs.signals.some((s) => s.signal === 'fork-cannot-allocate-memory'),
      JSON.stringify(logs.signals),
    );
    assert.equal(logs.lastLines.at(-1), scenarioPreviousLogLines().at(-1));

    const tail = await activities.fetchPreviousLogs({ namespace: NAMESPACE, pod: REDIS_POD, tailLines: 3 });
    assert.deepEqual(tail.lastLines, scenarioPreviousLogLines().slice(-3));
    // limitBytes below the tail's size: the activity asks again for fewer lines so the last ones are kept.
    const bounded = await activities.fetchPreviousLogs({ namespace: NAMESPACE, pod: REDIS_POD, limitBytes: 400 });
    assert.ok(bounded.bytesRead <= 400, `read ${bounded.bytesRead} bytes`);
    assert.equal(bounded.lastLines.at(-1), scenarioPreviousLogLines().at(-1));
  });

  it('fetchPreviousLogs: no previous container is a finding (available: false), not a failure', async () => {
    const pod = await eventually('the sessions pod', () => sessionsPod(core));
    const logs = await activities.fetchPreviousLogs({ namespace: NAMESPACE, pod: pod.metadata!.name! });
    assert.equal(logs.available, false);
    assert.ok(logs.unavailableReason, 'the server’s reason is kept');
    const gone = await activities.fetchPreviousLogs({ namespace: NAMESPACE, pod: 'redis-9' });
    assert.equal(gone.available, false);
    assert.match(gone.unavailableReason ?? '', /not found/);
  });

  it('checkLimits: Pod → StatefulSet through the ownerReferences the controller set', async () => {
    const limits = await activities.checkLimits({ namespace: NAMESPACE, pod: REDIS_POD, container: REDIS_CONTAINER });
    assert.equal(limits.limits.memoryBytes, 2 * 1024 ** 3);
    assert.equal(limits.requests.memoryBytes, 1024 ** 3);
    assert.equal(limits.requests.cpu, '500m');
    assert.deepEqual(limits.workload, { kind: 'StatefulSet', name: 'redis', namespace: NAMESPACE });
  });

  it('checkLimits: Pod → ReplicaSet → Deployment', async () => {
    const pod = await eventually('the sessions pod', () => sessionsPod(core));
    const limits = await activities.checkLimits({ namespace: NAMESPACE, pod: pod.metadata!.name! });
    assert.equal(limits.limits.memoryBytes, 512 * 1024 ** 2);
    assert.equal(limits.limits.cpu, '250m');
    assert.deepEqual(limits.workload, { kind: 'Deployment', name: 'sessions', namespace: NAMESPACE });
  });

  it('the client’s default patch content type (JSON patch) is refused for the restart body: the trap is real', async () => {
    const body = { spec: { template: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: 'x' } } } } };
    await assert.rejects(apps.patchNamespacedStatefulSet({ name: 'redis', namespace: NAMESPACE, body }), (err) => {
      assert.ok(err instanceof ApiException);
      assert.ok([400, 415, 422].includes(err.code), `HTTP ${err.code}`);
      return true;
    });
  });

  it('rollingRestart on a crash-looping StatefulSet: patched, but OrderedReady keeps the pod, and the detail says so', async () => {
    const old = await core.readNamespacedPod({ name: REDIS_POD, namespace: NAMESPACE });
    await eventually('the StatefulSet counting redis-0 as not ready', async () => {
      const s = await apps.readNamespacedStatefulSet({ name: 'redis', namespace: NAMESPACE });
      return s.status?.observedGeneration === s.metadata?.generation && (s.status?.readyReplicas ?? 0) === 0
        ? true
        : undefined;
    });
    const before = await activities.podHealth({ namespace: NAMESPACE, pod: REDIS_POD });
    assert.deepEqual([before.ready, before.restartCount], [false, 14]);

    const result = await activities.rollingRestart({
      workload: REDIS_STS,
      restartedAt: RESTART_1,
      actionId: 'restart-redis',
    });
    assert.equal(result.ok, true);
    assert.equal(result.id, 'restart-redis');
    assert.match(result.detail, /do not take it yet: 1 of 1 pod\(s\) are not ready.*OrderedReady/);
    const sts = await apps.readNamespacedStatefulSet({ name: 'redis', namespace: NAMESPACE });
    assert.equal(sts.spec?.template.metadata?.annotations?.[RESTARTED_AT_ANNOTATION], RESTART_1);

    // The controller has seen the new template (a new update revision) and still leaves the unready pod alone.
    await eventually('the controller to observe the patched template', async () => {
      const s = await apps.readNamespacedStatefulSet({ name: 'redis', namespace: NAMESPACE });
      return s.status?.observedGeneration === s.metadata?.generation &&
        s.status?.updateRevision !== s.status?.currentRevision
        ? true
        : undefined;
    });
    await new Promise((r) => setTimeout(r, 1000));
    const still = await core.readNamespacedPod({ name: REDIS_POD, namespace: NAMESPACE });
    assert.equal(still.metadata?.uid, old.metadata?.uid, 'redis-0 was not replaced');
    assert.equal(still.metadata?.annotations?.[RESTARTED_AT_ANNOTATION], undefined);
  });

  it('rollingRestart: once redis-0 is Ready the controller replaces it, and podHealth watches it come back', async () => {
    const old = await core.readNamespacedPod({ name: REDIS_POD, namespace: NAMESPACE });
    // What the kubelet reports once Redis answers again (after the runbook's Redis remediation).
    await core.patchNamespacedPodStatus(
      { name: REDIS_POD, namespace: NAMESPACE, body: { status: withReadiness(old, REDIS_CONTAINER, true) } },
      mergePatch,
    );
    // The verify window's view: samples until the new pod is ready, never an error while it is replaced.
    const phases = new Set<string>();
    const back = await eventually('redis-0 replaced and ready', async () => {
      const sample = await activities.podHealth({ namespace: NAMESPACE, pod: REDIS_POD });
      phases.add(sample.phase);
      const pod = await core.readNamespacedPod({ name: REDIS_POD, namespace: NAMESPACE }).catch(() => undefined);
      if (pod?.metadata?.uid === old.metadata?.uid || !pod || !podReady(pod)) return undefined;
      // The new pod is up: this sample is of it (the old one is gone for good).
      const after = await activities.podHealth({ namespace: NAMESPACE, pod: REDIS_POD });
      return after.ready ? { sample: after, pod } : undefined;
    });
    assert.equal(back.sample.restartCount, 0, 'a new pod, not a restarted container');
    assert.equal(back.pod?.metadata?.annotations?.[RESTARTED_AT_ANNOTATION], RESTART_1);
    assert.ok(podReady(back.pod));
    assert.equal(back.sample.phase, 'Running');
    // Whatever the samples caught while the pod was replaced (Running, Pending, Missing), none was an error.
    assert.ok(
      [...phases].every((p) => ['Running', 'Pending', MISSING_POD_PHASE].includes(p)),
      [...phases].join(),
    );

    const sts = await apps.readNamespacedStatefulSet({ name: 'redis', namespace: NAMESPACE });
    const again = await activities.rollingRestart({ workload: REDIS_STS, restartedAt: RESTART_1 });
    assert.match(again.detail, /not patched again/);
    const unchanged = await apps.readNamespacedStatefulSet({ name: 'redis', namespace: NAMESPACE });
    assert.equal(unchanged.metadata?.generation, sts.metadata?.generation, 'the retry changed nothing');
    // With every pod ready, a new restart is rolled out at once and the detail says so.
    const next = await activities.rollingRestart({ workload: REDIS_STS, restartedAt: 'run-1b:rolling-restart' });
    assert.match(next.detail, /the controller replaces its pods/);
  });

  it('rollingRestart: Deployment merge patch rolls out a new ReplicaSet', async () => {
    const old = await eventually('the sessions pod', () => sessionsPod(core));
    const restartedAt = 'run-2:rolling-restart';
    const result = await activities.rollingRestart({
      workload: { kind: 'Deployment', name: 'sessions', namespace: NAMESPACE },
      restartedAt,
    });
    assert.equal(result.ok, true);
    const fresh = await eventually('a new sessions pod from the new ReplicaSet', async () => {
      const pod = await sessionsPod(core);
      return pod && pod.metadata?.uid !== old.metadata?.uid ? pod : undefined;
    });
    assert.equal(fresh.metadata?.annotations?.[RESTARTED_AT_ANNOTATION], restartedAt);
    const limits = await activities.checkLimits({ namespace: NAMESPACE, pod: fresh.metadata.name! });
    assert.deepEqual(limits.workload, { kind: 'Deployment', name: 'sessions', namespace: NAMESPACE });
  });

  it('setMemoryLimit with the worker ServiceAccount (k8s/ Role): the template limit changes and the pod rolls to it', async () => {
    // The worker's own identity and Role, as `kubectl apply -k k8s/` creates them: patch on statefulsets suffices.
    for (const file of ['namespace.yaml', 'serviceaccounts.yaml', 'rbac-target-namespace.yaml']) {
      for (const { object } of readManifestFile(file)) await serverSideApply(admin, object);
    }
    const token = await serviceAccountToken(admin, 'redis-runbook', 'redis-runbook-worker');
    const worker = createKubernetesActivities(server.configForToken(token));
    // Start from a settled StatefulSet (the restarts above rolled it), so the detail is about this change alone.
    await eventually('the redis StatefulSet settled and ready', async () => {
      const s = await apps.readNamespacedStatefulSet({ name: 'redis', namespace: NAMESPACE });
      const st = s.status;
      return st?.observedGeneration === s.metadata?.generation &&
        st?.updateRevision === st?.currentRevision &&
        st?.readyReplicas === 1
        ? true
        : undefined;
    });
    const old = await core.readNamespacedPod({ name: REDIS_POD, namespace: NAMESPACE });
    assert.equal(old.spec?.containers[0]?.resources?.limits?.['memory'], '2Gi');

    const result = await worker.setMemoryLimit({
      workload: REDIS_STS,
      container: REDIS_CONTAINER,
      bytes: 3 * 2 ** 30,
      actionId: 'raise-memory-limit',
    });
    assert.equal(result.id, 'raise-memory-limit');
    assert.equal(result.ok, true);
    assert.match(result.detail, /memory limit 2Gi → 3072Mi: the controller rolls the pods/);
    const sts = await apps.readNamespacedStatefulSet({ name: 'redis', namespace: NAMESPACE });
    const container = sts.spec?.template.spec?.containers.find((c) => c.name === REDIS_CONTAINER);
    // The strategic merge kept the request and the rest of the container: only the limit changed.
    assert.deepEqual(
      { ...container?.resources },
      { requests: { cpu: '500m', memory: '1Gi' }, limits: { memory: '3Gi' } },
    );
    assert.equal(sts.spec?.template.metadata?.annotations?.[RESTARTED_AT_ANNOTATION], 'run-1b:rolling-restart');

    const fresh = await eventually('redis-0 replaced with the new limit, and ready', async () => {
      const pod = await core.readNamespacedPod({ name: REDIS_POD, namespace: NAMESPACE }).catch(() => undefined);
      return pod && pod.metadata?.uid !== old.metadata?.uid && podReady(pod) ? pod : undefined;
    });
    assert.equal(fresh.spec?.containers[0]?.resources?.limits?.['memory'], '3Gi');
    const limits = await worker.checkLimits({ namespace: NAMESPACE, pod: REDIS_POD });
    assert.equal(limits.limits.memoryBytes, 3 * 2 ** 30);

    // A retry reads 3Gi (the API server's canonical form of 3072Mi) as the same value and patches nothing.
    const again = await worker.setMemoryLimit({ workload: REDIS_STS, container: REDIS_CONTAINER, bytes: 3 * 2 ** 30 });
    assert.match(again.detail, /already has memory limit 3Gi: no change/);
    const after = await apps.readNamespacedStatefulSet({ name: 'redis', namespace: NAMESPACE });
    assert.equal(after.metadata?.generation, sts.metadata?.generation);
    const unknown = await failure(worker.setMemoryLimit({ workload: REDIS_STS, container: 'nope', bytes: 2 ** 30 }));
    assert.equal(unknown.type, RunbookErrorType.InvalidAction);
  });

  it('locateRedisPods with the worker ServiceAccount (k8s/ Role, list on pods): each node by its pod IP or its pod name', async () => {
    for (const file of ['namespace.yaml', 'serviceaccounts.yaml', 'rbac-target-namespace.yaml']) {
      for (const { object } of readManifestFile(file)) await serverSideApply(admin, object);
    }
    const worker = createKubernetesActivities(
      server.configForToken(await serviceAccountToken(admin, 'redis-runbook', 'redis-runbook-worker')),
    );
    const pod = await eventually('redis-0 with an IP (kwok gives one)', async () => {
      const p = await core.readNamespacedPod({ name: REDIS_POD, namespace: NAMESPACE }).catch(() => undefined);
      return p?.status?.podIP ? p : undefined;
    });
    const located = await worker.locateRedisPods({
      namespace: NAMESPACE,
      nodes: [
        { host: pod.status!.podIP!, port: 6379, role: 'primary' },
        { host: `${REDIS_POD}.redis-headless.${NAMESPACE}.svc.cluster.local`, port: 6379, role: 'replica' },
        { host: '192.0.2.1', port: 6379, role: 'replica' },
      ],
    });
    assert.equal(located[0]?.pod, REDIS_POD);
    assert.equal(located[0]?.role, 'primary');
    assert.equal(located[0]?.phase, 'Running');
    assert.equal(located[1]?.pod, REDIS_POD, 'a StatefulSet DNS name names its pod');
    assert.equal(located[2]?.pod, undefined, 'an address no pod has');
    assert.equal(located[2]?.node, '192.0.2.1:6379');
  });

  it('404: a pod that is gone is PodNotFound for describePod and checkLimits, a Missing sample for podHealth', async () => {
    const described = await failure(activities.describePod({ namespace: NAMESPACE, pod: 'redis-9' }));
    assert.equal(described.type, RunbookErrorType.PodNotFound);
    assert.equal(described.nonRetryable, true);
    assert.match(described.message, /pods "redis-9" not found in namespace cache/);
    const limits = await failure(activities.checkLimits({ namespace: NAMESPACE, pod: 'redis-9' }));
    assert.equal(limits.type, RunbookErrorType.PodNotFound);
    const sample = await activities.podHealth({ namespace: NAMESPACE, pod: 'redis-9' });
    assert.deepEqual([sample.ready, sample.phase], [false, MISSING_POD_PHASE]);
    const restart = await failure(
      activities.rollingRestart({
        workload: { kind: 'StatefulSet', name: 'nope', namespace: NAMESPACE },
        restartedAt: 'x',
      }),
    );
    assert.equal(restart.type, RunbookErrorType.PodNotFound);
  });

  it('403: RBAC refusals are Forbidden, non-retryable, with the server’s reason', async () => {
    // An account that may read pods but nothing else: describePod gets the pod, then its events are refused.
    const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
    await core.createNamespacedServiceAccount({ namespace: NAMESPACE, body: { metadata: { name: 'pod-reader' } } });
    await rbac.createNamespacedRole({
      namespace: NAMESPACE,
      body: {
        metadata: { name: 'pod-reader' },
        rules: [
          { apiGroups: [''], resources: ['pods'], verbs: ['get'] },
          { apiGroups: ['apps'], resources: ['statefulsets'], verbs: ['get'] },
        ],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: NAMESPACE,
      body: {
        metadata: { name: 'pod-reader' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' },
        subjects: [{ kind: 'ServiceAccount', name: 'pod-reader', namespace: NAMESPACE }],
      },
    });
    const token = await serviceAccountToken(admin, NAMESPACE, 'pod-reader');
    const limited = createKubernetesActivities(server.configForToken(token));
    const events = await failure(limited.describePod({ namespace: NAMESPACE, pod: REDIS_POD }));
    assert.equal(events.type, RunbookErrorType.Forbidden);
    assert.equal(events.nonRetryable, true);
    assert.match(events.message, /not allowed to list events in namespace cache \(HTTP 403\)/);
    assert.match(events.message, /system:serviceaccount:cache:pod-reader/);
    const patch = await failure(
      limited.rollingRestart({
        workload: { kind: 'StatefulSet', name: 'redis', namespace: NAMESPACE },
        restartedAt: 'y',
      }),
    );
    assert.equal(patch.type, RunbookErrorType.Forbidden);
    assert.match(patch.message, /not allowed to patch statefulsets\.apps "redis"/);
    // Logs are read through pods/log, a subresource of its own.
    await assert.rejects(limited.fetchPreviousLogs({ namespace: NAMESPACE, pod: REDIS_POD }), (err) => {
      assert.ok(err instanceof ApplicationFailure);
      assert.equal(err.type, RunbookErrorType.Forbidden);
      return true;
    });
  });

  it('401: a token the server does not know is Forbidden too (never a retry loop)', async () => {
    const stranger = createKubernetesActivities(server.configForToken('not-a-token'));
    const err = await failure(stranger.describePod({ namespace: NAMESPACE, pod: REDIS_POD }));
    assert.equal(err.type, RunbookErrorType.Forbidden);
    assert.match(err.message, /HTTP 401/);
  });

  describe('409 from the API server on the restart patch', () => {
    let webhook: ConflictWebhook;
    before(async () => {
      webhook = await startConflictWebhook(admin, server.servingTls, server.caPem);
      await apps.patchNamespacedStatefulSet(
        { name: 'redis', namespace: NAMESPACE, body: { metadata: { labels: { [INJECT_CONFLICT_LABEL]: 'true' } } } },
        mergePatch,
      );
    });
    after(async () => {
      await webhook?.stop();
    });

    it('is a retryable Conflict, and the retry applies the patch', async () => {
      await eventually('the API server calling the webhook', async () => {
        const dry = await apps
          .patchNamespacedStatefulSet(
            { name: 'redis', namespace: NAMESPACE, body: { metadata: { annotations: { probe: '1' } } }, dryRun: 'All' },
            mergePatch,
          )
          .then(() => 200)
          .catch((err: ApiException<unknown>) => err.code);
        return dry === 409 ? true : undefined;
      });
      webhook.conflictNext(1);
      const workload = REDIS_STS;
      const first = await failure(activities.rollingRestart({ workload, restartedAt: 'run-3:rolling-restart' }));
      assert.equal(first.type, RunbookErrorType.Conflict);
      assert.equal(first.nonRetryable, false, 'Temporal retries it with the activity’s retry policy');
      assert.match(first.message, /conflict trying to patch statefulsets\.apps "redis"/);
      assert.ok(webhook.conflicts >= 2, 'the 409s came from the API server’s admission chain');
      const second = await activities.rollingRestart({ workload, restartedAt: 'run-3:rolling-restart' });
      assert.equal(second.ok, true);
      assert.match(second.detail, /patched/);
      const sts = await apps.readNamespacedStatefulSet({ name: 'redis', namespace: NAMESPACE });
      assert.equal(sts.spec?.template.metadata?.annotations?.[RESTARTED_AT_ANNOTATION], 'run-3:rolling-restart');
    });
  });

  it('an unreachable API server is a plain retryable error, quickly', async () => {
    const kc = server.configForToken(server.adminToken);
    kc.clusters[0] = { ...kc.clusters[0]!, server: 'https://127.0.0.1:1' };
    const offline = createKubernetesActivities(kc);
    const t0 = Date.now();
    await assert.rejects(offline.describePod({ namespace: NAMESPACE, pod: REDIS_POD }), (err) => {
      assert.ok(!(err instanceof ApplicationFailure), 'not typed: Temporal retries it');
      assert.match((err as Error).message, /cannot reach the Kubernetes API to get pods "redis-0"/);
      return true;
    });
    assert.ok(Date.now() - t0 < 10_000);
  });
});
