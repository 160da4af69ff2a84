/**
 * Upgrades never break a run: Worker Deployment Versioning with real worker processes on the dev server. A run
 * started on version v1 waits for approval while v2 ships and becomes current; new runs start on v2, and the v1 run
 * finishes on v1 alone: with v1's worker gone it waits (v2's worker, polling the same task queue, never takes it),
 * and it completes once a v1 worker is back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkflowHandle } from '@temporalio/client';
import type { Redis } from 'ioredis';
import { readStatus, sendDecision, startRunbook } from '../../client/index.js';
import type { RedisServer } from '../../local-servers/redis-server.js';
import { installQuietRuntime } from '../../local-servers/temporal.js';
import { lockWorkflowIdFor, type RunbookInput, type RunbookStatus } from '../../workflows/definitions.js';
import { until } from './until.js';
import { killWorker, redisAtItsLimit, startWorkerStack, type WorkerStack } from './worker-stack.js';

installQuietRuntime();

const TASK_QUEUE = 'worker-versions';
const DEPLOYMENT = 'redis-runbook-test';
const PINNED = 1;

describe('worker versions: a run finishes on the version that started it', () => {
  let stack: WorkerStack;
  const redis: Array<{ server: RedisServer; redis: Redis }> = [];

  const version = (buildId: string) => ({
    RUNBOOK_DEPLOYMENT_NAME: DEPLOYMENT,
    RUNBOOK_BUILD_ID: buildId,
    RUNBOOK_PROMOTE_VERSION: 'true',
  });
  const current = async () => {
    const { workerDeploymentInfo } = await stack.temporal.client.workflowService.describeWorkerDeployment({
      namespace: 'default',
      deploymentName: DEPLOYMENT,
    });
    return workerDeploymentInfo?.routingConfig?.currentDeploymentVersion?.buildId ?? undefined;
  };
  const pinnedTo = async (workflowId: string) => {
    const { raw } = await stack.temporal.client.workflow.getHandle(workflowId).describe();
    const info = raw.workflowExecutionInfo?.versioningInfo;
    return { behavior: info?.behavior, buildId: info?.deploymentVersion?.buildId };
  };
  /** The build ids and worker identities that completed the run's workflow tasks, in order. */
  const completedBy = async (h: WorkflowHandle) =>
    ((await h.fetchHistory()).events ?? []).flatMap((e) => {
      const done = e.workflowTaskCompletedEventAttributes;
      return done ? [{ buildId: done.deploymentVersion?.buildId, identity: done.identity }] : [];
    });
  const awaiting = (h: WorkflowHandle) =>
    until(`${h.workflowId} to wait for approval`, async () => {
      const s: RunbookStatus = await readStatus(stack.temporal.client, h, 20_000);
      return s.phase === 'awaiting-approval' ? s : undefined;
    });
  const input = (incidentId: string, server: RedisServer): RunbookInput => ({
    incidentId,
    startedBy: 'pagerduty',
    target: { namespace: 'cache', pod: 'redis-0', container: 'redis', redis: { host: server.host, port: server.port } },
  });
  const approve = (h: WorkflowHandle, planId: string) =>
    sendDecision(stack.temporal.client, h, { decision: 'approve', by: 'sre@example.com', planId, via: 'test' }, 60_000);

  before(async () => {
    stack = await startWorkerStack(TASK_QUEUE, [
      'approval: { approvers: ["sre@example.com"], timeoutSeconds: 600, reminderIntervalSeconds: 0, requireProof: false }',
      'verify: { windowSeconds: 1, intervalSeconds: 1 }',
    ]);
    // Two targets, so that neither run waits for the other's lock.
    redis.push(await redisAtItsLimit(), await redisAtItsLimit());
  });

  after(async () => {
    for (const r of redis) {
      r.redis.disconnect();
      await r.server.stop();
    }
    await stack?.stop();
  });

  it('pins the in-flight run to v1 while new runs start on v2', async () => {
    const v1 = await stack.startWorker(version('v1'));
    await until('v1 to be current', async () => ((await current()) === 'v1' ? true : undefined), 30_000);
    const { client } = stack.temporal;
    const first = client.workflow.getHandle(
      (await startRunbook(client, input('VER-1', redis[0]!.server), { taskQueue: TASK_QUEUE })).workflowId,
    );
    const firstWaiting = await awaiting(first);
    assert.deepEqual(await pinnedTo(first.workflowId), { behavior: PINNED, buildId: 'v1' });

    // v2 ships (same task queue) and becomes current: new runs go there.
    const v2 = await stack.startWorker(version('v2'));
    await until('v2 to be current', async () => ((await current()) === 'v2' ? true : undefined), 30_000);
    const second = client.workflow.getHandle(
      (await startRunbook(client, input('VER-2', redis[1]!.server), { taskQueue: TASK_QUEUE })).workflowId,
    );
    const secondWaiting = await awaiting(second);
    assert.deepEqual(await pinnedTo(second.workflowId), { behavior: PINNED, buildId: 'v2' });
    assert.deepEqual(
      await pinnedTo(lockWorkflowIdFor(input('x', redis[1]!.server).target)),
      { behavior: PINNED, buildId: 'v2' },
      "the second target's coordinator started on v2",
    );

    // v1's worker goes away: the approved v1 run waits for v1, v2's idle worker does not take it.
    await killWorker(v1.child);
    await first.signal('approve', { by: 'sre@example.com', planId: firstWaiting.plan!.id, via: 'test' });
    await sleep(3_000);
    const stalled = await completedBy(first);
    assert.ok(
      stalled.every((t) => t.buildId === 'v1'),
      `only v1 completed the first run's tasks: ${JSON.stringify(stalled)}`,
    );
    assert.equal((await first.describe()).status.name, 'RUNNING');

    // A v1 worker is back (a second replica of the old Deployment, say): the first run finishes there.
    const v1again = await stack.startWorker(version('v1'));
    const firstReport = await first.result();
    await approve(second, secondWaiting.plan!.id);
    const secondReport = await second.result();
    assert.equal(firstReport.outcome, secondReport.outcome);
    assert.notEqual(firstReport.outcome, 'running');

    const firstTasks = await completedBy(first);
    const secondTasks = await completedBy(second);
    assert.ok(
      firstTasks.every((t) => t.buildId === 'v1'),
      JSON.stringify(firstTasks),
    );
    assert.ok(
      secondTasks.every((t) => t.buildId === 'v2'),
      JSON.stringify(secondTasks),
    );
    const by = (w: { child: { pid?: number } }) => `${String(w.child.pid)}@`;
    assert.ok(
      firstTasks.slice(stalled.length).every((t) => t.identity?.startsWith(by(v1again))),
      `the tasks after the approval ran on the restarted v1 worker: ${JSON.stringify(firstTasks)}`,
    );
    assert.ok(
      secondTasks.every((t) => t.identity?.startsWith(by(v2))),
      JSON.stringify(secondTasks),
    );
  });
});
