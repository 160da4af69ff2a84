/**
 * The Slack notifier through Slack's own Web API client against the stand-in that validates every call (arguments,
 * Block Kit shapes and limits): one message per run, posted with the plan and its buttons, rewritten as the run
 * moves, each event in its thread; retries find their first try instead of posting twice; rate limits are waited out.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createSlackClient, SlackNotifier, type SlackCard } from '../../activities/slack/index.js';
import { FanOutNotifier, type Notifier } from '../../activities/notify/index.js';
import type { NotifyResult, RunbookEvent } from '../../activities/notify/events.js';
import type { DecisionRecord } from '../../workflows/definitions.js';
import { planReadyEvent } from '../plan-ready.js';
import { startSlackStandIn, type SlackStandIn } from '../../local-servers/slack/standin.js';

const UI = 'http://localhost:8233/namespaces/default/workflows/redis-runbook-QS/run-1/history';
let slack: SlackStandIn;
let seq = 0;

function notifier(): SlackNotifier {
  return new SlackNotifier(createSlackClient({ token: slack.token, apiUrl: slack.apiUrl }), slack.channel);
}

/** As the worker runs it: inside an activity, whose id and attempt are the call's key and whether it is a retry. */
function inActivity(
  event: RunbookEvent,
  activityId: string,
  attempt = 1,
  n: Notifier = notifier(),
): Promise<NotifyResult> {
  const env = new MockActivityEnvironment({
    activityId,
    attempt,
    workflowExecution: { workflowId: `redis-runbook-${event.incidentId}`, runId: `run-${event.incidentId}` },
  });
  return env.run<[], NotifyResult, () => Promise<NotifyResult>>(async () => (await n.notify(event)) ?? {});
}

function planReady(incidentId: string): RunbookEvent {
  return planReadyEvent({
    incidentId,
    uiUrl: UI,
    planId: 'plan-s1',
    findings: [
      { id: 'fragmentation-high', severity: 'info', message: 'fragmentation 1.2', evidence: {} },
      {
        id: 'noeviction-near-limit',
        severity: 'critical',
        message: 'noeviction at 99% of <maxmemory> & full',
        evidence: {},
      },
    ],
  });
}

function decision(record: Partial<DecisionRecord>): DecisionRecord {
  return { decision: 'approve', by: 'oncall@example.com', at: '2026-12-03T10:00:00Z', accepted: true, ...record };
}

const buttonsOf = (blocks: unknown) =>
  ((blocks ?? []) as Array<{ type: string; elements?: Array<{ action_id?: string; value?: string }> }>)
    .filter((b) => b.type === 'actions')
    .flatMap((b) => b.elements ?? [])
    .map((e) => e.action_id);

