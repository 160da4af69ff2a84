/**
 * Slack approvals end to end on the Temporal dev server with a real, seeded Redis and the simulated cluster: the real
 * worker posts the plan to the validating Slack stand-in, and the real receiver (`createWebhookFromEnv` behind the
 * Node server) takes the buttons' signed interactions. Forged, altered and stale requests are refused before
 * anything is read; a user who may not approve (or shows no email) hears why, and the run records the refusal; an
 * approver's click approves exactly the plan and actions the message showed, signed as the Slack gateway, and the
 * message loses its buttons and follows the run to its end.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { parse, stringify } from 'yaml';
import { startRunbook } from '../../client/index.js';
import { DEMO_CONFIG, demoRunInput, startLocalStack, type LocalStack } from '../../demo/stack.js';
import { createWebhookFromEnv, type WebhookFromEnv } from '../../webhook/from-env.js';
import { serveWebhook, type WebhookServer } from '../../webhook/node-server.js';
import { statusQuery, workflowIdFor } from '../../workflows/definitions.js';
import type { RunbookReport, RunbookStatus } from '../../workflows/definitions.js';
import { startSlackStandIn, type SignedInteraction, type SlackStandIn } from '../../local-servers/slack/standin.js';
import { installQuietRuntime } from '../../local-servers/temporal.js';
import { OpenApiDescription, RECEIVER_API } from '../../local-servers/openapi.js';
import { serveMetrics } from '../../webhook/metrics.js';
import { metricValue, scrape } from '../prometheus-text.js';

installQuietRuntime();

const GATEWAY_SECRET = 'gateway-slack-e2e-7d6c5b';
const INCIDENT = 'QSLACK1';
let dir: string;
let slack: SlackStandIn;
let stack: LocalStack;
let receiver: WebhookFromEnv;
let server: WebhookServer;

async function status(): Promise<RunbookStatus> {
  return stack.temporal.client.workflow.getHandle(workflowIdFor(INCIDENT)).query(statusQuery);
}

async function until<T>(what: string, read: () => Promise<T | undefined> | T | undefined): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const value = await Promise.resolve(read()).catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Posts an interaction as Slack would; returns the status and how long the answer took. */
async function send(i: SignedInteraction): Promise<{ status: number; ms: number }> {
  const t0 = performance.now();
  const res = await fetch(`${server.url}/slack/interactions`, { method: 'POST', headers: i.headers, body: i.body });
  await res.text();
  return { status: res.status, ms: performance.now() - t0 };
}

const ephemeralFor = (user: string) => until(`a reply to ${user}`, () => slack.ephemerals.find((e) => e.user === user));
const buttons = (blocks: unknown) =>
  JSON.stringify(blocks)
    .match(/"action_id":"runbook\.\w+"/g)
    ?.map((m) => m.slice(13, -1));

