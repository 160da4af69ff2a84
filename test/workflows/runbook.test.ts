/**
 * Workflow logic on the time-skipping test server: deadlines, reminders, refusals, dry run, the verify window and
 * escalation. Activities are doubles here (and only here); the real ones are tested against real servers.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import {
  approveSignal,
  decideUpdate,
  incidentResolvedSignal,
  rejectSignal,
  statusQuery,
} from '../../workflows/definitions.js';
import type { RunbookStatus } from '../../workflows/definitions.js';
import { seedPod, testSettings, verifiedCopy } from './fixtures.js';
import { Harness, until, waitForPhase } from './harness.js';

const harness = new Harness();
const HISTORIES = fileURLToPath(new URL('../../../test/histories/', import.meta.url));
const run = harness.run.bind(harness);

const noDrive = () => Promise.resolve();
const failedBackup = {
  confirmed: false,
  lastSave: 1,
  previousLastSave: 1,
  status: 'err',
  durationMs: 3,
  error: 'MISCONF',
};

describe('redisIncidentRunbook on the time-skipping server', () => {
  before(() => harness.start());
  after(() => harness.stop());

  it('rejects at the approval deadline and reminds while it waits', async () => {
    const { report, recorder } = await run({}, noDrive);
    assert.equal(report.outcome, 'timed-out');
    const reminders = recorder.events.filter((e) => e.type === 'approval-reminder');
    // deadline 3600 s, reminders every 900 s: at 900, 1800 and 2700 s; none at the deadline itself
    assert.equal(reminders.length, 3);
    assert.equal(recorder.named('applyRedisAction').length, 0, 'nothing may run without approval');
    assert.equal(recorder.named('backupRedis').length, 1, 'the backup precedes the approval wait');
  });

  it('escalates once at the deadline when the policy says so, then rejects', async () => {
    const settings = testSettings({ approval: { onTimeout: 'escalate', reminderIntervalSeconds: 0 } });
    const { report, recorder } = await run({ settings }, noDrive);
    assert.equal(report.outcome, 'timed-out');
    assert.equal(recorder.events.filter((e) => e.type === 'approval-escalated').length, 1);
    assert.equal(recorder.events.filter((e) => e.type === 'approval-reminder').length, 0);
  });

  it('refuses a stale plan, a non-allowed approver and self-approval, then takes a valid approval', async () => {
    let refusals: string[] = [];
    const { report, status, recorder } = await run({}, async (h) => {
      const s = await waitForPhase(h, 'awaiting-approval');
      const planId = s.plan!.id;
      await assert.rejects(
        h.executeUpdate(decideUpdate, {
          args: [{ decision: 'approve', by: 'alice@example.com', planId: 'plan-000000000000' }],
        }),
        (err) => {
          assert.ok(err instanceof WorkflowUpdateFailedError);
          assert.match(String((err.cause as Error).message), /stale plan/);
          return true;
        },
      );
      await assert.rejects(
        h.executeUpdate(decideUpdate, { args: [{ decision: 'approve', by: 'mallory@example.com', planId }] }),
        /not on the approvers list|Update failed/,
      );
      await assert.rejects(
        h.executeUpdate(decideUpdate, { args: [{ decision: 'approve', by: 'carol@example.com', planId }] }),
        /Update failed|started this run/,
      );
      // the same refusals through signals: every one, by either path, is recorded in the run
      await h.signal(approveSignal, { by: 'mallory@example.com', planId });
      await h.signal(approveSignal, { by: 'alice@example.com', planId: 'plan-stale' });
      refusals = (await until(h, (st) => (st.refusals?.length ?? 0) >= 5)).refusals!.map((d) => d.refusal ?? '');
      const record = await h.executeUpdate(decideUpdate, {
        args: [{ decision: 'approve', by: 'alice@example.com', planId, via: 'test' }],
      });
      assert.equal(record.accepted, true);
    });
    assert.equal(refusals.length, 5);
    assert.match(refusals[0]!, /stale plan/);
    assert.match(refusals[1]!, /not on the approvers list/);
    assert.match(refusals[2]!, /carol@example.com is not on the approvers list/);
    assert.match(refusals[3]!, /not on the approvers list/);
    assert.match(refusals[4]!, /stale plan/);
    assert.ok(
      status.decisions.every((d) => d.accepted),
      'refusals are kept apart from the decisions',
    );
    const told = recorder.events.flatMap((e) => (e.type === 'decision' && !e.record.accepted ? [e.record.by] : []));
    assert.deepEqual(told, [
      'alice@example.com',
      'mallory@example.com',
      'carol@example.com',
      'mallory@example.com',
      'alice@example.com',
    ]);
    assert.equal(report.outcome, 'resolved');
    assert.equal(report.approvedBy, 'alice@example.com');
    assert.ok(status.decisions.some((d) => d.accepted && d.by === 'alice@example.com'));
    const ran = recorder.named('applyRedisAction').map((a) => (a[0] as { action: { id: string } }).action.id);
    assert.deepEqual(
      ran,
      status.plan!.actions.map((a) => a.id),
    );
  });

  it('an action stopped at its cap asks for its own approval before going further', async () => {
    let continuation: RunbookStatus | undefined;
    const { report, recorder } = await run({ capReachedOnce: 'expire-stat-keys' }, async (h) => {
      const s = await waitForPhase(h, 'awaiting-approval');
      await h.signal(approveSignal, { by: 'alice@example.com', planId: s.plan!.id });
      for (let i = 0; i < 200 && !continuation; i++) {
        const now = await h.query(statusQuery);
        if (now.phase === 'awaiting-approval' && now.plan?.id !== s.plan!.id) continuation = now;
        else await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(continuation, 'the run asks again');
      assert.deepEqual(continuation.awaitingApproval, ['expire-stat-keys+1']);
      await assert.rejects(
        h.executeUpdate(decideUpdate, { args: [{ decision: 'approve', by: 'bob@example.com', planId: s.plan!.id }] }),
        (err: Error) => /stale plan/.test(String((err.cause as Error)?.message)),
      );
      await h.executeUpdate(decideUpdate, {
        args: [{ decision: 'approve', by: 'bob@example.com', planId: continuation.plan!.id }],
      });
    });
    const ran = recorder.named('applyRedisAction').map((a) => (a[0] as { action: { id: string } }).action.id);
    assert.deepEqual(ran, [
      'set-maxmemory',
      'set-maxmemory-policy',
      'expire-stat-keys',
      'expire-stat-keys+1',
      'trim-sidekiq-dead',
      'memory-purge',
      'config-rewrite',
    ]);
    assert.equal(report.outcome, 'resolved');
    assert.equal(report.plan!.actions.length, 6, 'the report keeps the original plan');
  });

  it('raises the memory limit through Kubernetes when the data itself outgrew the container', async () => {
    const { seedRedis, GiB } = await import('./fixtures.js');
    const seed = seedRedis();
    const full = seedRedis({ memory: { ...seed.memory, usedMemory: 1.9 * GiB, maxmemory: 1.95 * GiB } });
    const { report, recorder } = await run({ before: full }, async (h) => {
      const s = await waitForPhase(h, 'awaiting-approval');
      assert.equal(s.plan!.actions.at(-1)!.id, 'raise-memory-limit');
      await h.signal(approveSignal, { by: 'alice@example.com', planId: s.plan!.id });
    });
    const calls = recorder.named('setMemoryLimit') as Array<[{ bytes: number; actionId: string; container: string }]>;
    assert.equal(calls.length, 1);
    assert.equal(calls[0]![0].actionId, 'raise-memory-limit');
    assert.equal(calls[0]![0].container, 'redis');
    assert.ok(calls[0]![0].bytes * 0.75 >= 1.9 * GiB, 'the new limit holds the data with room to spare');
    assert.equal(
      recorder
        .named('applyRedisAction')
        .some((a) => (a[0] as { action: { id: string } }).action.id === 'raise-memory-limit'),
      false,
    );
    assert.equal(report.outcome, 'resolved');
  });

  it('runs only the approved subset (and the safe actions)', async () => {
    const { report, recorder } = await run({}, async (h) => {
      const s = await waitForPhase(h, 'awaiting-approval');
      await h.executeUpdate(decideUpdate, {
        args: [
          {
            decision: 'approve',
            by: 'bob@example.com',
            planId: s.plan!.id,
            actions: ['set-maxmemory', 'set-maxmemory-policy'],
          },
        ],
      });
    });
    const ran = recorder.named('applyRedisAction').map((a) => (a[0] as { action: { id: string } }).action.id);
    assert.deepEqual(ran, ['set-maxmemory', 'set-maxmemory-policy', 'memory-purge']);
    const paced = recorder.named('applyRedisAction').map((a) => (a[0] as { pacing?: { p99TargetMs: number } }).pacing);
    assert.ok(
      paced.every((p) => p?.p99TargetMs === 5),
      'the cleanup latency target comes from the settings',
    );
    assert.equal(report.outcome, 'resolved');
  });

  it('allows self-approval when the policy does not require a second person', async () => {
    const settings = testSettings({ approval: { requireDifferentApprover: false, approvers: ['*'] } });
    const { report } = await run({ settings }, async (h) => {
      const s = await waitForPhase(h, 'awaiting-approval');
      await h.executeUpdate(decideUpdate, {
        args: [{ decision: 'approve', by: 'carol@example.com', planId: s.plan!.id }],
      });
    });
    assert.equal(report.outcome, 'resolved');
  });

  it('stops on rejection without acting', async () => {
    const { report, recorder } = await run({}, async (h) => {
      await waitForPhase(h, 'awaiting-approval');
      await h.signal(rejectSignal, { by: 'bob@example.com', reason: 'doing it by hand' });
    });
    assert.equal(report.outcome, 'rejected');
    assert.match(report.summary, /bob@example.com: doing it by hand/);
    assert.equal(recorder.named('applyRedisAction').length, 0);
  });

  it('dry run stops after the plan: no backup, no approval, no change', async () => {
    const { report, recorder } = await run({}, noDrive, { dryRun: true });
    assert.equal(report.outcome, 'dry-run');
    assert.ok(report.plan && report.plan.actions.length > 0);
    assert.equal(recorder.named('backupRedis').length, 0);
    assert.equal(recorder.named('applyRedisAction').length, 0);
    assert.ok(report.findings.some((f) => f.id === 'noeviction-near-limit'));
  });

  it('copies the confirmed backup off the server before it asks, and tells the incident where it is', async () => {
    let waiting: RunbookStatus | undefined;
    const { recorder } = await run({}, async (h) => {
      waiting = await waitForPhase(h, 'awaiting-approval');
    });
    assert.equal(recorder.named('copyBackup').length, 1);
    assert.equal(waiting?.backup?.confirmed, true);
    assert.match(waiting?.backup?.copy?.path ?? '', /\.rdb$/);
    const order = recorder.events.map((e) => e.type);
    assert.ok(order.indexOf('backup-copied') > order.indexOf('plan-ready'), order.join(' '));
    const told = recorder.events.find((e) => e.type === 'backup-copied');
    assert.equal(told?.type === 'backup-copied' && told.copy?.verified, true);
  });

  for (const [why, copy] of [
    [
      'fails its restore test',
      {
        verified: false,
        restoreTest: { ...verifiedCopy().restoreTest, ok: false, reason: '3 keys loaded, 5 expected' },
      },
    ],
    ['cannot be made', new Error('NOPERM this user has no permissions to run the sync command')],
  ] as const) {
    it(`a copy that ${why} leaves the backup unconfirmed: nothing risky runs without an override`, async () => {
      let waiting: RunbookStatus | undefined;
      const { report, recorder } = await run({ copy }, async (h) => {
        waiting = await waitForPhase(h, 'awaiting-approval');
      });
      assert.equal(waiting?.backup?.confirmed, false);
      assert.match(
        waiting?.backup?.error ?? '',
        copy instanceof Error ? /could not be copied off the server: NOPERM/ : /restore test: 3 keys/,
      );
      assert.equal(report.outcome, 'backup-failed');
      assert.equal(recorder.named('applyRedisAction').length, 0);
      const told = recorder.events.find((e) => e.type === 'backup-copied');
      assert.match(told?.type === 'backup-copied' ? (told.error ?? '') : '', /restore test|copied off/);
    });
  }

  it('Redis unreachable, container OOMKilled: raises the limit from the logged data size, then diagnoses once the pod is up', async () => {
    const loaded = 1536 * 1024 * 1024;
    let waiting: RunbookStatus | undefined;
    let history: Awaited<ReturnType<WorkflowHandle['fetchHistory']>> | undefined;
    const { report, recorder } = await run({ unreachableFirst: true, loadedDataBytes: loaded }, async (h) => {
      waiting = await waitForPhase(h, 'awaiting-approval');
      await h.executeUpdate(decideUpdate, {
        args: [{ decision: 'approve', by: 'alice@example.com', planId: waiting.plan!.id }],
      });
      await h.result();
      history = await h.fetchHistory();
    });
    const raise = waiting!.plan!.actions.find((a) => a.id === 'raise-memory-limit');
    assert.equal(waiting!.plan!.actions.length, 1, 'only what the Kubernetes evidence supports');
    // Twice the 1,536 MiB the last load reported, in 256 MiB steps.
    assert.equal(raise?.action.kind === 'set-memory-limit' && raise.action.bytes, 3072 * 1024 * 1024);
    assert.match(raise?.summary ?? '', /last RDB load reported 1536 MiB/);
    assert.equal(recorder.named('backupRedis').length, 0, 'no backup of a Redis that is down, and none needed');
    assert.equal(recorder.named('setMemoryLimit').length, 1);
    const order = recorder.calls.map((c) => c.name).filter((n) => n === 'podHealth' || n === 'diagnoseRedis');
    assert.equal(order.at(-1), 'diagnoseRedis', 'Redis is diagnosed again after the window saw the pod');
    assert.equal(order.filter((n) => n === 'diagnoseRedis').length, 2);
    assert.equal(report.outcome, 'resolved');
    if (process.env.RECORD_HISTORIES) await writeFile(`${HISTORIES}unreachable.v5.json`, historyToJSON(history!));
  });

  it('Redis unreachable and nothing in Kubernetes to act on: needs-human, with the findings in the note', async () => {
    const pod = { ...seedPod(), containers: seedPod().containers.map((c) => ({ ...c, lastState: undefined })) };
    const { report, recorder } = await run({ unreachableFirst: true, pod }, noDrive);
    assert.equal(report.outcome, 'needs-human');
    assert.match(report.summary, /a person must look.*Redis could not be diagnosed/);
    assert.equal(recorder.named('backupRedis').length, 0);
    const finished = recorder.events.at(-1);
    assert.equal(finished?.type === 'finished' && finished.report.outcome, 'needs-human');
  });

  it('a failed backup blocks every risky action until the deadline', async () => {
    const { report, recorder } = await run({ backup: failedBackup }, noDrive);
    assert.equal(report.outcome, 'backup-failed');
    assert.equal(recorder.named('applyRedisAction').length, 0);
  });

  it('without a backup, only an override by two different approvers lets actions run', async () => {
    let afterFirst: RunbookStatus | undefined;
    const { report, recorder, status } = await run({ backup: failedBackup }, async (h) => {
      const s = await waitForPhase(h, 'awaiting-approval');
      const planId = s.plan!.id;
      const approve = (by: string, extra: object = {}) =>
        h.executeUpdate(decideUpdate, { args: [{ decision: 'approve', by, planId, ...extra }] });
      await assert.rejects(approve('alice@example.com'), (err: Error) =>
        /no confirmed backup/.test(String((err.cause as Error)?.message)),
      );
      const first = await approve('alice@example.com', { overrideBackup: true, actions: ['set-maxmemory'] });
      assert.equal(first.awaitingSecondApprover, true);
      afterFirst = await h.query(statusQuery);
      await assert.rejects(approve('alice@example.com', { overrideBackup: true }), (err: Error) =>
        /second approver/.test(String((err.cause as Error)?.message)),
      );
      await assert.rejects(
        approve('bob@example.com', { overrideBackup: true, actions: ['set-maxmemory', 'expire-stat-keys'] }),
        (err: Error) => /did not approve expire-stat-keys/.test(String((err.cause as Error)?.message)),
      );
      const second = await approve('bob@example.com', { overrideBackup: true });
      assert.deepEqual(second.actions, ['set-maxmemory']);
    });
    assert.equal(afterFirst?.phase, 'awaiting-approval', 'one approver is not enough');
    const ran = recorder.named('applyRedisAction').map((a) => (a[0] as { action: { id: string } }).action.id);
    assert.deepEqual(ran, ['set-maxmemory', 'memory-purge']);
    assert.equal(report.outcome, 'resolved');
    assert.deepEqual(
      status.decisions
        .filter((d) => d.accepted)
        .map((d) => [d.by, d.overrideBackup, d.awaitingSecondApprover ?? false]),
      [
        ['alice@example.com', true, true],
        ['bob@example.com', true, false],
      ],
    );
  });

  it('watches the pod over the verify window and escalates when it restarts', async () => {
    const approveAll = async (h: WorkflowHandle) => {
      const s = await waitForPhase(h, 'awaiting-approval');
      await h.signal(approveSignal, { by: 'alice@example.com', planId: s.plan!.id });
    };
    const ok = await run({}, approveAll);
    assert.equal(ok.report.outcome, 'resolved');
    // 300 s window sampled every 30 s: the first sample and ten more
    assert.equal(ok.recorder.named('podHealth').length, 11);
    assert.ok(ok.report.after && ok.report.after.writable === 'yes');

    const restarted = await run({ restartCounts: [14, 14, 15] }, approveAll);
    assert.equal(restarted.report.outcome, 'verification-failed');
    assert.match(restarted.report.verification!.reasons.join(' '), /restarted 1 time/);
    assert.ok(restarted.recorder.events.some((e) => e.type === 'finished'));
  });

  it('fails verification when writes still fail, without looping', async () => {
    const { fixedRedis } = await import('./fixtures.js');
    const stillBroken = { ...fixedRedis(), writable: false, writeError: 'OOM command not allowed' };
    const { report, recorder } = await run({ after: stillBroken }, async (h) => {
      const s = await waitForPhase(h, 'awaiting-approval');
      await h.signal(approveSignal, { by: 'alice@example.com', planId: s.plan!.id });
    });
    assert.equal(report.outcome, 'verification-failed');
    assert.equal(recorder.named('diagnoseRedis').length, 2, 'one diagnosis before, one after: no retry loop');
  });

  it('stops without acting when the incident is resolved while waiting', async () => {
    const { report, recorder } = await run({}, async (h) => {
      await waitForPhase(h, 'awaiting-approval');
      await h.signal(incidentResolvedSignal, { by: 'pagerduty', reason: 'resolved in PagerDuty' });
    });
    assert.equal(report.outcome, 'incident-resolved');
    assert.equal(recorder.named('applyRedisAction').length, 0);
  });
});
