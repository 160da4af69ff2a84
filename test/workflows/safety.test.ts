/**
 * What keeps a run safe in production, on the time-skipping server: one remediation per target (the lock, linked
 * incidents, the cooldown's circuit breaker), proven decisions, refusals recorded and bounded, cancellation that
 * stops cleanly, and notes told in the order of the events even when the notifier answers out of order.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { parseAllowedSigners } from '../../activities/identity/allowed-signers.js';
import { sendDecision } from '../../client/index.js';
import { DecisionRefusedError } from '../../client/errors.js';
import { sshSigner } from '../../cli/sign.js';
import {
  approveSignal,
  cancelSignal,
  decideUpdate,
  lockStateQuery,
  statusQuery,
  type RunbookStatus,
} from '../../workflows/definitions.js';
import {
  CONTINUE_AFTER_EVENTS,
  MAX_APPROVAL_TIMEOUT_SECONDS,
  MAX_CLEANUP_PATTERNS,
  MAX_CONTINUATIONS,
  MAX_REFUSALS_RECORDED,
  MAX_REMINDERS,
  MAX_VERIFY_ROUNDS,
  MAX_VERIFY_WINDOW_SECONDS,
} from '../../workflows/logic/limits.js';
import { testSettings } from './fixtures.js';
import { Harness, resultWithin, until, waitForPhase, type RunbookHandle } from './harness.js';

const harness = new Harness();
const HISTORIES = fileURLToPath(new URL('../../../test/histories/', import.meta.url));

async function approveWhenAsked(h: RunbookHandle, by = 'alice@example.com'): Promise<void> {
  const s = await waitForPhase(h, 'awaiting-approval');
  await h.executeUpdate(decideUpdate, { args: [{ decision: 'approve', by, planId: s.plan!.id }] });
}

describe('safe in production (time-skipping server)', () => {
  before(() => harness.start());
  after(() => harness.stop());

  it('tells the events in order although the notifier answers out of order', async () => {
    // A refused decision's note takes 800 ms, everything else is instant: unordered, the approval's note would pass it.
    const slow = (e: { type: string; record?: { accepted: boolean } }) =>
      e.type === 'decision' && e.record?.accepted === false ? 800 : 0;
    const { report, recorder } = await harness.run({ notifyDelayMs: slow }, async (h) => {
      const s = await waitForPhase(h, 'awaiting-approval');
      await h.signal(approveSignal, { by: 'mallory@example.com', planId: s.plan!.id });
      await h.signal(approveSignal, { by: 'alice@example.com', planId: s.plan!.id });
    });
    assert.equal(report.outcome, 'resolved');
    const story = recorder.events.map((e) =>
      e.type === 'decision' ? `decision:${e.record.by}:${e.record.accepted}` : e.type,
    );
    assert.deepEqual(story, [
      'started',
      'plan-ready',
      'backup-copied',
      'decision:mallory@example.com:false',
      'decision:alice@example.com:true',
      'finished',
    ]);
  });

  it('keeps the first refusals and only counts the rest, so a flood cannot grow the run', async () => {
    const flood = MAX_REFUSALS_RECORDED + 5;
    const { status, recorder } = await harness.run({}, async (h) => {
      const s = await waitForPhase(h, 'awaiting-approval');
      for (let i = 0; i < flood; i++) await h.signal(approveSignal, { by: `m${i}@example.com`, planId: s.plan!.id });
      await until(h, (st) => (st.refusals?.length ?? 0) + (st.refusalsNotKept ?? 0) === flood);
      await approveWhenAsked(h);
    });
    assert.equal(status.refusals?.length, MAX_REFUSALS_RECORDED);
    assert.equal(status.refusalsNotKept, 5);
    assert.equal(status.refusals?.[0]?.by, 'm0@example.com');
    const notes = recorder.events.filter((e) => e.type === 'decision' && !e.record.accepted);
    assert.equal(notes.length, MAX_REFUSALS_RECORDED, 'a note per kept refusal, none past the bound');
  });

  it('cancel: a running cleanup stops, nothing after it starts, the outcome is cancelled and the incident told', async () => {
    await harness.withWorker({ blockAction: 'expire-stat-keys' }, async ({ start, recorder }) => {
      const h = await start(harness.input());
      await approveWhenAsked(h);
      const actions = () =>
        recorder.named('applyRedisAction').map((a) => (a[0] as { action: { id: string } }).action.id);
      await until(h, () => actions().includes('expire-stat-keys'));
      await h.signal(cancelSignal, { by: 'dave@example.com', reason: 'wrong Redis' });
      const report = await h.result();
      const status = await h.query(statusQuery);
      assert.equal(report.outcome, 'cancelled');
      assert.match(report.summary, /Cancelled by dave@example.com: wrong Redis/);
      assert.equal(actions().at(-1), 'expire-stat-keys', 'no action starts after the cancel');
      const stopped = report.results.at(-1)!;
      assert.equal(stopped.id, 'expire-stat-keys');
      assert.equal(stopped.ok, false);
      assert.match(stopped.detail, /cancelled mid-way: 0 keys touched/);
      assert.equal(recorder.named('actionProgress').length, 0, 'actionProgress is a plain double');
      assert.equal(recorder.named('podHealth').length, 0, 'no verification after a cancel');
      assert.equal(status.cancelled?.by, 'dave@example.com');
      assert.equal(status.outcome, 'cancelled');
      const finished = recorder.events.at(-1);
      assert.equal(finished?.type === 'finished' && finished.report.outcome, 'cancelled');
    });
  });

  it("Temporal's own cancel while awaiting approval: nothing runs, the run completes with outcome cancelled", async () => {
    const { report, recorder } = await harness.run({}, async (h) => {
      await waitForPhase(h, 'awaiting-approval');
      await h.cancel();
    });
    assert.equal(report.outcome, 'cancelled');
    assert.match(report.summary, /Cancelled by Temporal: .*Nothing was changed/);
    assert.equal(recorder.named('applyRedisAction').length, 0);
    assert.equal(recorder.events.at(-1)?.type, 'finished');
  });

  it('one remediation per target: a second incident waits, is linked, re-diagnoses; past the cooldown all needs approval', async () => {
    // A month-long window: the server skips hours of time while the runs wait, and the window must outlast that.
    const settings = testSettings({ cooldown: { maxRemediations: 1, windowSeconds: 30 * 86400 } });
    await harness.withWorker({ settings, stillBroken: true }, async ({ start, recorder }) => {
      const target = harness.input().target;
      const first = await start(harness.input({ target }));
      await new Promise((r) => setTimeout(r, 50));
      const second = await start(harness.input({ target }));
      // Either may win the target: the one that asked first holds it.
      const firstHolds = await until(first, (s) => s.lock?.state === 'held' || s.lock?.state === 'queued');
      const [a, b] = firstHolds.lock?.state === 'held' ? [first, second] : [second, first];
      const aWaiting = await waitForPhase(a, 'awaiting-approval');
      const bQueued = await until(b, (s) => s.lock?.state === 'queued');
      assert.equal(bQueued.lock?.behind?.workflowId, a.workflowId);
      const aLinked = await until(a, (s) => (s.lock?.linked.length ?? 0) > 0);
      assert.deepEqual(
        aLinked.lock?.linked.map((l) => l.workflowId),
        [b.workflowId],
      );
      assert.equal(recorder.named('backupRedis').length, 1, 'only the holder backs up');
      const busy = recorder.events.filter((e) => e.type === 'target-busy' || e.type === 'incident-linked');
      assert.deepEqual(
        // One note on each incident; the two runs tell theirs independently, in either order.
        busy.map((e) => `${e.type} ${e.incidentId}`).sort(),
        [`incident-linked ${aWaiting.incidentId}`, `target-busy ${bQueued.incidentId}`].sort(),
      );

      await approveWhenAsked(a);
      const aReport = await a.result();
      assert.deepEqual(aReport.linkedIncidents, [bQueued.incidentId]);
      // B's turn: fresh evidence, a new plan, and the breaker (1 remediation in the window, limit 1).
      const bWaiting = await waitForPhase(b, 'awaiting-approval');
      assert.match(bWaiting.lock?.breaker ?? '', /1 remediation\(s\) of this target in the last 2592000 s \(limit 1\)/);
      assert.deepEqual(
        bWaiting.awaitingApproval,
        bWaiting.plan!.actions.map((x) => x.id),
        'the safe ones too',
      );
      assert.equal(recorder.named('backupRedis').length, 2, 'B backs up only once A released the target');
      assert.ok(recorder.events.some((e) => e.type === 'breaker-open' && e.incidentId === bWaiting.incidentId));
      assert.equal(recorder.named('describePod').length, 3, 'B diagnosed again once it held the target');
      await b.executeUpdate(decideUpdate, {
        args: [{ decision: 'approve', by: 'alice@example.com', planId: bWaiting.plan!.id, actions: ['memory-purge'] }],
      });
      const bReport = await b.result();
      assert.deepEqual(
        bReport.results.map((r) => r.id),
        ['memory-purge'],
        'with the breaker open only what a person approved runs',
      );

      // A third incident during the cooldown: no wait, and the breaker is open from the start.
      const c = await start(harness.input({ target }));
      const cWaiting = await waitForPhase(c, 'awaiting-approval');
      assert.equal(cWaiting.lock?.behind, undefined);
      // At least one remediation is in the window. Not exactly two: once B completed, the only timer left is the
      // coordinator's wait for A's remediation to expire, and the time-skipping server may jump to it before C asks
      // (the dev-server suite, test/e2e/target-lock.test.ts, checks the exact count in real time).
      assert.match(cWaiting.lock?.breaker ?? '', /[12] remediation\(s\) of this target .*\(limit 1\)/);
      await c.executeUpdate(decideUpdate, {
        args: [{ decision: 'reject', by: 'alice@example.com', reason: 'enough' }],
      });
      assert.equal((await c.result()).outcome, 'rejected');
    });
  });

  describe('with requireProof', () => {
    let dir: string;
    let alice: string;
    let mallory: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'proof-wf-'));
      alice = join(dir, 'alice');
      mallory = join(dir, 'mallory');
      for (const k of [alice, mallory]) execFileSync('ssh-keygen', ['-t', 'ed25519', '-N', '', '-q', '-f', k]);
    });
    after(async () => {
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    /** A policy that requires proofs and knows only Alice's key, and the run's clock to sign at. */
    async function aliceSigns(verify?: { windowSeconds: number; intervalSeconds: number }) {
      const settings = testSettings({ approval: { requireProof: true }, verify });
      const identity = {
        acceptProofs: ['ssh' as const],
        allowedSigners: parseAllowedSigners([`alice@example.com ${await readFile(`${alice}.pub`, 'utf8')}`], 'test'),
        gatewaySecrets: [],
      };
      // The time-skipping server's clock ran ahead in earlier tests: sign at the run's time, as a real clock would.
      const skewMs = (await harness.env.currentTimeMs()) - Date.now();
      return { settings, identity, serverNow: () => new Date(Date.now() + skewMs) };
    }

    it('refuses and records an unsigned and a forged approval, takes a signed one', async () => {
      // A verify window real time covers: refused updates too have left the time-skipping server's time lock held
      // under load (the run then sat in `verifying` with no timer skipped; seen once in a bare-clone CI run).
      const { settings, identity, serverNow } = await aliceSigns({ windowSeconds: 2, intervalSeconds: 1 });
      const { report, status } = await harness.run({ settings, identity }, async (h) => {
        const s = await waitForPhase(h, 'awaiting-approval');
        const approval = { decision: 'approve' as const, by: 'alice@example.com', planId: s.plan!.id, via: 'cli' };
        await assert.rejects(
          h.executeUpdate(decideUpdate, { args: [approval] }),
          (err) => err instanceof WorkflowUpdateFailedError && /unsigned/.test(String(err.cause?.message)),
        );
        await assert.rejects(
          sendDecision(harness.env.client, h, approval, 20_000, { sign: sshSigner(mallory), now: serverNow }),
          (err) =>
            err instanceof DecisionRefusedError && /not an allowed signer for alice@example.com/.test(err.message),
        );
        const record = await sendDecision(harness.env.client, h, approval, 20_000, {
          sign: sshSigner(alice),
          now: serverNow,
        });
        assert.equal(record.accepted, true);
        assert.equal(record.verified?.scheme, 'ssh');
        assert.match(record.verified?.by ?? '', /^SHA256:/);
      });
      assert.equal(report.outcome, 'resolved');
      assert.deepEqual(
        status.refusals?.map((r) => r.refusal?.split(':')[0]),
        ['unsigned', 'key SHA256'],
      );
      assert.equal(status.decisions.length, 1);
      assert.equal(JSON.stringify(status).includes('BEGIN SSH SIGNATURE'), false, 'no signature kept in the status');
    });

    it('a flood of unsigned approvals continues the wait as new: state, lock and deadline cross, a signature still counts', async () => {
      // A verify window short enough for real time. A signal that lands during the task that continues as new can
      // leave the time-skipping server's time lock held (its buffered events take the lock and the closed run never
      // gives it back), and then no timer is skipped for the rest of the suite: seen in CI under load.
      const { settings, identity, serverNow } = await aliceSigns({ windowSeconds: 2, intervalSeconds: 1 });
      let firstRunId = '';
      let workflowId = '';
      let before: RunbookStatus | undefined;
      let flood = 0;
      const { report, status, recorder } = await harness.run({ settings, identity }, async (h) => {
        before = await waitForPhase(h, 'awaiting-approval');
        workflowId = h.workflowId;
        const latest = async () => (await h.describe()).runId;
        firstRunId = await latest();
        // Each refusal costs the signal, its proof check and the tasks around them: the history fills up.
        // Until the history is full, or the run already moved on (the check may come after the hand-over).
        for (;;) {
          const d = await h.describe();
          if (d.runId !== firstRunId || d.historyLength >= CONTINUE_AFTER_EVENTS) break;
          for (let i = 0; i < 25; i++)
            await h.signal(approveSignal, { by: `m${flood++}@example.com`, planId: before.plan!.id });
          assert.ok(flood < 2000, 'the history never filled up');
        }
        const resumed = await until(h, (st) => st.continuedAsNew === 1, 'the wait never continued as new');
        assert.notEqual(await latest(), firstRunId);
        assert.equal(resumed.phase, 'awaiting-approval');
        assert.equal(resumed.continuedAsNew, 1);
        assert.equal(resumed.plan?.id, before.plan?.id);
        assert.equal(resumed.approvalDeadline, before.approvalDeadline, 'the deadline stays where it was');
        assert.equal(resumed.lock?.state, 'held');
        const lock = harness.env.client.workflow.getHandle(resumed.lock.coordinator);
        const now = await latest();
        let held = await lock.query(lockStateQuery);
        // The continued run's first step tells the lock its run id.
        for (let i = 0; i < 100 && held.holder?.currentRunId !== now; i++) {
          await new Promise((r) => setTimeout(r, 50));
          held = await lock.query(lockStateQuery);
        }
        assert.equal(held.holder?.runId, firstRunId, 'the lock knows the run by its chain');
        assert.equal(held.holder?.currentRunId, now, 'and signals its continued run');
        const approval = { decision: 'approve' as const, by: 'alice@example.com', planId: before.plan!.id, via: 'cli' };
        const record = await sendDecision(harness.env.client, h, approval, 20_000, {
          sign: sshSigner(alice),
          now: serverNow,
        });
        assert.equal(record.accepted, true, 'a signature for the chain counts in its continued run');
        await resultWithin(h);
        assert.equal((await lock.query(lockStateQuery)).holder, undefined, 'the chain gave the target back');
        // Released under the chain's id, counted as a remediation (the lock's own count of it may already have
        // expired: time skipping jumps to the coordinator's window timer once the run is done).
        const release = ((await h.fetchHistory()).events ?? []).find(
          (e) => e.signalExternalWorkflowExecutionInitiatedEventAttributes?.signalName === 'releaseLease',
        );
        const payload = release?.signalExternalWorkflowExecutionInitiatedEventAttributes?.input?.payloads?.[0]?.data;
        assert.deepEqual(JSON.parse(Buffer.from(payload!).toString('utf8')), {
          workflowId,
          runId: firstRunId,
          remediated: true,
        });
      });
      assert.equal(report.outcome, 'resolved');
      assert.equal(status.continuedAsNew, 1);
      assert.equal(status.refusals?.length, MAX_REFUSALS_RECORDED);
      assert.equal((status.refusals?.length ?? 0) + (status.refusalsNotKept ?? 0), flood, 'every refusal counted');
      assert.deepEqual(status.findings, before!.findings, 'the evidence crossed');
      assert.equal(recorder.named('backupRedis').length, 1, 'one backup for the whole run');
      assert.equal(recorder.named('diagnoseRedis').length, 2, 'one diagnosis and one verification, none again');
      if (process.env.RECORD_HISTORIES) {
        // The run that continued as new and the one that resumed, for the replay test.
        const handle = (runId?: string) => harness.env.client.workflow.getHandle(workflowId, runId);
        await writeFile(`${HISTORIES}continued.v3.json`, historyToJSON(await handle(firstRunId).fetchHistory()));
        await writeFile(`${HISTORIES}resumed.v3.json`, historyToJSON(await handle().fetchHistory()));
      }
    });
  });
});

