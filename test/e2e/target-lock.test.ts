/**
 * One remediation per Redis target, with real processes: the dev server, a real `redis-server`, the simulated
 * cluster and a worker process. Two incidents for one target 50 ms apart; the worker is killed with SIGKILL while
 * one run holds the target's lock and the other waits; a new worker takes over. Nothing deadlocks and nothing runs
 * twice: one BGSAVE per run that backed up, the second run's backup only after the first run ended.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Redis } from 'ioredis';
import { commandCalls, parseInfo } from '../../activities/redis/info.js';
import { readStatus, sendDecision, startRunbook } from '../../client/index.js';
import type { RedisServer } from '../../local-servers/redis-server.js';
import { installQuietRuntime } from '../../local-servers/temporal.js';
import { until } from './until.js';
import { killWorker, redisAtItsLimit, startWorkerStack, type WorkerStack } from './worker-stack.js';
import { lockStateQuery, lockWorkflowIdFor, type RunbookStatus } from '../../workflows/definitions.js';
import type { RunbookInput } from '../../workflows/definitions.js';

installQuietRuntime();

const TASK_QUEUE = 'target-lock';

describe('one remediation per target across a SIGKILL of the worker', () => {
  let stack: WorkerStack;
  let temporal: TestWorkflowEnvironment;
  let server: RedisServer;
  let redis: Redis;
  let worker: ChildProcess | undefined;

  const status = (h: WorkflowHandle) => readStatus(temporal.client, h, 20_000);
  /** When `h` gave the target back (its release signal), in ms. */
  const releasedAt = async (h: WorkflowHandle) => {
    const events = (await h.fetchHistory()).events ?? [];
    const e = events.find(
      (x) => x.signalExternalWorkflowExecutionInitiatedEventAttributes?.signalName === 'releaseLease',
    );
    return Number(e!.eventTime!.seconds) * 1000 + Math.floor((e!.eventTime!.nanos ?? 0) / 1e6);
  };

  before(async () => {
    stack = await startWorkerStack(TASK_QUEUE, [
      'approval: { approvers: ["sre@example.com"], timeoutSeconds: 600, reminderIntervalSeconds: 0, requireProof: false }',
      'verify: { windowSeconds: 1, intervalSeconds: 1 }',
      'cooldown: { maxRemediations: 1, windowSeconds: 3600 }',
    ]);
    temporal = stack.temporal;
    ({ server, redis } = await redisAtItsLimit());
    worker = (await stack.startWorker()).child;
  });

  after(async () => {
    redis?.disconnect();
    await server?.stop();
    await stack?.stop();
  });

  it('two incidents 50 ms apart: one holds, one waits linked; kill -9 of the worker; each backs up alone', async () => {
    const input = (incidentId: string): RunbookInput => ({
      incidentId,
      startedBy: 'pagerduty',
      target: {
        namespace: 'cache',
        pod: 'redis-0',
        container: 'redis',
        redis: { host: server.host, port: server.port },
      },
    });
    const first = await startRunbook(temporal.client, input('LOCK-1'), { taskQueue: TASK_QUEUE });
    await sleep(50);
    const second = await startRunbook(temporal.client, input('LOCK-2'), { taskQueue: TASK_QUEUE });
    const handles = [first, second].map((s) => temporal.client.workflow.getHandle(s.workflowId));
    const [holder, waiter] = await until('one run to hold the target and one to wait', async () => {
      const [s1, s2] = await Promise.all(handles.map(status));
      if (s1!.phase === 'awaiting-approval' && s2!.lock?.state === 'queued') return handles;
      if (s2!.phase === 'awaiting-approval' && s1!.lock?.state === 'queued') return [handles[1]!, handles[0]!];
      return undefined;
    });
    const held = await status(holder!);
    const waiting = await status(waiter!);
    assert.equal(waiting.lock?.behind?.workflowId, holder!.workflowId);
    assert.deepEqual(
      (
        await until('the link on the holder', async () =>
          (await status(holder!)).lock?.linked.length ? status(holder!) : undefined,
        )
      ).lock?.linked.map((l) => l.incidentId),
      [waiting.incidentId],
    );
    assert.equal(commandCalls(parseInfo(await redis.info('commandstats')))['bgsave'], 1, 'only the holder backed up');

    // The worker dies while the target is held; a new one takes over, and the lock is still exactly where it was.
    await killWorker(worker!);
    worker = (await stack.startWorker()).child;
    const lock = await temporal.client.workflow.getHandle(lockWorkflowIdFor(input('x').target)).query(lockStateQuery);
    assert.equal(lock.holder?.workflowId, holder!.workflowId);
    assert.deepEqual(
      lock.queue.map((q) => q.workflowId),
      [waiter!.workflowId],
    );

    await sendDecision(
      temporal.client,
      holder!,
      { decision: 'approve', by: 'sre@example.com', planId: held.plan!.id, via: 'test' },
      20_000,
    );
    const holderReport = await holder!.result();
    assert.deepEqual(holderReport.linkedIncidents, [waiting.incidentId]);
    const holderReleased = await releasedAt(holder!);

    // The waiter's turn: it diagnoses again on the fixed Redis and, past the cooldown, asks before anything.
    const after = await until('the waiter to move on', async () => {
      const s = await status(waiter!);
      return ['awaiting-approval', 'done'].includes(s.phase) && s.lock?.state !== 'queued' ? s : undefined;
    });
    if (after.phase === 'awaiting-approval') {
      assert.match(after.lock?.breaker ?? '', /^1 remediation\(s\) of this target .*\(limit 1\)/);
      await sendDecision(
        temporal.client,
        waiter!,
        { decision: 'reject', by: 'sre@example.com', reason: 'fixed by the first run', via: 'test' },
        20_000,
      );
    }
    const waiterReport = await waiter!.result();
    const bgsaves = commandCalls(parseInfo(await redis.info('commandstats')))['bgsave'];
    assert.equal(
      bgsaves,
      1 + (waiterReport.backup ? 1 : 0),
      'one BGSAVE per run that backed up, never a second by the same run',
    );
    if (waiterReport.backup) {
      const history = await waiter!.fetchHistory();
      const backupAt = history.events!.find(
        (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'backupRedis',
      )!.eventTime!;
      assert.ok(
        Number(backupAt.seconds) * 1000 >= holderReleased - 1000,
        "the waiter's backup came after the holder ended",
      );
    }
    console.log(`# holder ${holderReport.outcome}, waiter ${waiterReport.outcome}; BGSAVEs ${bgsaves}`);
    const s: RunbookStatus = await status(waiter!);
    assert.equal(s.lock?.state, 'released');
  });
});
