/**
 * The k8s/ manifests against a real API server: every document is applied (server-side apply; dry run for the
 * example Redis and the Secret template), the pod templates pass the `restricted` Pod Security admission, and the
 * runbook's Kubernetes steps run with the worker ServiceAccount's own token: all of them succeed, and what the runbook
 * never does is refused. That proves the Role sufficient and no wider.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1Deployment,
  type V1PodTemplateSpec,
  type V1Role,
  type V1StatefulSet,
} from '@kubernetes/client-node';
import { S3_CREDENTIAL_ENV } from '../../activities/backup/s3-store.js';
import { createKubernetesActivities, RESTARTED_AT_ANNOTATION } from '../../activities/kubernetes/index.js';
import { ENV_VARS, readEnvironment } from '../../config/environment.js';
import { loadConfig } from '../../config/runbook-config.js';
import { WEBHOOK_ENV_VARS } from '../../webhook/from-env.js';
import { FAKE_NODE, startKubeApiServer, type KubeApiServer } from '../servers/kube-apiserver.js';
import {
  allManifestFiles,
  kustomizationManifests,
  kustomizationResources,
  readManifestFile,
  serverSideApply,
  type Manifest,
} from './manifests.js';
import { createRedisScenario, eventually, NAMESPACE, REDIS_POD, scenarioLogs, sessionsPod } from './redis-workloads.js';
import { createPressureNode, JOBS_NAMESPACE, PRESSURE_NODE, serveMetricsApi } from './node-scenario.js';
import { serviceAccountToken } from './service-account-token.js';
import { kubeSuiteSkip } from './suite-gate.js';

const RUNBOOK_NAMESPACE = 'redis-runbook';
const SECRET_TEMPLATE = 'secret.example.yaml';
const EXAMPLE_NAMESPACE = 'example-cache';
/** What the PagerDuty notifier and receiver read besides config/environment.ts's ENV_VARS. */
const PAGERDUTY_ENV = [
  'PAGERDUTY_API_TOKEN',
  'PAGERDUTY_FROM_EMAIL',
  'PAGERDUTY_WEBHOOK_SECRET',
  'PAGERDUTY_ACTION_SECRET',
  'PAGERDUTY_ROUTING_KEY',
];

let server: KubeApiServer;
let admin: KubeConfig;
const base = kustomizationManifests('.');
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const REDIS_STS = { kind: 'StatefulSet' as const, name: 'redis', namespace: NAMESPACE };
const exampleRedis = kustomizationManifests('example-redis');

function ofKind(manifests: Manifest[], kind: string): Manifest['object'][] {
  return manifests.filter((m) => m.object.kind === kind).map((m) => m.object);
}

/** A manifest moved from `cache` to `namespace` (the Namespace object renamed). */
function inNamespace(m: Manifest, namespace: string): Manifest {
  const object = structuredClone(m.object);
  if (object.kind === 'Namespace') object.metadata = { ...object.metadata, name: namespace };
  else object.metadata = { ...object.metadata, namespace };
  return { file: m.file, object };
}

/** The pod each workload would create: its template, with the volumes of a StatefulSet's claim templates. */
function podTemplates(): Array<{ name: string; template: V1PodTemplateSpec }> {
  return [...base, ...exampleRedis]
    .filter((m) => m.object.kind === 'Deployment' || m.object.kind === 'StatefulSet')
    .map((m) => {
      const name = m.object.metadata!.name!;
      const template = structuredClone((m.object as V1Deployment).spec!.template);
      for (const claim of (m.object as V1StatefulSet).spec?.volumeClaimTemplates ?? []) {
        const volume = claim.metadata!.name!;
        template.spec!.volumes = [
          ...(template.spec!.volumes ?? []),
          { name: volume, persistentVolumeClaim: { claimName: `${volume}-${name}-0` } },
        ];
      }
      return { name, template };
    });
}

/** The HTTP status a call ends with: 200 when it succeeds. */
async function statusOf(call: Promise<unknown>): Promise<number> {
  try {
    await call;
    return 200;
  } catch (err) {
    if (err instanceof ApiException) return err.code;
    throw err;
  }
}