/**
 * The worst case a configuration allows, in events: every activity or timer costs its own events plus a workflow
 * task (3) to react to it. Counted from the schema's maxima (`limits.ts`), for one approval wait with escalation per
 * round (the plan's and each continuation's), the longest verify window, every cleanup pattern, two passes of
 * evidence (a run that waited for its target), the refusals kept and a handful of accepted decisions.
 */
function worstCaseEvents(): number {
  const activity = 3 + 3; // scheduled, started, completed + the task that resumes the run
  const timer = 2 + 3;
  const signal = 1 + 3;
  const evidence = (4 + MAX_CLEANUP_PATTERNS) * activity + activity; // four steps, the previews, the plan note
  const wait = 2 * (MAX_REMINDERS * (timer + activity)) + activity; // reminders over two deadlines, the escalation
  const decision = signal + 2 * activity; // the proof's check and the note
  const rounds = 1 + MAX_CONTINUATIONS;
  const actions = 20 + MAX_CLEANUP_PATTERNS;
  return (
    10 + // start, settings, started note, completion
    2 * evidence +
    3 * signal +
    activity + // the lock: ask, grant, queued and linked notices
    activity + // backup
    rounds * (wait + 4 * decision) +
    (MAX_REFUSALS_RECORDED + 5) * decision +
    (actions + rounds) * activity +
    activity +
    MAX_VERIFY_ROUNDS * (timer + activity) +
    2 * activity // report note, release
  );
}

