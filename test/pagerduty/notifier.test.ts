/**
 * The PagerDuty notifier and client against the stand-in, which validates every request against PagerDuty's
 * OpenAPI document: notes, acknowledge, resolve only when allowed, retries on 429 (honouring Retry-After) and 500,
 * none on 400, and no second note when an activity is retried; the change events of a finished run (Events API v2),
 * sent once before its note.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import {
  ChangeEvents,
  PagerDutyClient,
  PagerDutyError,
  PagerDutyNotifier,
  retryAfterMs,
} from '../../activities/pagerduty/index.js';
import type { RunbookEvent } from '../../activities/notify/events.js';
import type { RunbookReport } from '../../workflows/definitions.js';
import { planReadyEvent } from '../plan-ready.js';
import { startPagerDutyStandIn, type PagerDutyStandIn } from '../../local-servers/pagerduty/standin.js';

const FAST = { baseDelayMs: 20, maxDelayMs: 100, pdjsRetryTimeoutMs: 10, budgetMs: 5000, maxRetryAfterMs: 3000 };
const UI = 'http://localhost:8233/namespaces/default/workflows/redis-runbook-Q1/run-1/history';
const target = { namespace: 'cache', pod: 'redis-0', container: 'redis', redis: { host: '10.0.0.5', port: 6379 } };

let pd: PagerDutyStandIn;
let seq = 0;

function notifier(opts: { acknowledgeOnStart?: boolean; resolveOnSuccess?: boolean; token?: string } = {}) {
  return new PagerDutyNotifier({
    token: opts.token ?? pd.token,
    fromEmail: 'runbook-bot@example.com',
    apiUrl: pd.url,
    retry: FAST,
    ...opts,
  });
}

function incident(): string {
  const id = `QNOTIFY${++seq}`;
  pd.addIncident({ id, title: 'Redis OOMKilled' });
  return id;
}

function report(outcome: RunbookReport['outcome']): RunbookReport {
  return {
    incidentId: 'x',
    outcome,
    summary: outcome === 'resolved' ? 'Ran set-maxmemory-policy; verified.' : 'Rejected.',
    findings: [],
    decisions: [],
    results: [],
    before: { usedMemory: 2 * 1024 ** 3, maxmemoryPolicy: 'noeviction', writable: 'no' },
    after: { usedMemory: 1024 ** 3, maxmemoryPolicy: 'volatile-lru', writable: 'yes' },
    uiUrl: UI,
  };
}

/** Runs `notify` inside an activity context, as the worker does: the marker is the run and the activity id. */
function inActivity(n: PagerDutyNotifier, event: RunbookEvent, activityId: string, attempt = 1) {
  const env = new MockActivityEnvironment({
    activityId,
    attempt,
    workflowExecution: { workflowId: 'redis-runbook-Q', runId: 'run-1' },
  });
  return env.run(() => n.notify(event));
}