describe('Slack approvals end to end: plan in the channel → buttons → receiver → run', () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'runbook-slack-e2e-'));
    slack = await startSlackStandIn();
    slack.addUser({ id: 'U0ONCALL', email: 'OnCall@example.com' });
    slack.addUser({ id: 'U0MALLORY', email: 'mallory@example.com' });
    slack.addUser({ id: 'U0NOMAIL' });
    const demo = parse(await readFile(DEMO_CONFIG, 'utf8')) as Record<string, unknown>;
    const config = join(dir, 'runbook.yaml');
    // Production's default: a decision counts only with a proof, here only the receiver's Slack gateway signature.
    await writeFile(
      config,
      stringify({ ...demo, approval: { ...(demo.approval as object), requireProof: true, acceptProofs: ['slack'] } }),
    );
    const slackEnv = {
      SLACK_BOT_TOKEN: slack.token,
      SLACK_API_URL: slack.apiUrl,
      RUNBOOK_GATEWAY_SECRET: GATEWAY_SECRET,
    };
    stack = await startLocalStack({
      keepRuntime: true,
      workerEnv: { ...slackEnv, SLACK_CHANNEL: slack.channel, RUNBOOK_CONFIG: config },
    });
    receiver = await createWebhookFromEnv(
      {
        ...stack.env,
        ...slackEnv,
        RUNBOOK_CONFIG: config,
        SLACK_SIGNING_SECRET: `old-rotated-secret,${slack.signingSecret}`,
        PAGERDUTY_WEBHOOK_SECRET: 'whsec-unused-here',
      },
      { logger: pino({ level: 'silent' }) },
    );
    server = await serveWebhook(receiver.handle, { port: 0, host: '127.0.0.1' });
  });
  afterEach(() => slack.assertAllValid());
  after(async () => {
    await server?.close();
    await receiver?.close();
    await stack?.stop();
    await slack?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('refuses forged, altered and stale clicks; refuses and records a non-approver; an approver approves from Slack', async () => {
    await startRunbook(stack.temporal.client, demoRunInput(stack, INCIDENT), { taskQueue: stack.taskQueue });
    const waiting = await until('the plan to wait for approval', async () => {
      const s = await status();
      return s.phase === 'awaiting-approval' && s.slack ? s : undefined;
    });
    // One message, the run's: the plan it waits on, and the buttons.
    const [message, ...others] = slack.topLevel();
    assert.equal(others.length, 0);
    assert.equal(waiting.slack!.ts, message!.ts, 'the run keeps the message it posted');
    assert.match(JSON.stringify(message!.blocks), new RegExp(waiting.plan!.id));
    assert.deepEqual(buttons(message!.blocks), ['runbook.approve', 'runbook.reject', 'runbook.open']);

    // Forged (another secret), altered (body changed after signing), stale (signed 10 minutes ago): 401, nothing read.
    const good = slack.click(message!.ts, 'runbook.approve', 'U0ONCALL');
    const forged = slack.click(message!.ts, 'runbook.approve', 'U0ONCALL', { secret: 'not-the-secret' });
    const stale = slack.click(message!.ts, 'runbook.approve', 'U0ONCALL', { at: Math.floor(Date.now() / 1000) - 600 });
    const altered = { ...good, body: good.body.replace('U0ONCALL', 'U0MALLOR') };
    // What the stand-in sends is what the receiver's description says Slack sends.
    const receiverApi = await OpenApiDescription.load(RECEIVER_API);
    const check = receiverApi.checkRequest({
      method: 'POST',
      path: '/slack/interactions',
      query: '',
      headers: good.headers,
      body: good.body,
      parsedBody: Object.fromEntries(new URLSearchParams(good.body)),
    });
    assert.deepEqual(check.errors, []);
    for (const bad of [forged, stale, altered]) assert.equal((await send(bad)).status, 401);
    assert.equal((await send({ ...good, headers: { ...good.headers, 'x-slack-signature': '' } })).status, 401);
    assert.equal(slack.ephemerals.length, 0);
    assert.equal((await status()).decisions.length, 0, 'nothing reached the run');

    // Not an approver: told so, only to them; the run recorded the refusal (as the Slack gateway vouched for them).
    const mallory = await send(slack.click(message!.ts, 'runbook.approve', 'U0MALLORY'));
    assert.equal(mallory.status, 200);
    assert.ok(mallory.ms < 3000, `Slack waits 3 s for the answer; it took ${Math.round(mallory.ms)} ms`);
    assert.match((await ephemeralFor('U0MALLORY')).text, /refused: .*mallory@example\.com.*approvers/i);
    const refusal = (await status()).refusals?.find((r) => r.by === 'mallory@example.com');
    assert.ok(refusal, 'the run records the refusal');
    assert.equal(refusal.via, 'slack');
    // No email on the profile: nothing is sent to the run.
    await send(slack.click(message!.ts, 'runbook.reject', 'U0NOMAIL'));
    assert.match((await ephemeralFor('U0NOMAIL')).text, /no email/);

    // The approver: exactly the plan and actions the message showed, proven by the Slack gateway.
    const approved = await send(good);
    assert.equal(approved.status, 200);
    assert.match((await ephemeralFor('U0ONCALL')).text, /Approval of plan .* taken, as oncall@example\.com/);
    const handle = stack.temporal.client.workflow.getHandle(workflowIdFor(INCIDENT));
    const report = (await handle.result()) as RunbookReport;
    assert.equal(report.outcome, 'resolved', report.summary);
    const accepted = report.decisions.find((d) => d.accepted)!;
    assert.deepEqual(
      [accepted.by, accepted.via, accepted.planId, accepted.actions],
      ['oncall@example.com', 'slack', waiting.plan!.id, waiting.awaitingApproval],
    );
    assert.deepEqual(accepted.verified, { scheme: 'gateway', identity: 'oncall@example.com', by: 'slack' });

    // The same message followed the run: no button left, the end in its state, the story in its thread.
    const final = await until('the message to show the end', () =>
      /Finished, resolved/.test(message!.text) ? message : undefined,
    );
    assert.deepEqual(buttons(final.blocks), ['runbook.open']);
    assert.equal(slack.topLevel().length, 1, 'still one message');
    const thread = slack.replies(message!.ts).map((m) => m.text);
    assert.ok(
      thread.some((t) => /approve by oncall@example\.com/.test(t)),
      thread.join('\n'),
    );
    assert.ok(
      thread.some((t) => /finished: resolved/.test(t)),
      thread.join('\n'),
    );
    // The link button is an interaction too: it decides nothing.
    slack.ephemerals.length = 0;
    await send(slack.click(message!.ts, 'runbook.open', 'U0ONCALL'));
    assert.equal(slack.ephemerals.length, 0, 'the link button decides nothing');
  });

  it('the receiver’s /metrics counted it: verification failures by reason, decisions by outcome, answers by route', async () => {
    const metrics = await serveMetrics(receiver.metrics, '127.0.0.1:0');
    try {
      const lines = await scrape(metrics.url);
      const v = (name: string, labels: Record<string, string>) => metricValue(lines, name, labels);
      const failures = (reason: string) =>
        v('runbook_receiver_verification_failures_total', { source: 'slack', reason });
      assert.equal(failures('bad X-Slack-Signature'), 2, 'forged and altered');
      assert.equal(failures('stale X-Slack-Request-Timestamp'), 1);
      assert.equal(failures('no X-Slack-Signature or X-Slack-Request-Timestamp'), 1);
      assert.equal(v('runbook_receiver_requests_total', { route: '/slack/interactions', status: '401' }), 4);
      assert.equal(v('runbook_receiver_requests_total', { route: '/slack/interactions', status: '200' }), 4);
      assert.equal(v('runbook_receiver_decisions_total', { channel: 'slack', outcome: 'accepted' }), 1);
      assert.equal(v('runbook_receiver_decisions_total', { channel: 'slack', outcome: 'refused' }), 1);
      assert.ok(v('process_resident_memory_bytes', {}) > 0, 'process metrics beside them');
      assert.ok(
        lines.every((l) => !l.includes('oncall@') && !l.includes(INCIDENT)),
        'no user or incident in a label',
      );
    } finally {
      await metrics.close();
    }
  });
});