describe('bounded history (time-skipping server)', () => {
  before(() => harness.start());
  after(() => harness.stop());

  it(`the schema's maxima keep a run under 10,000 events, and the longest settings stay within that bound`, async () => {
    const bound = worstCaseEvents();
    console.log(`# worst-case events of one run: ${bound}`);
    assert.ok(bound < 10_000, `worst case ${bound}`);
    const longest = testSettings({
      approval: { timeoutSeconds: MAX_APPROVAL_TIMEOUT_SECONDS, reminderIntervalSeconds: 1, onTimeout: 'escalate' },
      verify: { windowSeconds: MAX_VERIFY_WINDOW_SECONDS, intervalSeconds: 1 },
    });
    let events = 0;
    const timedOut = await harness.run({ settings: longest }, async (h) => {
      await h.result();
      events = (await h.fetchHistory()).events?.length ?? 0;
    });
    const reminders = timedOut.recorder.events.filter((e) => e.type === 'approval-reminder').length;
    assert.equal(timedOut.report.outcome, 'timed-out');
    assert.equal(reminders, 2 * (MAX_REMINDERS - 1), 'reminders stretched to at most MAX_REMINDERS per deadline');
    assert.ok(events < bound, `${events} events`);
    const verified = await harness.run({ settings: longest }, async (h) => {
      await approveWhenAsked(h);
      await h.result();
      events = (await h.fetchHistory()).events?.length ?? 0;
    });
    assert.equal(verified.recorder.named('podHealth').length, MAX_VERIFY_ROUNDS + 1, 'verify rounds capped');
    assert.ok(events < bound, `${events} events`);
    console.log(`# longest settings: ${events} events with approval and the day-long verify window`);
  });
});

