/**
 * The topology rules the workflow applies: what the status shows, what verification requires of every node (replicas
 * linked and caught up, no failed Cluster node), and how a failover during the run is told.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RedisNode, RedisTopology } from '../../activities/redis/topology.js';
import type { Thresholds } from '../../activities/settings/types.js';
import type { Evidence } from '../../workflows/logic/findings.js';
import { topologyPodRules } from '../../workflows/logic/findings/topology.js';
import { nodePodLine, primaryMoved, topologyProblems, topologyView } from '../../workflows/logic/topology.js';
import { evaluateVerification } from '../../workflows/logic/verify.js';
import { seedPod, seedRedis } from '../workflows/fixtures.js';

const primary: RedisNode = { host: '10.0.0.1', port: 6379, role: 'primary', offset: 1000 };
const replica = (port: number, extra: Partial<RedisNode> = {}): RedisNode => ({
  host: '10.0.0.2',
  port,
  role: 'replica',
  replicaOf: '10.0.0.1:6379',
  linkStatus: 'up',
  lagBytes: 0,
  ...extra,
});
const withTopology = (nodes: RedisNode[], kind: RedisTopology['kind'] = 'sentinel', first = primary) =>
  seedRedis({
    writable: true,
    writeError: undefined,
    topology: { kind, primaries: [{ host: first.host, port: first.port }], nodes, notes: [] },
    scanNote: 'scanned on a replica in sync (10.0.0.2:6380): the primaries were spared',
  });

describe('topology in the run', () => {
  it('the status view counts replicas in sync and says where the scan ran', () => {
    const view = topologyView(withTopology([primary, replica(6380), replica(6381, { linkStatus: 'down' })]));
    assert.deepEqual(view, {
      kind: 'sentinel',
      primaries: ['10.0.0.1:6379'],
      replicas: 2,
      inSync: 1,
      scannedOn: 'scanned on a replica in sync (10.0.0.2:6380): the primaries were spared',
      notes: [],
    });
    assert.equal(topologyView(seedRedis()), undefined, 'a diagnosis without topology (older worker) shows none');
  });

  it('verification fails on a replica whose link is down or that lags, and on a failed Cluster node', () => {
    assert.deepEqual(topologyProblems(withTopology([primary, replica(6380)])), []);
    assert.deepEqual(
      topologyProblems(
        withTopology([
          primary,
          replica(6380, { linkStatus: 'down' }),
          replica(6381, { lagBytes: 5 * 1024 * 1024 }),
          { ...replica(6382), health: 'fail' },
        ]),
      ),
      [
        'replica 10.0.0.2:6380: master_link_status down',
        'replica 10.0.0.2:6381 is 5242880 bytes behind its primary',
        'replica 10.0.0.2:6382 is marked failed in the Cluster',
      ],
    );
    const verdict = evaluateVerification({
      after: withTopology([primary, replica(6380, { linkStatus: 'down' })]),
      findingsBefore: [],
      findingsAfter: [],
      podSamples: [{ phase: 'Running', ready: true, restartCount: 0, at: '2026-12-06T00:00:00Z' }],
    });
    assert.equal(verdict.passed, false);
    assert.deepEqual(verdict.reasons, ['replica 10.0.0.2:6380: master_link_status down']);
  });

  it('a primary that changed between the diagnosis and the verification is a failover', () => {
    const promoted: RedisNode = { ...replica(6380), role: 'primary', replicaOf: undefined };
    const before = withTopology([primary, replica(6380)]);
    const after = withTopology([promoted, { ...primary, role: 'replica' }], 'sentinel', promoted);
    assert.equal(primaryMoved(before, after), '10.0.0.1:6379 → 10.0.0.2:6380');
    assert.equal(primaryMoved(before, before), undefined);
    assert.equal(primaryMoved(seedRedis(), after), undefined, 'no topology before: nothing to compare');
  });
});

describe("the nodes' pods", () => {
  const pod = (node: string, role: 'primary' | 'replica', name: string, extra = {}) => ({
    node,
    role,
    pod: name,
    phase: 'Running',
    ready: true,
    restarts: 0,
    ...extra,
  });
  const ids = (nodePods: Evidence['nodePods']) =>
    topologyPodRules({ pod: seedPod(), nodePods }, {} as Thresholds).map((f) => f.id);

  it('nothing to say when the alerted pod holds the primary and the others are well', () => {
    assert.deepEqual(ids([pod('10.0.0.1:6379', 'primary', 'redis-0'), pod('10.0.0.2:6379', 'replica', 'redis-1')]), []);
  });

  it('the primary in another pod, and another pod OOMKilled or not ready, are findings', () => {
    assert.deepEqual(
      ids([
        pod('10.0.0.1:6379', 'primary', 'redis-1'),
        pod('10.0.0.2:6379', 'replica', 'redis-0'),
        pod('10.0.0.3:6379', 'replica', 'redis-2', { restarts: 2, lastTerminated: 'OOMKilled' }),
      ]),
      ['primary-in-other-pod', 'node-pod-failing'],
    );
    assert.deepEqual(ids([pod('10.0.0.2:6379', 'replica', 'redis-3', { ready: false })]), ['node-pod-failing']);
    assert.equal(
      nodePodLine(pod('10.0.0.3:6379', 'replica', 'redis-2', { restarts: 2, lastTerminated: 'OOMKilled' })),
      'replica 10.0.0.3:6379 in redis-2 (ready, 2 restart(s), last ended OOMKilled)',
    );
    assert.equal(
      nodePodLine({ node: '10.0.0.9:6379', role: 'replica' }),
      'replica 10.0.0.9:6379: no pod of the namespace has this address',
    );
  });
});
