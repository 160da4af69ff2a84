/**
 * The approve path on real topologies, end to end: a dev server, the simulated cluster, a worker process, and
 * (1) a primary at its limit with two replicas and three Sentinels: the run diagnoses on a replica, backs up the
 * primary, waits for approval; a failover is forced while it waits; the approved settings reach every node of the set
 * (the new primary included), verification checks every replica's link, and the run tells of the failover;
 * (2) a three-primary Cluster whose primaries are all at their limit: one merged diagnosis, a snapshot of every shard
 * copied off, the settings on all six nodes, the asked-for cleanup on every primary, each node verified.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Redis } from 'ioredis';
import { readStatus, sendDecision, startRunbook } from '../../client/index.js';
import { installQuietRuntime } from '../../local-servers/temporal.js';
import {
  startRedisCluster,
  startReplicatedSet,
  tagOwners,
  type RedisClusterServers,
  type ReplicatedSet,
} from '../../local-servers/redis-topology.js';
import type { RunbookInput, RunbookReport, RunbookStatus } from '../../workflows/definitions.js';
import { until } from './until.js';
import { capAtUsedMemory, startWorkerStack, type WorkerStack } from './worker-stack.js';

installQuietRuntime();

const TASK_QUEUE = 'topology-e2e';
const TMP_EACH = 400;
const HISTORIES = fileURLToPath(new URL('../../../test/histories/', import.meta.url));
const at = (s: { host: string; port: number }) => `${s.host}:${s.port}`;

describe('the approve path on a Sentinel-managed set and on a Cluster (dev server)', () => {
  let stack: WorkerStack;
  let temporal: TestWorkflowEnvironment;
  let set: ReplicatedSet;
  let cluster: RedisClusterServers;

  /**
   * Starts a run for the demo pod with `redis`, waits for its plan, approves it, returns the report. With
   * RECORD_HISTORIES=1 and `record`, writes the run's history to test/histories/ for the replay test.
   */
  const approvedRun = async (
    incidentId: string,
    redis: RunbookInput['target']['redis'],
    opts: { whileWaiting?: (waiting: RunbookStatus) => Promise<void>; cleanup?: string[]; record?: string },
  ) => {
    const { cleanup, whileWaiting = () => Promise.resolve(), record: recordAs } = opts;
    const input: RunbookInput = {
      incidentId,
      startedBy: 'pagerduty',
      target: { namespace: 'cache', pod: 'redis-0', container: 'redis', redis },
      ...(cleanup && { cleanup }),
    };
    const handle = temporal.client.workflow.getHandle(
      (await startRunbook(temporal.client, input, { taskQueue: TASK_QUEUE })).workflowId,
    );
    const waiting = await until('the plan to wait for approval', async () => {
      const s = await readStatus(temporal.client, handle, 20_000);
      return s.phase === 'awaiting-approval' ? s : undefined;
    });
    await whileWaiting(waiting);
    const record = await sendDecision(
      temporal.client,
      handle,
      { decision: 'approve', by: 'sre@example.com', planId: waiting.plan!.id, via: 'cli' },
      20_000,
    );
    assert.equal(record.accepted, true);
    const report = (await handle.result()) as RunbookReport;
    if (process.env.RECORD_HISTORIES && recordAs)
      await writeFile(`${HISTORIES}${recordAs}.json`, historyToJSON(await handle.fetchHistory()));
    const maxmemory = (waiting.plan!.actions.find((a) => a.id === 'set-maxmemory')?.action as { bytes: number }).bytes;
    return { waiting, report, maxmemory, status: await readStatus(temporal.client, handle, 20_000) };
  };

  before(async () => {
    stack = await startWorkerStack(TASK_QUEUE, [
      'approval: { approvers: ["sre@example.com"], timeoutSeconds: 600, reminderIntervalSeconds: 0, requireProof: false }',
      'verify: { windowSeconds: 2, intervalSeconds: 1 }',
    ]);
    temporal = stack.temporal;
    set = await startReplicatedSet({ replicas: 2, sentinels: 3, node: { enableDebug: true } });
    const primary = new Redis({ host: set.primary.host, port: set.primary.port });
    try {
      // The incident: the primary at its maxmemory under noeviction, so writes fail.
      await primary.call('DEBUG', 'POPULATE', '20000', 'cache:item', '50');
      await primary.call('WAIT', 2, 10_000);
      await capAtUsedMemory(primary);
    } finally {
      primary.disconnect();
    }
    cluster = await startRedisCluster({ primaries: 3, replicasEach: 1 });
    const owners = await tagOwners(cluster, 64);
    for (const [i, p] of cluster.primaries.entries()) {
      const r = new Redis({ host: p.host, port: p.port });
      try {
        const tags = owners.flatMap((o, t) => (o === i ? [t] : []));
        const pipe = r.pipeline();
        for (let k = 0; k < 3000; k++) pipe.set(`cache:{t${tags[k % tags.length]!}}:${k}`, 'x'.repeat(50));
        // What the incident's cleanup asks to remove: keys on every primary.
        for (let k = 0; k < TMP_EACH; k++) pipe.set(`tmp:{t${tags[k % tags.length]!}}:${k}`, 'x'.repeat(50));
        await pipe.exec();
        await r.call('WAIT', 1, 10_000);
        await capAtUsedMemory(r);
      } finally {
        r.disconnect();
      }
    }
    // A pod per node of the set, as a StatefulSet runs them (all on loopback here: the declared port tells them apart):
    // the alert names redis-0, a replica; the primary runs in redis-1; redis-2 was OOMKilled once.
    const alerted = stack.cluster.scenario.pods[0]!;
    const template = structuredClone(alerted);
    const nodes = [set.replicas[0]!, set.primary, set.replicas[1]!];
    stack.cluster.scenario.pods = nodes.map((node, i) => {
      const pod = i === 0 ? alerted : structuredClone(template);
      pod.metadata.name = `redis-${i}`;
      pod.spec.containers[0]!.ports = [{ name: 'redis', containerPort: node.port }];
      if (i === 0) {
        pod.status = { ...pod.status!, podIP: node.host };
        return pod;
      }
      // The others run, ready; redis-2 was OOMKilled once.
      pod.status = {
        phase: 'Running',
        podIP: node.host,
        conditions: [{ type: 'Ready', status: 'True' }],
        containerStatuses: [
          {
            name: 'redis',
            ready: true,
            restartCount: i === 2 ? 1 : 0,
            state: { running: {} },
            ...(i === 2 && { lastState: { terminated: { exitCode: 137, reason: 'OOMKilled' } } }),
          },
        ],
      };
      return pod;
    });
    await stack.startWorker();
  });
  after(async () => {
    await Promise.all([set?.stop(), cluster?.stop()]);
    await stack?.stop();
  });

  const assertSettings = async (node: { host: string; port: number }, maxmemory: number) => {
    const r = new Redis({ host: node.host, port: node.port });
    try {
      assert.equal((await r.config('GET', 'maxmemory'))[1], String(maxmemory), `${at(node)} maxmemory`);
      assert.notEqual((await r.config('GET', 'maxmemory-policy'))[1], 'noeviction', `${at(node)} policy`);
    } finally {
      r.disconnect();
    }
  };

  it('Sentinel: diagnoses on a replica, follows a failover forced while it waits, sets every node, verifies every link', async () => {
    let promoted = at(set.primary);
    const { waiting, report, maxmemory, status } = await approvedRun(
      'TOPO-SENTINEL',
      {
        host: set.primary.host,
        port: set.primary.port,
        sentinel: { masterName: set.masterName, nodes: set.sentinels.map((s) => ({ host: s.host, port: s.port })) },
      },
      {
        record: 'sentinel.v7',
        whileWaiting: async (waiting) => {
          assert.equal(waiting.topology?.kind, 'sentinel');
          assert.deepEqual(waiting.topology?.primaries, [at(set.primary)]);
          assert.equal(waiting.topology?.inSync, 2);
          assert.match(waiting.topology?.scannedOn ?? '', /scanned on a replica in sync/);
          // The Kubernetes side follows the topology: each node's pod, the primary's not the one the alert named.
          const pods = new Map(waiting.topology?.pods?.map((p) => [`${p.role} ${p.node}`, p.pod]));
          assert.deepEqual(
            pods,
            new Map([
              [`primary ${at(set.primary)}`, 'redis-1'],
              [`replica ${at(set.replicas[0]!)}`, 'redis-0'],
              [`replica ${at(set.replicas[1]!)}`, 'redis-2'],
            ]),
          );
          assert.ok(waiting.findings.some((f) => f.id === 'primary-in-other-pod' && /in pod redis-1/.test(f.message)));
          const failing = waiting.findings.find((f) => f.id === 'node-pod-failing');
          assert.match(
            failing?.message ?? '',
            /replica \S+ in redis-2 \(ready, 1 restart\(s\), last ended OOMKilled\)/,
          );
          const sentinel = new Redis({ host: set.sentinels[0]!.host, port: set.sentinels[0]!.port });
          try {
            await sentinel.call('SENTINEL', 'FAILOVER', set.masterName);
            promoted = await until('a new primary', async () => {
              const addr = (await sentinel.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', set.masterName)) as string[];
              const now = `${addr[0]}:${addr[1]}`;
              return now !== at(set.primary) ? now : undefined;
            });
            // Sentinel has done its part once it counts the old primary as a replica (it cannot reconfigure it yet).
            await until('Sentinel to count the old primary as a replica', async () => {
              const replicas = (await sentinel.call('SENTINEL', 'REPLICAS', set.masterName)) as string[][];
              return replicas.some((r) => r.includes(at(set.primary))) ? true : undefined;
            });
          } finally {
            sentinel.disconnect();
          }
          const np = new Redis({ host: promoted.split(':')[0]!, port: Number(promoted.split(':')[1]) });
          try {
            // The other replica follows; the old primary, at its limit, refuses Sentinel's reconfiguration for now.
            await until('the other replica online behind the new primary', async () =>
              ((await np.info('replication')).match(/state=online/g) ?? []).length >= 1 ? true : undefined,
            );
          } finally {
            np.disconnect();
          }
        },
      },
    );
    assert.equal(waiting.backup?.confirmed, true, 'the primary backed up and its copy verified');
    const story = [report.summary, ...report.results.map((r) => `${r.id}: ${r.detail}`)].join('\n');
    assert.equal(report.outcome, 'resolved', story);
    assert.match(report.summary, new RegExp(`failover ${at(set.primary)} → ${promoted}`));
    assert.equal(status.failover, `${at(set.primary)} → ${promoted}`);
    assert.deepEqual(status.topology?.primaries, [promoted]);
    // The old primary, which Sentinel could not turn into a replica while it was at its limit, took the settings
    // too (Sentinel lists it) and rejoined once they freed it.
    const settings = report.results
      .filter((r) => r.id.startsWith('set-maxmemory'))
      .map((r) => r.detail)
      .join('\n');
    assert.match(settings, new RegExp(`on 3 nodes \\(sentinel\\): primary ${promoted}`));
    assert.match(settings, new RegExp(`old primary ${at(set.primary)} rejoined as a replica`));
    for (const node of [set.primary, ...set.replicas]) await assertSettings(node, maxmemory);
  });

  it('Cluster: one merged diagnosis, every shard backed up, the settings on all six nodes, the cleanup on every primary, every node verified', async () => {
    const seed = cluster.primaries[1]!;
    const { waiting, report, maxmemory, status } = await approvedRun(
      'TOPO-CLUSTER',
      { host: seed.host, port: seed.port },
      { cleanup: ['tmp:*'] },
    );
    assert.equal(waiting.topology?.kind, 'cluster');
    assert.equal(waiting.topology?.primaries.length, 3);
    assert.equal(waiting.topology?.inSync, 3);
    assert.ok(
      waiting.findings.some((f) => f.id === 'writes-rejected'),
      'the seed node refuses writes',
    );
    assert.equal(report.outcome, 'resolved', report.summary);
    assert.match(report.results.find((r) => r.id === 'set-maxmemory')?.detail ?? '', /^on 6 nodes \(cluster\)/);
    for (const node of [...cluster.primaries, ...cluster.replicas]) await assertSettings(node, maxmemory);
    assert.equal(status.backup?.shards?.length, 3, 'a snapshot of every shard before the cleanup');
    assert.equal(status.backup?.copy?.shards?.length, 3);
    assert.equal(status.backup?.copy?.verified, true);
    const cleanup = report.results.find((r) => r.id === 'unlink-keys:tmp:*');
    assert.equal(cleanup?.keysTouched, 3 * TMP_EACH, cleanup?.detail);
    for (const p of cluster.primaries) {
      const r = new Redis({ host: p.host, port: p.port });
      try {
        assert.deepEqual(
          (await r.scan('0', 'MATCH', 'tmp:*', 'COUNT', 10_000))[1],
          [],
          `${at(p)} has no tmp:* key left`,
        );
      } finally {
        r.disconnect();
      }
    }
  });
});
