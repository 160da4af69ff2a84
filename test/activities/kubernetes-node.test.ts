/**
 * The node, storage and probe activities against the simulated cluster with the demo's scenario: what the real client
 * sends and how each answer (a healthy node, a missing metrics API, a refused list, a missing claim) becomes evidence.
 * test/kube/ proves the same calls on a real API server.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KubeConfig } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { createKubernetesActivities } from '../../activities/kubernetes/index.js';
import {
  demoScenarioPath,
  loadScenario,
  startSimulatedCluster,
  type SimulatedCluster,
} from '../../local-servers/simulated-cluster/index.js';
import { RunbookErrorType } from '../../workflows/definitions.js';

const NODE = 'ip-10-42-3-117.eu-west-1.compute.internal';
const Ki = 1024;
const Mi = 1024 * 1024;
const REDIS_STS = { kind: 'StatefulSet' as const, name: 'redis', namespace: 'cache' };

void describe('node, storage and probe activities against the simulated cluster', () => {
  let cluster: SimulatedCluster;
  let k8s: ReturnType<typeof createKubernetesActivities>;

  before(async () => {
    cluster = await startSimulatedCluster(loadScenario(demoScenarioPath('oomkilled-redis')));
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    k8s = createKubernetesActivities(kc);
  });
  after(async () => {
    await cluster.stop();
  });

  void it('describeNode: conditions, allocatable against the pods’ limits, live memory from metrics.k8s.io', async () => {
    const node = await k8s.describeNode({ node: NODE, namespace: 'cache', pod: 'redis-0' });
    assert.equal(node.conditions.find((c) => c.type === 'Ready')?.status, 'True');
    assert.equal(node.conditions.find((c) => c.type === 'MemoryPressure')?.status, 'True');
    assert.equal(node.allocatableMemoryBytes, 15335148 * Ki);
    assert.equal(node.capacityMemoryBytes, 16044780 * Ki);
    assert.ok(!('unavailable' in node.pods));
    assert.equal(node.pods.count, 1);
    assert.equal(node.pods.memoryLimitsBytes, 2048 * Mi);
    assert.equal(node.pods.memoryRequestsBytes, 1024 * Mi);
    assert.deepEqual(node.pods.evicted, { count: 0, pods: [] });
    assert.deepEqual(node.metrics, {
      available: true,
      nodeBytes: 6291456 * Ki,
      podBytes: 1998 * Mi,
      containerBytes: { redis: 1998 * Mi },
    });
    const asked = cluster.requests.map((r) => decodeURIComponent(r.path));
    assert.ok(
      asked.includes('/api/v1/pods?fieldSelector=spec.nodeName=' + NODE),
      'pods listed by node, all namespaces',
    );
    assert.ok(
      asked.includes(
        `/api/v1/namespaces/default/events?fieldSelector=involvedObject.kind=Node,involvedObject.name=${NODE}`,
      ),
      'the node’s events, in default',
    );
  });

  void it('describeNode: evictions and kernel OOM events of the node; pods that ended do not count', async () => {
    const redis = cluster.scenario.pods[0]!;
    cluster.scenario.pods.push({
      ...structuredClone(redis),
      metadata: { name: 'worker-7f9c', namespace: 'jobs' },
      status: { phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: memory.' },
    });
    cluster.scenario.events.push({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${NODE}.oom`, namespace: 'default' },
      involvedObject: { kind: 'Node', name: NODE },
      reason: 'SystemOOM',
      message: 'System OOM encountered, victim process: ruby, pid: 4012',
      type: 'Warning',
      count: 3,
    });
    try {
      const node = await k8s.describeNode({ node: NODE, namespace: 'cache', pod: 'redis-0' });
      assert.ok(!('unavailable' in node.pods));
      assert.equal(node.pods.count, 1, 'the evicted pod holds no memory');
      assert.equal(node.pods.evicted.count, 1);
      assert.deepEqual(node.pods.evicted.pods[0], {
        namespace: 'jobs',
        name: 'worker-7f9c',
        message: 'The node was low on resource: memory.',
      });
      assert.deepEqual(
        node.events.map((e) => [e.reason, e.count]),
        [['SystemOOM', 3]],
      );
    } finally {
      cluster.scenario.pods.pop();
      cluster.scenario.events.pop();
    }
  });

  void it('describeNode: no metrics-server is said, and a refused pod list too; the step still answers', async () => {
    const metrics = cluster.scenario.metrics;
    delete cluster.scenario.metrics;
    cluster.injectFailure({ path: '/api/v1/pods', code: 403, reason: 'Forbidden', message: 'pods is forbidden' });
    try {
      const node = await k8s.describeNode({ node: NODE, namespace: 'cache', pod: 'redis-0' });
      assert.equal(node.metrics.available, false);
      assert.match(!node.metrics.available ? node.metrics.reason : '', /metrics\.k8s\.io API is not served/);
      assert.ok('unavailable' in node.pods);
      assert.match(node.pods.unavailable, /not allowed to list pods \(HTTP 403\): pods is forbidden/);
      assert.equal(node.conditions.length, 4);
    } finally {
      cluster.scenario.metrics = metrics;
    }
  });

  void it('describeNode: a node that is gone is PodNotFound, non-retryable', async () => {
    const err = await k8s.describeNode({ node: 'gone', namespace: 'cache', pod: 'redis-0' }).catch((e: unknown) => e);
    assert.ok(err instanceof ApplicationFailure);
    assert.equal(err.type, RunbookErrorType.PodNotFound);
    assert.equal(err.nonRetryable, true);
    assert.equal(err.message, 'nodes "gone" not found');
  });

  void it('describeClaims: the bound claim with its class and size; a claim that does not exist is Missing', async () => {
    const claims = await k8s.describeClaims({ namespace: 'cache', claims: ['data-redis-0', 'data-redis-9'] });
    assert.deepEqual(claims, [
      {
        name: 'data-redis-0',
        phase: 'Bound',
        requestedBytes: 8 * 1024 * Mi,
        capacityBytes: 8 * 1024 * Mi,
        accessModes: ['ReadWriteOnce'],
        storageClass: 'gp3',
        volumeName: 'pvc-3f9d2a71-5c0e-4b8e-9d61-7a2c4e8b1f05',
      },
      { name: 'data-redis-9', phase: 'Missing', accessModes: [] },
    ]);
  });

  void it('setLivenessDelay: a strategic merge patch of the one field; again, no patch at all', async () => {
    const before = cluster.patches.length;
    const first = await k8s.setLivenessDelay({
      workload: REDIS_STS,
      container: 'redis',
      initialDelaySeconds: 35,
      actionId: 'delay-liveness-probe',
    });
    assert.equal(first.ok, true);
    assert.equal(first.id, 'delay-liveness-probe');
    assert.match(first.detail, /livenessProbe\.initialDelaySeconds 5 → 35/);
    assert.deepEqual(first.previous, { initialDelaySeconds: 5 });
    const patch = cluster.patches.at(-1)!;
    assert.equal(patch.contentType, 'application/strategic-merge-patch+json');
    assert.deepEqual(patch.body, {
      spec: { template: { spec: { containers: [{ name: 'redis', livenessProbe: { initialDelaySeconds: 35 } }] } } },
    });
    const sts = cluster.scenario.statefulSets[0]!;
    const probe = (sts.spec.template.spec.containers[0] as { livenessProbe?: Record<string, unknown> }).livenessProbe;
    assert.deepEqual(probe, {
      tcpSocket: { port: 'redis' },
      initialDelaySeconds: 35,
      periodSeconds: 5,
      failureThreshold: 2,
    });

    const again = await k8s.setLivenessDelay({ workload: REDIS_STS, container: 'redis', initialDelaySeconds: 35 });
    assert.match(again.detail, /already waits 35 s: no change/);
    assert.equal(cluster.patches.length, before + 1, 'the retry patched nothing');
  });

  void it('setLivenessDelay: refuses a container without a probe and a delay out of range', async () => {
    const noProbe = await k8s
      .setLivenessDelay({ workload: REDIS_STS, container: 'nope', initialDelaySeconds: 30 })
      .catch((e: unknown) => e);
    assert.ok(noProbe instanceof ApplicationFailure);
    assert.equal(noProbe.type, RunbookErrorType.InvalidAction);
    for (const bad of [0, -5, 1.5, 7200]) {
      const err = await k8s
        .setLivenessDelay({ workload: REDIS_STS, container: 'redis', initialDelaySeconds: bad })
        .catch((e: unknown) => e);
      assert.ok(err instanceof ApplicationFailure && err.type === RunbookErrorType.InvalidAction, String(bad));
    }
  });
});