describe('PagerDuty notifier against the OpenAPI-validating stand-in', () => {
  before(async () => {
    pd = await startPagerDutyStandIn();
  });
  afterEach(() => pd.assertAllValid());
  after(async () => {
    await pd?.stop();
  });

  it('on start: a note with the run link, and acknowledges the incident', async () => {
    const id = incident();
    await notifier().notify({ type: 'started', incidentId: id, uiUrl: UI, target });
    const inc = pd.incident(id)!;
    assert.equal(inc.status, 'acknowledged');
    assert.equal(inc.notes.length, 1);
    assert.match(inc.notes[0]!.content, /cache\/redis-0/);
    assert.ok(inc.notes[0]!.content.includes(UI));
    const writes = pd.requests.filter((r) => r.path.startsWith(`/incidents/${id}`) && r.method !== 'GET');
    assert.deepEqual(
      writes.map((r) => r.operationId),
      ['createIncidentNote', 'updateIncident'],
    );
    for (const w of writes) assert.equal(w.headers.from, 'runbook-bot@example.com');
  });

  it('does not acknowledge when configured not to, nor reopen a resolved incident', async () => {
    const id = incident();
    await notifier({ acknowledgeOnStart: false }).notify({ type: 'started', incidentId: id, uiUrl: UI, target });
    assert.equal(pd.incident(id)!.status, 'triggered');
    pd.incident(id)!.status = 'resolved';
    await notifier().notify({ type: 'started', incidentId: id, uiUrl: UI, target: { ...target, pod: 'redis-1' } });
    assert.equal(pd.incident(id)!.status, 'resolved', 'acknowledging a resolved incident would reopen it');
  });

  it('plan-ready: findings, the plan, what needs approval and how to approve, in a short note', async () => {
    const id = incident();
    await notifier().notify(
      planReadyEvent({
        incidentId: id,
        uiUrl: UI,
        planId: 'plan-abc123',
        findings: [
          {
            id: 'noeviction-near-limit',
            severity: 'critical',
            message: 'noeviction at 99% of maxmemory',
            evidence: {},
          },
        ],
      }),
    );
    const note = pd.incident(id)!.notes[0]!.content;
    assert.match(note, /CRITICAL: noeviction at 99%/);
    assert.match(note, /set-maxmemory-policy \(risky, needs approval\)/);
    assert.match(note, /memory-purge \(safe, runs without approval\)/);
    assert.match(note, /runbook approve .* --plan plan-abc123/);
    assert.ok(note.length < 1500);
  });

  it('decision: who decided, through what', async () => {
    const id = incident();
    await notifier().notify({
      type: 'decision',
      incidentId: id,
      uiUrl: UI,
      record: {
        decision: 'approve',
        by: 'oncall@example.com',
        via: 'pagerduty',
        at: 'now',
        accepted: true,
        actions: ['a'],
      },
    });
    assert.match(pd.incident(id)!.notes[0]!.content, /Approval by oncall@example\.com via pagerduty accepted \(a\)/);
  });

  it('finished: before/after figures; resolves only a verified fix, and only when allowed', async () => {
    const resolved = incident();
    await notifier({ resolveOnSuccess: true }).notify({
      type: 'finished',
      incidentId: resolved,
      uiUrl: UI,
      report: report('resolved'),
    });
    assert.equal(pd.incident(resolved)!.status, 'resolved');
    assert.match(pd.incident(resolved)!.notes[0]!.content, /usedMemory: 2048 MiB → 1024 MiB/);
    assert.match(pd.incident(resolved)!.notes[0]!.content, /maxmemoryPolicy: noeviction → volatile-lru/);

    const notAllowed = incident();
    await notifier({ resolveOnSuccess: false }).notify({
      type: 'finished',
      incidentId: notAllowed,
      uiUrl: UI,
      report: report('resolved'),
    });
    assert.equal(pd.incident(notAllowed)!.status, 'triggered');

    const rejected = incident();
    await notifier({ resolveOnSuccess: true }).notify({
      type: 'finished',
      incidentId: rejected,
      uiUrl: UI,
      report: report('rejected'),
    });
    assert.equal(pd.incident(rejected)!.status, 'triggered');
  });

  it('a retried activity does not post the same note twice; another notify call of the run does', async () => {
    const id = incident();
    const n = notifier({ acknowledgeOnStart: false });
    const event: RunbookEvent = { type: 'approval-reminder', incidentId: id, uiUrl: UI, planId: 'p', deadline: 'd' };
    await inActivity(n, event, '7', 1);
    await inActivity(n, event, '7', 2);
    assert.equal(pd.incident(id)!.notes.length, 1);
    assert.match(pd.incident(id)!.notes[0]!.content, /\[redis-runbook approval-reminder run-1#7\]/);
    // The next reminder has the same content but is another call: it is posted.
    await inActivity(n, event, '9', 1);
    assert.equal(pd.incident(id)!.notes.length, 2);
  });

  it('retries 429 until it passes, waiting as long as Retry-After asks', async () => {
    const id = incident();
    // pdjs itself retries a 429 three times; the fifth answer is the client's own retry after Retry-After.
    pd.failNext(5, 429, { retryAfterSeconds: 1, path: new RegExp(`/incidents/${id}/notes$`) });
    const t0 = performance.now();
    await notifier({ acknowledgeOnStart: false }).notify({ type: 'started', incidentId: id, uiUrl: UI, target });
    const waited = performance.now() - t0;
    assert.equal(pd.incident(id)!.notes.length, 1);
    assert.ok(waited >= 1000, `waited ${Math.round(waited)} ms, Retry-After asked for 1 s`);
    const statuses = pd.requests.filter((r) => r.path === `/incidents/${id}/notes`).map((r) => r.status);
    assert.deepEqual(statuses.slice(0, 5), [429, 429, 429, 429, 429]);
  });

  it('retries 500 with back-off', async () => {
    const id = incident();
    pd.failNext(2, 500, { path: new RegExp(`/incidents/${id}/notes$`) });
    await notifier({ acknowledgeOnStart: false }).notify({ type: 'started', incidentId: id, uiUrl: UI, target });
    assert.equal(pd.incident(id)!.notes.length, 1);
  });

  it('gives up after its bounded retries with a non-retryable failure the run records', async () => {
    const id = incident();
    pd.failNext(50, 500, { path: new RegExp(`/incidents/${id}/`) });
    const n = new PagerDutyNotifier({
      token: pd.token,
      fromEmail: 'runbook-bot@example.com',
      apiUrl: pd.url,
      retry: { ...FAST, maxAttempts: 3 },
    });
    await assert.rejects(n.notify({ type: 'started', incidentId: id, uiUrl: UI, target }), (err) => {
      assert.ok(err instanceof ApplicationFailure);
      assert.equal(err.type, 'PagerDutyUnavailable');
      assert.equal(err.nonRetryable, true);
      assert.match(err.message, /500 .*gave up after 3 attempt/);
      return true;
    });
    assert.equal(pd.requests.filter((r) => r.path === `/incidents/${id}/notes`).length, 3);
  });

  it('does not retry a 400, and never puts the token in an error', async () => {
    const id = incident();
    pd.failNext(1, 400, { path: new RegExp(`/incidents/${id}/notes$`) });
    const before = pd.requests.length;
    await assert.rejects(notifier().notify({ type: 'started', incidentId: id, uiUrl: UI, target }), (err) => {
      assert.ok(err instanceof ApplicationFailure);
      assert.equal(err.type, 'PagerDutyRejected');
      assert.ok(!JSON.stringify({ m: err.message, c: String(err.cause) }).includes(pd.token));
      return true;
    });
    assert.equal(pd.requests.length - before, 1);

    await assert.rejects(
      notifier({ token: 'wrong-token' }).notify({ type: 'started', incidentId: id, uiUrl: UI, target }),
      (err) => {
        assert.ok(err instanceof ApplicationFailure);
        assert.match(err.message, /401/);
        assert.ok(!err.message.includes('wrong-token'));
        return true;
      },
    );
  });

  it('a 429 asking for longer than the client may wait ends the call at once', async () => {
    const id = incident();
    pd.failNext(4, 429, { retryAfterSeconds: 60, path: new RegExp(`/incidents/${id}/notes$`) });
    const client = new PagerDutyClient({
      token: pd.token,
      fromEmail: 'runbook-bot@example.com',
      apiUrl: pd.url,
      retry: FAST,
    });
    await assert.rejects(client.listNotes(id), (err) => {
      assert.ok(err instanceof PagerDutyError);
      assert.equal(err.retryable, true);
      assert.match(err.message, /rate limited for 60 s/);
      return true;
    });
  });

  it('reads users and alerts for routing and approvals', async () => {
    pd.addUser({ id: 'PUSER01', email: 'oncall@example.com', name: 'On Call' });
    const id = `QALERTS${++seq}`;
    pd.addIncident({ id, alerts: [{ namespace: 'cache', pod: 'redis-0' }] });
    const client = new PagerDutyClient({
      token: pd.token,
      fromEmail: 'runbook-bot@example.com',
      apiUrl: pd.url,
      retry: FAST,
    });
    assert.equal(await client.getUserEmail('PUSER01'), 'oncall@example.com');
    const alerts = await client.getIncidentAlerts(id);
    assert.deepEqual(alerts[0]!.body?.details, { namespace: 'cache', pod: 'redis-0' });
    await assert.rejects(client.getUserEmail('PNOBODY'), (err) => err instanceof PagerDutyError && err.status === 404);
  });
  it('finished: a change event per change made, before the note; a retry that finds the note sends none', async () => {
    const id = incident();
    const changes = new ChangeEvents({ routingKey: pd.routingKey, eventsUrl: pd.url, baseDelayMs: 10 });
    const n = new PagerDutyNotifier({
      token: pd.token,
      fromEmail: 'runbook-bot@example.com',
      apiUrl: pd.url,
      retry: FAST,
      changeEvents: changes,
    });
    const done: RunbookReport = {
      ...report('resolved'),
      incidentId: id,
      approvedBy: 'oncall@example.com',
      results: [
        {
          id: 'set-maxmemory-policy',
          ok: true,
          detail: 'maxmemory-policy noeviction → volatile-lru',
          previous: { 'maxmemory-policy': 'noeviction' },
        },
        { id: 'cleanup-sess-tmp', ok: true, detail: 'UNLINKed 1200 keys', keysTouched: 1200, bytesFreed: 96000 },
        { id: 'memory-purge', ok: false, detail: 'ERR unknown command' },
        { id: 'cleanup-sess-tmp+1', ok: true, detail: 'not approved: stopped at the cap' },
      ],
    };
    const before = pd.changeEvents.length;
    // The stand-in fails the first change event once: it is retried, not lost.
    pd.failNext(1, 500, { path: /^\/v2\/change\/enqueue$/ });
    await inActivity(n, { type: 'finished', incidentId: id, uiUrl: UI, report: done }, 'act-9');
    const sent = pd.changeEvents.slice(before);
    assert.deepEqual(
      sent.map((e) => e.payload.summary),
      [
        'redis-runbook set-maxmemory-policy: maxmemory-policy noeviction → volatile-lru',
        'redis-runbook cleanup-sess-tmp: UNLINKed 1200 keys',
      ],
      'the changes that were made, not the failed one nor the stop at the cap',
    );
    assert.deepEqual(sent[1]!.payload.custom_details, {
      incident: id,
      action: 'cleanup-sess-tmp',
      approvedBy: 'oncall@example.com',
      outcome: 'resolved',
      keysTouched: 1200,
      bytesFreed: 96000,
    });
    assert.deepEqual(sent[0]!.links, [{ href: UI, text: 'The run in the Temporal UI' }]);
    const changeRequests = pd.requests.filter((r) => r.path === '/v2/change/enqueue');
    assert.ok(
      changeRequests.every((r) => r.headers.authorization === undefined),
      'no REST token to the Events API',
    );
    // The activity retried after its note went out: the note says the changes went out too.
    await inActivity(n, { type: 'finished', incidentId: id, uiUrl: UI, report: done }, 'act-9', 2);
    assert.equal(pd.changeEvents.length, before + 2);
    assert.equal(pd.incident(id)!.notes.length, 1);
  });

  it('a change event PagerDuty refuses (a wrong routing key) fails at once, without retries', async () => {
    const changes = new ChangeEvents({ routingKey: 'x'.repeat(32), eventsUrl: pd.url, baseDelayMs: 10 });
    const before = pd.requests.length;
    await assert.rejects(
      changes.send({ routing_key: 'x'.repeat(32), payload: { summary: 's', timestamp: new Date().toISOString() } }),
      (err) =>
        err instanceof PagerDutyError &&
        !err.retryable &&
        /400 Event object is invalid: unknown routing_key/.test(err.message),
    );
    assert.equal(pd.requests.length, before + 1);
  });

  it('finished: one status update to the incident’s subscribers; none again on a retry; none where the account has none', async () => {
    const id = incident();
    const n = notifier();
    const event: RunbookEvent = { type: 'finished', incidentId: id, uiUrl: UI, report: report('resolved') };
    await inActivity(n, event, 'act-s1');
    await inActivity(n, event, 'act-s1', 2);
    const updates = pd.incident(id)!.statusUpdates;
    assert.equal(updates.length, 1);
    assert.match(updates[0]!, /^Redis runbook finished: resolved\. Ran set-maxmemory-policy; verified\. http/);
    assert.match(pd.incident(id)!.notes[0]!.content, /Status update sent/);
    const plain = incident();
    pd.abilities.statusUpdates = false;
    try {
      await inActivity(n, { ...event, incidentId: plain }, 'act-s2');
    } finally {
      pd.abilities.statusUpdates = true;
    }
    assert.equal(pd.incident(plain)!.statusUpdates.length, 0);
    assert.equal(pd.incident(plain)!.notes.length, 1, 'the note still went out');
    assert.doesNotMatch(pd.incident(plain)!.notes[0]!.content, /Status update sent/);
  });

  it('responder requests: the second approver for a held override, the approvers once as the deadline nears', async () => {
    const id = incident();
    const now = new Date('2026-12-03T10:00:00Z');
    const n = new PagerDutyNotifier({
      token: pd.token,
      fromEmail: 'runbook-bot@example.com',
      apiUrl: pd.url,
      retry: FAST,
      now: () => now,
      responders: {
        requesterId: 'PBOT001',
        secondApprover: [{ type: 'escalation_policy', id: 'PESC002' }],
        approvers: [{ type: 'user', id: 'PLEAD01' }],
        nearDeadlineSeconds: 900,
      },
    });
    const record = {
      decision: 'approve' as const,
      by: 'oncall@example.com',
      planId: 'plan-b7',
      at: now.toISOString(),
      accepted: true,
      overrideBackup: true,
      awaitingSecondApprover: true,
    };
    await inActivity(n, { type: 'decision', incidentId: id, uiUrl: UI, record }, 'act-d1');
    await inActivity(n, { type: 'decision', incidentId: id, uiUrl: UI, record }, 'act-d1', 2);
    const requests = pd.incident(id)!.responderRequests;
    assert.equal(requests.length, 1, 'paged once, although the activity ran twice');
    assert.deepEqual(requests[0]!.targets, [{ id: 'PESC002', type: 'escalation_policy_reference' }]);
    assert.equal(requests[0]!.requester_id, 'PBOT001');
    assert.match(requests[0]!.message, /oncall@example\.com approved plan plan-b7 without a confirmed backup/);
    // An ordinary approval pages nobody.
    await inActivity(
      n,
      { type: 'decision', incidentId: id, uiUrl: UI, record: { ...record, awaitingSecondApprover: false } },
      'act-d2',
    );
    assert.equal(requests.length, 1);

    const reminder = (deadline: string): RunbookEvent => ({
      type: 'approval-reminder',
      incidentId: id,
      uiUrl: UI,
      planId: 'plan-b7',
      deadline,
    });
    await inActivity(n, reminder('2026-12-03T11:00:00Z'), 'act-r1');
    assert.equal(requests.length, 1, 'an hour left: nobody paged');
    await inActivity(n, reminder('2026-12-03T10:10:00Z'), 'act-r2');
    await inActivity(n, reminder('2026-12-03T10:10:00Z'), 'act-r3');
    assert.equal(requests.length, 2, 'ten minutes left: the approvers, once for that deadline');
    assert.deepEqual(requests[1]!.targets, [{ id: 'PLEAD01', type: 'user_reference' }]);
    assert.match(requests[1]!.message, /plan plan-b7 waits for approval, deadline 2026-12-03T10:10:00Z/);
    await inActivity(
      n,
      { type: 'approval-escalated', incidentId: id, uiUrl: UI, planId: 'plan-b7', deadline: '2026-12-03T11:10:00Z' },
      'act-e1',
    );
    assert.equal(requests.length, 3, 'extended because nobody answered: paged again');
    assert.match(requests[2]!.message, /extended: nobody answered in time/);

    // Without coordinated responding (402): the note says so, the notification does not fail.
    const other = incident();
    pd.abilities.coordinatedResponding = false;
    try {
      await inActivity(n, { type: 'decision', incidentId: other, uiUrl: UI, record }, 'act-d9');
    } finally {
      pd.abilities.coordinatedResponding = true;
    }
    assert.match(pd.incident(other)!.notes[0]!.content, /Could not page anyone/);
  });
});

describe('retryAfterMs', () => {
  const headers = (h: Record<string, string>) => new Headers(h);
  it('reads seconds, an HTTP date, or ratelimit-reset', () => {
    assert.equal(retryAfterMs(headers({ 'retry-after': '3' })), 3000);
    assert.equal(retryAfterMs(headers({ 'retry-after': new Date(10_000).toUTCString() }), 4000), 6000);
    assert.equal(retryAfterMs(headers({ 'ratelimit-reset': '2' })), 2000);
    assert.equal(retryAfterMs(headers({})), undefined);
  });
});