describe('k8s/ manifests', () => {
  it('every YAML file is listed in a kustomization, except the Secret template', () => {
    const listed = new Set([
      ...kustomizationResources('.'),
      ...kustomizationResources('example-redis'),
      'kustomization.yaml',
      join('example-redis', 'kustomization.yaml'),
    ]);
    const unlisted = allManifestFiles().filter((f) => !listed.has(f));
    assert.deepEqual(unlisted, [SECRET_TEMPLATE]);
  });

  it('the ConfigMap holds a valid RUNBOOK_CONFIG and the containers read the variables config/environment.ts names', async () => {
    const [configMap] = ofKind(base, 'ConfigMap') as Array<{ data?: Record<string, string> }>;
    const dir = await mkdtemp(join(tmpdir(), 'runbook-config-'));
    try {
      const path = join(dir, 'runbook.yaml');
      await writeFile(path, configMap?.data?.['runbook.yaml'] ?? '');
      const cfg = await loadConfig({ RUNBOOK_CONFIG: path });
      assert.deepEqual(
        cfg.targets.map((t) => `${t.namespace}/${t.pod}`),
        ['cache/redis-0'],
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const secretKeys = Object.keys(
      (readManifestFile(SECRET_TEMPLATE)[0]?.object as { stringData?: object }).stringData ?? {},
    ).sort();
    assert.deepEqual(
      secretKeys,
      [
        ...PAGERDUTY_ENV,
        ...S3_CREDENTIAL_ENV,
        'REDIS_PASSWORD',
        'REDIS_USERNAME',
        'RUNBOOK_GATEWAY_SECRET',
        'SLACK_BOT_TOKEN',
        'SLACK_SIGNING_SECRET',
      ].sort(),
    );
    // NODE_OPTIONS: read by Node itself (the worker's heap cap, README "Sizing a worker").
    const known = new Set<string>([
      ...ENV_VARS,
      ...PAGERDUTY_ENV,
      ...WEBHOOK_ENV_VARS,
      ...S3_CREDENTIAL_ENV,
      'NODE_OPTIONS',
    ]);
    for (const { name, template } of podTemplates().filter((t) => t.name.startsWith('redis-runbook'))) {
      for (const env of template.spec?.containers.flatMap((c) => c.env ?? []) ?? []) {
        assert.ok(known.has(env.name), `${name}: ${env.name} is not a variable the runbook reads`);
        const ref = env.valueFrom?.secretKeyRef;
        if (ref) assert.ok(secretKeys.includes(ref.key), `${name}: secret key ${ref.key} is not in the template`);
      }
      assert.ok(
        !template.spec?.containers.some((c) => c.env?.some((e) => e.name === 'KUBECONFIG')),
        `${name}: in a cluster the worker uses its service account, not a kubeconfig`,
      );
    }
  });

  it('the worker is one Deployment per release: its name, version label, selector and build id are the image tag', () => {
    const [kustomization] = readManifestFile('kustomization.yaml');
    const images = (kustomization?.object as { images?: Array<{ name: string; newTag?: string }> }).images ?? [];
    const tag = images.find((i) => i.name === 'redis-runbook')?.newTag;
    assert.ok(tag, 'kustomization.yaml tags the image');
    const worker = (ofKind(base, 'Deployment') as V1Deployment[]).find(
      (d) => d.metadata?.labels?.['app.kubernetes.io/component'] === 'worker',
    )!;
    const env = Object.fromEntries(
      (worker.spec?.template.spec?.containers[0]?.env ?? []).map((e) => [e.name, e.value]),
    );
    assert.equal(worker.metadata?.name, `redis-runbook-worker-${tag}`);
    assert.equal(env.RUNBOOK_BUILD_ID, tag);
    assert.equal(env.RUNBOOK_DEPLOYMENT_NAME, 'redis-runbook');
    assert.equal(env.RUNBOOK_PROMOTE_VERSION, 'false', 'an operator makes a release current, not its pods');
    // Two releases side by side must not adopt each other's pods.
    assert.equal(worker.spec?.selector.matchLabels?.['app.kubernetes.io/version'], tag);
    assert.equal(worker.spec?.template.metadata?.labels?.['app.kubernetes.io/version'], tag);
  });

  it('sizes the worker: Node takes its NODE_OPTIONS, the worker its cache size, and the heap cap is under the limit', () => {
    const worker = (ofKind(base, 'Deployment') as V1Deployment[]).find(
      (d) => d.metadata?.labels?.['app.kubernetes.io/component'] === 'worker',
    )!;
    const container = worker.spec!.template.spec!.containers[0]!;
    const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value]));
    // Node refuses a flag it does not allow in NODE_OPTIONS, so a typo would stop the worker before it starts.
    const node = spawnSync(
      process.execPath,
      ['-e', 'process.stdout.write(String(v8.getHeapStatistics().heap_size_limit))'],
      {
        env: { PATH: process.env.PATH, NODE_OPTIONS: env.NODE_OPTIONS },
        encoding: 'utf8',
      },
    );
    assert.equal(node.status, 0, node.stderr);
    const heapMiB = Number(node.stdout) / 2 ** 20;
    assert.ok(heapMiB < 400, `the heap cap took: ${heapMiB.toFixed(0)} MiB`);
    assert.equal(readEnvironment({ ...env }).capacity.maxCachedWorkflows, 200);
    const limitMiB = Number(/^(\d+)Mi$/.exec(String(container.resources?.limits?.memory))?.[1]);
    // A full heap on top of the ~270 MiB the worker holds idle fits (bench:runs peaked near 440 MiB with these).
    assert.ok(heapMiB + 270 <= limitMiB, `heap cap ${heapMiB.toFixed(0)} MiB + 270 MiB fits in ${limitMiB} MiB`);
  });

  it('the Roles grant exactly the verbs the activities use', () => {
    const grants = (name: string) => {
      const role = (ofKind(base, 'Role') as V1Role[])
        .concat(ofKind(base, 'ClusterRole') as V1Role[])
        .find((r) => r.metadata?.name === name);
      return (role?.rules ?? [])
        .flatMap((r) =>
          (r.resources ?? []).flatMap((res) => (r.verbs ?? []).map((v) => `${r.apiGroups?.[0] || 'core'}/${res}:${v}`)),
        )
        .sort();
    };
    assert.deepEqual(grants('redis-runbook'), [
      'apps/deployments:get',
      'apps/deployments:patch',
      'apps/replicasets:get',
      'apps/statefulsets:get',
      'apps/statefulsets:patch',
      'core/events:list',
      'core/persistentvolumeclaims:get',
      'core/pods/log:get',
      'core/pods:get',
      'core/pods:list',
      'metrics.k8s.io/pods:get',
    ]);
    assert.deepEqual(grants('redis-runbook-nodes'), ['core/nodes:get', 'core/pods:list', 'metrics.k8s.io/nodes:get']);
    assert.deepEqual(grants('redis-runbook-node-events'), ['core/events:list']);
  });
});