describe('Slack notifier against the validating stand-in', () => {
  before(async () => {
    slack = await startSlackStandIn();
  });
  afterEach(() => slack.assertAllValid());
  after(async () => {
    await slack?.stop();
  });

  it('posts the plan once, with findings (most severe first, escaped), what needs approval and the buttons', async () => {
    const id = `QS${++seq}`;
    const before = slack.topLevel().length;
    assert.deepEqual(await inActivity({ type: 'started', incidentId: id, uiUrl: UI, target: {} as never }, '1'), {});
    assert.equal(slack.topLevel().length, before, 'nothing to show before the plan');
    const { slack: card } = await inActivity(planReady(id), '2');
    assert.ok(card?.ts);
    const message = slack.messages.find((m) => m.ts === card.ts)!;
    const text = JSON.stringify(message.blocks);
    assert.match(text, /plan-s1/);
    assert.match(text, /set-maxmemory-policy.*needs approval/);
    assert.ok(text.indexOf('critical') < text.indexOf('[info]'), 'the critical finding first');
    assert.match(text, /&lt;maxmemory&gt; &amp; full/, 'mrkdwn control characters escaped');
    assert.deepEqual(buttonsOf(message.blocks), ['runbook.approve', 'runbook.reject', 'runbook.open']);
    const approve = (message.blocks as Array<{ elements?: Array<{ action_id: string; value: string }> }>)
      .flatMap((b) => b.elements ?? [])
      .find((e) => e.action_id === 'runbook.approve')!;
    assert.deepEqual(JSON.parse(approve.value), {
      incidentId: id,
      planId: 'plan-s1',
      actions: ['set-maxmemory-policy'],
    });
  });

  it('moves the same message along: a refusal keeps the buttons, an approval removes them; each event in the thread', async () => {
    const id = `QS${++seq}`;
    let card = (await inActivity(planReady(id), '1')).slack!;
    const refused = decision({ by: 'mallory@example.com', accepted: false, refusal: 'not on the approvers list' });
    card = (await inActivity({ type: 'decision', incidentId: id, uiUrl: UI, record: refused, slack: card }, '2'))
      .slack!;
    assert.equal(card.decide, true);
    assert.deepEqual(buttonsOf(slack.messages.find((m) => m.ts === card.ts)!.blocks).length, 3);
    const ok = decision({ via: 'slack' });
    card = (await inActivity({ type: 'decision', incidentId: id, uiUrl: UI, record: ok, slack: card }, '3')).slack!;
    const message = slack.messages.find((m) => m.ts === card.ts)!;
    assert.equal(card.decide, false);
    assert.deepEqual(buttonsOf(message.blocks), ['runbook.open'], 'no button left to press');
    assert.match(message.text, /Approved by oncall@example\.com via slack/);
    assert.equal(message.updates, 2);
    const thread = slack.replies(card.ts).map((m) => m.text);
    assert.equal(thread.length, 2);
    assert.match(thread[0]!, /refused \(not on the approvers list\)/);
    assert.equal(slack.topLevel().filter((m) => m.metadata?.event_payload.incident_id === id).length, 1);
  });

  it('a retried call finds what its first try posted: no second message, no second reply', async () => {
    const id = `QS${++seq}`;
    const first = (await inActivity(planReady(id), '7', 1)).slack!;
    const again = (await inActivity(planReady(id), '7', 2)).slack!;
    assert.equal(again.ts, first.ts);
    assert.equal(slack.topLevel().filter((m) => m.metadata?.event_payload.incident_id === id).length, 1);
    const event: RunbookEvent = {
      type: 'approval-reminder',
      incidentId: id,
      uiUrl: UI,
      planId: 'plan-s1',
      deadline: 'd',
      slack: first,
    };
    await inActivity(event, '8', 1);
    await inActivity(event, '8', 2);
    assert.equal(slack.replies(first.ts).length, 1);
    // A different call (another reminder) is another reply.
    await inActivity(event, '9', 1);
    assert.equal(slack.replies(first.ts).length, 2);
  });

  it('waits out a rate limit (429 with Retry-After) and posts once', async () => {
    const id = `QS${++seq}`;
    slack.failNext(1, 429, { method: 'chat.postMessage', retryAfterSeconds: 1 });
    const t0 = Date.now();
    const card = (await inActivity(planReady(id), '1')).slack!;
    assert.ok(Date.now() - t0 >= 900, 'waited for Retry-After');
    assert.ok(card.ts);
    assert.equal(slack.topLevel().filter((m) => m.metadata?.event_payload.incident_id === id).length, 1);
  });

  it('beside PagerDuty: a Slack failure is named, the other channel still told, and a posted card is kept', async () => {
    const id = `QS${++seq}`;
    const told: string[] = [];
    const failing = { notify: () => Promise.reject(new Error('PagerDuty down')) };
    const both = new FanOutNotifier([
      { name: 'pagerduty', notifier: failing },
      { name: 'slack', notifier: notifier() },
    ]);
    const kept = await inActivity(planReady(id), '1', 1, both);
    assert.ok(kept.slack?.ts, 'the card is returned for the run to keep');
    assert.deepEqual(kept.failed, ['pagerduty: PagerDuty down']);
    // Every attempt of the update fails (the first and the client's 3 retries).
    slack.failNext(4, 500, { method: 'chat.update' });
    const sent = new FanOutNotifier([
      { name: 'pagerduty', notifier: { notify: (e) => Promise.resolve(void told.push(e.type)) } },
      { name: 'slack', notifier: notifier() },
    ]);
    const card: SlackCard = kept.slack;
    await assert.rejects(
      inActivity(
        { type: 'approval-reminder', incidentId: id, uiUrl: UI, planId: 'p', deadline: 'd', slack: card },
        '2',
        1,
        sent,
      ),
      /slack: /,
    );
    assert.deepEqual(told, ['approval-reminder'], 'PagerDuty was told although Slack failed');
  });
});
