/**
 * The node and storage findings, and what the plan makes of them and of a probe too tight for Redis's load: each
 * rule against evidence that must raise it and evidence that must not.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeDescription } from '../../activities/kubernetes/types.js';
import { deriveFindings, type Evidence, type FindingId } from '../../workflows/logic/findings.js';
import { buildPlan } from '../../workflows/logic/plan.js';
import { GiB, healthyNode, seedLimits, seedPod, seedRedis, testSettings } from '../workflows/fixtures.js';

const MiB = 1024 * 1024;
const thresholds = testSettings().thresholds;

function withNode(change: (n: NodeDescription) => void): Evidence {
  const node = healthyNode();
  change(node);
  return { pod: seedPod(), limits: seedLimits(), node };
}

const condition =
  (type: string, status = 'True') =>
  (n: NodeDescription) => {
    n.conditions = n.conditions.map((c) => (c.type === type ? { ...c, status } : c));
  };
const ids = (e: Evidence) => deriveFindings(e, thresholds).map((f) => f.id);
const only = (prefix: string) => (e: Evidence) => ids(e).filter((id) => id.startsWith(prefix));

void describe('node findings', () => {
  const nodeIds = only('node-');

  void it('a healthy node with live figures raises nothing', () => {
    assert.deepEqual(nodeIds(withNode(() => undefined)), []);
  });

  const cases: Array<[FindingId, (n: NodeDescription) => void]> = [
    ['node-memory-pressure', condition('MemoryPressure')],
    ['node-disk-pressure', condition('DiskPressure')],
    ['node-pid-pressure', condition('PIDPressure')],
    ['node-not-ready', condition('Ready', 'Unknown')],
    [
      'node-oom-events',
      (n) => n.events.push({ type: 'Warning', reason: 'SystemOOM', message: 'System OOM encountered', count: 2 }),
    ],
    [
      'node-evictions',
      (n) => {
        if (!('unavailable' in n.pods))
          n.pods.evicted = { count: 1, pods: [{ namespace: 'a', name: 'b', message: 'm' }] };
      },
    ],
    [
      'node-overcommitted',
      (n) => {
        if (!('unavailable' in n.pods)) n.pods.memoryLimitsBytes = 20 * GiB;
      },
    ],
    ['node-memory-high', (n) => (n.metrics = { available: true, nodeBytes: 15 * GiB })],
    ['node-metrics-unavailable', (n) => (n.metrics = { available: false, reason: 'not served' })],
  ];
  for (const [id, change] of cases) {
    void it(`${id}: raised by its condition alone`, () => {
      assert.deepEqual(nodeIds(withNode(change)), [id]);
    });
  }

  void it('a refused pod list raises no overcommit or eviction finding from figures it does not have', () => {
    assert.deepEqual(nodeIds(withNode((n) => (n.pods = { unavailable: 'not allowed to list pods (HTTP 403)' }))), []);
  });

  void it('a node that could not be described is said, as info; no node at all (old runs) says nothing', () => {
    assert.deepEqual(nodeIds({ nodeError: 'nodes "x" not found' }), ['node-unavailable']);
    assert.deepEqual(nodeIds({ pod: seedPod() }), []);
  });

  void it('the plan says a node under pressure is not fixed by it, and changes no action for it', () => {
    const healthy: Evidence = { ...withNode(() => undefined), redis: seedRedis() };
    const pressed: Evidence = { ...withNode(condition('MemoryPressure')), redis: seedRedis() };
    const a = buildPlan(healthy, deriveFindings(healthy, thresholds), thresholds);
    const b = buildPlan(pressed, deriveFindings(pressed, thresholds), thresholds);
    assert.equal(a.outsideAdvice, undefined);
    assert.match(b.outsideAdvice?.[0] ?? '', /does not fix the node: node-memory-pressure/);
    assert.equal(b.id, a.id, 'same actions, same plan id');
  });
});

void describe('storage findings', () => {
  const base = (): Evidence => ({
    pod: {
      ...seedPod(),
      spec: {
        containers: [
          { name: 'redis', image: 'redis:7.0.15', mounts: [{ volume: 'data', path: '/data', readOnly: false }] },
        ],
        volumes: [{ name: 'data', kind: 'persistentVolumeClaim', claim: 'data-redis-0' }],
      },
    },
    limits: seedLimits(),
    redis: seedRedis({ config: { ...seedRedis().config, dir: '/data' } }),
    claims: [{ name: 'data-redis-0', phase: 'Bound', accessModes: ['ReadWriteOnce'], capacityBytes: 8 * GiB }],
  });
  const storageIds = (e: Evidence) =>
    ids(e).filter((id) =>
      [
        'claims-unavailable',
        'claim-not-bound',
        'claim-resizing',
        'data-volume-read-only',
        'redis-loading',
        'aof-rewrite-stuck',
        'aof-rewrite-failing',
        'fork-cow-exceeds-headroom',
      ].includes(id),
    );
  const persistence = (p: Partial<NonNullable<Evidence['redis']>['persistence']>): Evidence => {
    const e = base();
    e.redis = { ...e.redis!, persistence: { ...e.redis!.persistence, ...p } };
    return e;
  };

  void it('a bound claim, a writable mount and quiet persistence raise nothing', () => {
    assert.deepEqual(storageIds(base()), []);
  });

  void it('a claim that is missing or pending is critical; one resizing is info', () => {
    const e = base();
    e.claims = [
      { name: 'data-redis-0', phase: 'Pending', accessModes: [], storageClass: 'gp3' },
      { name: 'data-redis-1', phase: 'Missing', accessModes: [] },
      { name: 'data-redis-2', phase: 'Bound', accessModes: [], resizing: 'ControllerResizeInProgress' },
    ];
    const found = deriveFindings(e, thresholds).filter((f) => f.id.startsWith('claim-'));
    assert.deepEqual(
      found.map((f) => [f.id, f.severity, f.evidence['claim']]),
      [
        ['claim-not-bound', 'critical', 'data-redis-0'],
        ['claim-not-bound', 'critical', 'data-redis-1'],
        ['claim-resizing', 'info', 'data-redis-2'],
      ],
    );
    assert.match(found[1]!.message, /does not exist/);
  });

  void it('the data directory on a read-only mount (the deepest mount that holds it)', () => {
    const e = base();
    e.pod!.spec!.containers[0]!.mounts = [
      { volume: 'root', path: '/', readOnly: true },
      { volume: 'data', path: '/data', readOnly: false },
    ];
    assert.deepEqual(storageIds(e), [], '/data is writable even under a read-only /');
    e.pod!.spec!.containers[0]!.mounts[1]!.readOnly = true;
    assert.deepEqual(storageIds(e), ['data-volume-read-only']);
  });

  void it('loading, a rewrite stuck past 10 minutes, a failed rewrite', () => {
    assert.deepEqual(storageIds(persistence({ loading: true, loadingEtaSeconds: 30 })), ['redis-loading']);
    assert.deepEqual(storageIds(persistence({ aofRewriteInProgress: true, aofRewriteSeconds: 599 })), []);
    assert.deepEqual(storageIds(persistence({ aofRewriteInProgress: true, aofRewriteSeconds: 900 })), [
      'aof-rewrite-stuck',
    ]);
    assert.deepEqual(storageIds(persistence({ aofLastBgrewriteStatus: 'err' })), ['aof-rewrite-failing']);
  });

  void it('copy-on-write larger than what is left under the limit: the next save (the backup too) can be killed', () => {
    const limit = seedLimits().limits.memoryBytes!;
    const e = persistence({ rdbLastCowBytes: 600 * MiB });
    e.redis = { ...e.redis!, memory: { ...e.redis!.memory, usedMemoryRss: limit - 500 * MiB } };
    assert.deepEqual(storageIds(e), ['fork-cow-exceeds-headroom']);
    e.redis.memory.usedMemoryRss = limit - 700 * MiB;
    assert.deepEqual(storageIds(e), []);
  });
});

void describe('the probe fix in the plan', () => {
  const tight = (redis = true): Evidence => ({
    pod: {
      ...seedPod(),
      spec: {
        containers: [
          {
            name: 'redis',
            image: 'redis:7.0.15',
            liveness: {
              kind: 'tcpSocket',
              initialDelaySeconds: 5,
              periodSeconds: 5,
              timeoutSeconds: 1,
              failureThreshold: 2,
            },
            mounts: [{ volume: 'data', path: '/data', readOnly: false }],
          },
        ],
        volumes: [{ name: 'data', kind: 'persistentVolumeClaim', claim: 'data-redis-0' }],
      },
    },
    limits: seedLimits(),
    logs: { available: true, bytesRead: 1, signals: [], lastLines: [], loadSeconds: 17.5 },
    ...(redis ? { redis: seedRedis() } : { redisError: 'connect ECONNREFUSED' }),
  });

  void it('is an approvable action naming the field and value, last with the other pod-rolling patches', () => {
    const e = tight();
    const plan = buildPlan(e, deriveFindings(e, thresholds), thresholds, { probeAction: true });
    const probe = plan.actions.find((a) => a.id === 'delay-liveness-probe');
    assert.deepEqual(probe?.action, {
      kind: 'set-liveness-delay',
      workload: seedLimits().workload,
      container: 'redis',
      initialDelaySeconds: 35,
    });
    assert.equal(probe?.risk, 'risky');
    assert.equal(probe?.destructive, true, 'it restarts a Redis that holds data: backup first');
    const kinds = plan.actions.map((a) => a.action.kind);
    assert.ok(kinds.indexOf('set-liveness-delay') > kinds.indexOf('config-rewrite'), kinds.join());
  });

  void it('is not destructive when Redis is down anyway (the Kubernetes-only plan)', () => {
    const e = tight(false);
    const plan = buildPlan(e, deriveFindings(e, thresholds), thresholds, { withoutRedis: true, probeAction: true });
    const probe = plan.actions.find((a) => a.id === 'delay-liveness-probe');
    assert.equal(probe?.destructive, false);
  });

  void it('is not offered without the patch (older runs replay the plan they made)', () => {
    const e = tight();
    const plan = buildPlan(e, deriveFindings(e, thresholds), thresholds);
    assert.ok(!plan.actions.some((a) => a.id === 'delay-liveness-probe'));
  });
});