describe('k8s/ manifests on a real API server', { skip: kubeSuiteSkip() }, () => {
  before(async () => {
    server = await startKubeApiServer({ logs: scenarioLogs() });
    admin = server.adminConfig();
    // The namespace the Role is for, with a crashed Redis in it (not the example's: that one only validates).
    await createRedisScenario(admin);
  });
  after(async () => {
    await server?.stop();
  });

  it('server-side applies the base (kubectl apply -k k8s/) for real', async () => {
    for (const { file, object } of base) {
      await assert.doesNotReject(serverSideApply(admin, object), `${file}: ${object.kind} ${object.metadata?.name}`);
    }
    const apps = admin.makeApiClient(AppsV1Api);
    const worker = await apps.readNamespacedDeployment({
      name: 'redis-runbook-worker-0.1.0',
      namespace: RUNBOOK_NAMESPACE,
    });
    assert.equal(worker.spec?.template.spec?.serviceAccountName, 'redis-runbook-worker');
    const core = admin.makeApiClient(CoreV1Api);
    const service = await core.readNamespacedService({ name: 'redis-runbook-webhook', namespace: RUNBOOK_NAMESPACE });
    assert.equal(service.spec?.ports?.[0]?.targetPort, 'http');
  });

  it('applies the example Redis (in a namespace of its own) and validates the Secret template (dry run)', async () => {
    // The example lives in `cache`, where this suite's crashed Redis already is: it goes to a namespace of its own.
    for (const { file, object } of exampleRedis.map((m) => inNamespace(m, EXAMPLE_NAMESPACE))) {
      await assert.doesNotReject(serverSideApply(admin, object), `${file}: ${object.kind} ${object.metadata?.name}`);
    }
    // The controller's pod passed the namespace's `restricted` admission for real (it waits for a scheduler here).
    const core = admin.makeApiClient(CoreV1Api);
    const pod = await eventually('the example redis-0 created by the StatefulSet controller', () =>
      core.readNamespacedPod({ name: 'redis-0', namespace: EXAMPLE_NAMESPACE }),
    );
    assert.equal(pod.spec?.containers[0]?.resources?.limits?.['memory'], '2Gi');
    for (const { file, object } of readManifestFile(SECRET_TEMPLATE)) {
      await assert.doesNotReject(serverSideApply(admin, object, { dryRun: true }), file);
    }
    assert.equal(
      await statusOf(core.readNamespacedSecret({ name: 'redis-runbook', namespace: RUNBOOK_NAMESPACE })),
      404,
    );
  });

  it('every pod template passes the restricted Pod Security admission; a non-compliant one is refused', async () => {
    const core = admin.makeApiClient(CoreV1Api);
    const namespace = 'psa-restricted';
    await core.createNamespace({
      body: { metadata: { name: namespace, labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } },
    });
    const dryRunPod = (name: string, template: V1PodTemplateSpec) =>
      core.createNamespacedPod({
        namespace,
        body: { metadata: { name, namespace, labels: template.metadata?.labels }, spec: template.spec! },
        dryRun: 'All',
      });
    for (const { name, template } of podTemplates()) {
      assert.equal(await statusOf(dryRunPod(name, template)), 200, `${name} violates the restricted profile`);
    }
    const [first] = podTemplates();
    const loose = structuredClone(first!.template);
    for (const c of loose.spec!.containers) delete c.securityContext;
    await assert.rejects(dryRunPod('loose', loose), (err) => {
      assert.ok(err instanceof ApiException);
      assert.equal(err.code, 403);
      const { message } = JSON.parse(String(err.body)) as { message: string };
      assert.match(message, /violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false/);
      return true;
    });
  });

  describe('with the worker ServiceAccount token', () => {
    let activities: ReturnType<typeof createKubernetesActivities>;
    let core: CoreV1Api;
    let apps: AppsV1Api;
    before(async () => {
      const token = await serviceAccountToken(admin, RUNBOOK_NAMESPACE, 'redis-runbook-worker');
      const kc = server.configForToken(token, NAMESPACE);
      activities = createKubernetesActivities(kc);
      core = kc.makeApiClient(CoreV1Api);
      apps = kc.makeApiClient(AppsV1Api);
    });

    it('runs every Kubernetes step of the runbook', async () => {
      const described = await activities.describePod({ namespace: NAMESPACE, pod: REDIS_POD });
      assert.equal(described.containers[0]?.lastState?.reason, 'OOMKilled');
      assert.ok(described.events.length > 0, 'events listed');
      const logs = await activities.fetchPreviousLogs({ namespace: NAMESPACE, pod: REDIS_POD });
      assert.equal(logs.available, true, logs.unavailableReason);
      const limits = await activities.checkLimits({ namespace: NAMESPACE, pod: REDIS_POD });
      assert.deepEqual(limits.workload, { kind: 'StatefulSet', name: 'redis', namespace: NAMESPACE });
      const sessions = await eventually('the sessions pod', () => sessionsPod(admin.makeApiClient(CoreV1Api)));
      const viaRs = await activities.checkLimits({ namespace: NAMESPACE, pod: sessions.metadata!.name! });
      assert.deepEqual(viaRs.workload, { kind: 'Deployment', name: 'sessions', namespace: NAMESPACE });
      for (const workload of [limits.workload, viaRs.workload]) {
        const result = await activities.rollingRestart({ workload, restartedAt: 'sa-run:rolling-restart' });
        assert.equal(result.ok, true, result.detail);
      }
      const sts = await admin
        .makeApiClient(AppsV1Api)
        .readNamespacedStatefulSet({ name: 'redis', namespace: NAMESPACE });
      assert.equal(sts.spec?.template.metadata?.annotations?.[RESTARTED_AT_ANNOTATION], 'sa-run:rolling-restart');
      const sample = await activities.podHealth({ namespace: NAMESPACE, pod: REDIS_POD });
      assert.ok(sample.phase !== undefined);
    });

    it('reads the node (conditions, its pods in every namespace, its events, metrics.k8s.io) and the pod’s claims', async () => {
      await serveMetricsApi(admin);
      await createPressureNode(admin);
      const node = await activities.describeNode({ node: PRESSURE_NODE, namespace: NAMESPACE, pod: 'hog' });
      assert.equal(node.conditions.find((c) => c.type === 'MemoryPressure')?.status, 'True');
      assert.equal(node.allocatableMemoryBytes, 4 * GiB);
      assert.ok(!('unavailable' in node.pods), JSON.stringify(node.pods));
      // hog, cache-1 and unbounded hold memory; the evicted pod does not, and is listed as evicted.
      assert.equal(node.pods.count, 3);
      assert.equal(node.pods.memoryLimitsBytes, 5 * GiB);
      assert.equal(node.pods.withoutMemoryLimit, 1);
      assert.equal(node.pods.evicted.count, 1);
      assert.equal(node.pods.evicted.pods[0]?.name, 'evicted-1');
      assert.equal(node.pods.evicted.pods[0]?.namespace, JOBS_NAMESPACE);
      assert.deepEqual(
        node.events.map((e) => [e.reason, e.count]),
        [['SystemOOM', 2]],
      );
      assert.equal(node.eventsUnavailable, undefined);
      assert.deepEqual(node.metrics, {
        available: true,
        nodeBytes: 3891 * MiB,
        podBytes: 2900 * MiB,
        containerBytes: { app: 2900 * MiB },
      });
      // The kwok node has no metrics object: the API answers 404 for it, which the step reports and moves past.
      const kwok = await activities.describeNode({ node: FAKE_NODE, namespace: NAMESPACE, pod: REDIS_POD });
      assert.equal(kwok.conditions.find((c) => c.type === 'Ready')?.status, 'True');
      assert.equal(kwok.metrics.available, false);

      const adminCore = admin.makeApiClient(CoreV1Api);
      for (const name of ['data-redis-0', 'data-redis-1']) {
        await adminCore.createNamespacedPersistentVolumeClaim({
          namespace: NAMESPACE,
          body: {
            metadata: { name },
            spec: {
              accessModes: ['ReadWriteOnce'],
              storageClassName: 'gp3',
              resources: { requests: { storage: '8Gi' } },
            },
          },
        });
      }
      // No volume controller runs: the claim is bound the way the PV binder writes it.
      await adminCore.patchNamespacedPersistentVolumeClaimStatus(
        {
          name: 'data-redis-0',
          namespace: NAMESPACE,
          body: { status: { phase: 'Bound', accessModes: ['ReadWriteOnce'], capacity: { storage: '8Gi' } } },
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      const claims = await activities.describeClaims({
        namespace: NAMESPACE,
        claims: ['data-redis-0', 'data-redis-1', 'data-redis-2'],
      });
      assert.deepEqual(
        claims.map((c) => [c.name, c.phase, c.capacityBytes, c.storageClass]),
        [
          ['data-redis-0', 'Bound', 8 * GiB, 'gp3'],
          ['data-redis-1', 'Pending', undefined, 'gp3'],
          ['data-redis-2', 'Missing', undefined, undefined],
        ],
      );
    });

    it('delays the liveness probe of the StatefulSet’s template, once: a second call changes nothing', async () => {
      const first = await activities.setLivenessDelay({
        workload: REDIS_STS,
        container: 'redis',
        initialDelaySeconds: 40,
      });
      assert.equal(first.ok, true, first.detail);
      assert.match(first.detail, /livenessProbe\.initialDelaySeconds 5 → 40/);
      const adminApps = admin.makeApiClient(AppsV1Api);
      const sts = await adminApps.readNamespacedStatefulSet({ name: 'redis', namespace: NAMESPACE });
      const probe = sts.spec?.template.spec?.containers[0]?.livenessProbe;
      assert.equal(probe?.initialDelaySeconds, 40);
      // The strategic merge kept the rest of the probe as it was.
      assert.deepEqual([probe?.tcpSocket?.port, probe?.periodSeconds, probe?.failureThreshold], [6379, 5, 2]);
      const generation = sts.metadata?.generation;
      const again = await activities.setLivenessDelay({
        workload: REDIS_STS,
        container: 'redis',
        initialDelaySeconds: 40,
      });
      assert.match(again.detail, /already waits 40 s: no change/);
      const after = await adminApps.readNamespacedStatefulSet({ name: 'redis', namespace: NAMESPACE });
      assert.equal(after.metadata?.generation, generation, 'no new revision');
    });

    it('is refused everything else: delete a pod, read or list Secrets, write pods or nodes, the kubelet’s API', async () => {
      const adminCore = admin.makeApiClient(CoreV1Api);
      await adminCore.createNamespacedSecret({
        namespace: NAMESPACE,
        body: { metadata: { name: 'redis-auth' }, stringData: { password: 'p' } },
      });
      const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
      const refused: Array<[string, () => Promise<unknown>]> = [
        ['delete pod', () => core.deleteNamespacedPod({ name: REDIS_POD, namespace: NAMESPACE })],
        ['read secret', () => core.readNamespacedSecret({ name: 'redis-auth', namespace: NAMESPACE })],
        ['list secrets', () => core.listNamespacedSecret({ namespace: NAMESPACE })],
        ['list secrets in every namespace', () => core.listSecretForAllNamespaces()],
        [
          'patch a node',
          () => core.patchNode({ name: FAKE_NODE, body: { metadata: { labels: { x: 'y' } } } }, mergePatch),
        ],
        [
          'the kubelet API through nodes/proxy',
          () => core.connectGetNodeProxyWithPath({ name: FAKE_NODE, path: 'pods' }),
        ],
        ['list nodes', () => core.listNode()],
        ['list events in every namespace', () => core.listEventForAllNamespaces()],
        [
          'patch pod',
          () =>
            core.patchNamespacedPod(
              { name: REDIS_POD, namespace: NAMESPACE, body: { metadata: { labels: { x: 'y' } } } },
              mergePatch,
            ),
        ],
        ['delete statefulset', () => apps.deleteNamespacedStatefulSet({ name: 'redis', namespace: NAMESPACE })],
        ['read a pod in another namespace', () => core.readNamespacedPod({ name: 'x', namespace: RUNBOOK_NAMESPACE })],
        ['list configmaps', () => core.listNamespacedConfigMap({ namespace: NAMESPACE })],
      ];
      for (const [what, call] of refused) assert.equal(await statusOf(call()), 403, what);
      // Still there: nothing above slipped through.
      await adminCore.readNamespacedPod({ name: REDIS_POD, namespace: NAMESPACE });
    });
  });

  it('the webhook ServiceAccount can do nothing in the Redis namespace', async () => {
    const token = await serviceAccountToken(admin, RUNBOOK_NAMESPACE, 'redis-runbook-webhook');
    const core = server.configForToken(token).makeApiClient(CoreV1Api);
    assert.equal(await statusOf(core.readNamespacedPod({ name: REDIS_POD, namespace: NAMESPACE })), 403);
  });
});