describe('compensation (time-skipping server)', () => {
  before(() => harness.start());
  after(() => harness.stop());

  it('after a failed action, offers the previous values as a rollback that runs only once approved', async () => {
    const { report, recorder, status } = await harness.run({ failAction: 'expire-stat-keys' }, async (h) => {
      await approveWhenAsked(h);
      const offered = await until(h, (s) => s.phase === 'awaiting-approval' && s.plan?.id === s.rollback?.id);
      assert.deepEqual(
        offered.rollback?.actions.map((a) => [a.id, a.action]),
        [
          ['rollback-set-maxmemory-policy', { kind: 'set-maxmemory-policy', policy: 'noeviction' }],
          ['rollback-set-maxmemory', { kind: 'set-maxmemory', bytes: 100 * 1024 * 1024 }],
        ],
      );
      await h.executeUpdate(decideUpdate, {
        args: [{ decision: 'approve', by: 'alice@example.com', planId: offered.rollback?.id }],
      });
    });
    assert.equal(report.outcome, 'remediation-failed');
    assert.match(
      report.summary,
      /Rollback plan-[0-9a-f]+: rollback-set-maxmemory-policy done; rollback-set-maxmemory done/,
    );
    const ran = recorder.named('applyRedisAction').map((a) => (a[0] as { action: { id: string } }).action.id);
    assert.deepEqual(ran.slice(-2), ['rollback-set-maxmemory-policy', 'rollback-set-maxmemory']);
    assert.ok(status.results.find((r) => r.id === 'set-maxmemory')?.previous, 'the replaced value is in the report');
    assert.ok(report.rollback);
  });

  it('a rollback nobody approves does not run', async () => {
    const settings = testSettings({ approval: { timeoutSeconds: 600, reminderIntervalSeconds: 0 } });
    const { report, recorder } = await harness.run({ failAction: 'expire-stat-keys', settings }, approveWhenAsked);
    assert.match(report.summary, /A rollback \(plan-[0-9a-f]+\) was offered and not approved/);
    const ran = recorder.named('applyRedisAction').map((a) => (a[0] as { action: { id: string } }).action.id);
    assert.equal(ran.filter((id) => id.startsWith('rollback-')).length, 0);
  });
});
