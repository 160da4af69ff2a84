/**
 * PagerDuty end to end on the Temporal dev server with a real, seeded Redis and the simulated cluster: the real
 * worker writes back to the OpenAPI-validating PagerDuty stand-in, and the real receiver (`createWebhookFromEnv`
 * behind the Node server) takes signed deliveries. A signed `incident.triggered` starts the run, notes follow,
 * `incident.resolved` stops a waiting run, `/pagerduty/action` approves as an allowed user (after refusing another),
 * the run remediates and resolves the incident. No secret appears in the history or in any log line.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, afterEach, before, describe, it } from 'node:test';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { pino } from 'pino';
import { parse, stringify } from 'yaml';
import { DEMO_CONFIG, DEMO_TARGET, startLocalStack, type LocalStack } from '../../demo/stack.js';
import { createWebhookFromEnv, type WebhookFromEnv } from '../../webhook/from-env.js';
import { serveWebhook, type WebhookServer } from '../../webhook/node-server.js';
import { signatureHeader } from '../../webhook/signature.js';
import { serveMetrics } from '../../webhook/metrics.js';
import { startTracing } from '../../tracing/index.js';
import { startOtlpCollector, type OtlpCollector } from '../../local-servers/otlp-collector.js';
import { metricValue, scrape } from '../prometheus-text.js';
import { statusQuery, workflowIdFor } from '../../workflows/definitions.js';
import type { DecisionRecord, RunbookReport, RunbookStatus } from '../../workflows/definitions.js';
import { startPagerDutyStandIn, type PagerDutyStandIn } from '../../local-servers/pagerduty/standin.js';
import { installQuietRuntime } from '../../local-servers/temporal.js';

installQuietRuntime();

const SECRETS = ['whsec-e2e-previous-9f8e7d', 'whsec-e2e-current-1a2b3c'];
const GATEWAY_SECRET = 'gateway-e2e-5c4b3a';
const SERVICE = 'PDEMO01';
const logs: string[] = [];
const capture = new Writable({
  write(chunk: Buffer, _enc, done) {
    logs.push(chunk.toString('utf8'));
    done();
  },
});

let dir: string;
let pd: PagerDutyStandIn;
let stack: LocalStack;
let receiver: WebhookFromEnv;
let server: WebhookServer;
let collector: OtlpCollector;

/** Every payload of a history, decoded: what an auditor reads in the UI. */
function decodedPayloads(historyText: string): string {
  return [...historyText.matchAll(/"data":\s*"([A-Za-z0-9+/=]+)"/g)]
    .map((m) => Buffer.from(m[1]!, 'base64').toString('utf8'))
    .join('\n');
}

async function deliver(path: string, payload: object, secret = SECRETS[1]!): Promise<Response> {
  const body = JSON.stringify(payload);
  return fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-pagerduty-signature': signatureHeader(body, secret),
      'x-webhook-id': `delivery-${Math.random()}`,
    },
    body,
  });
}

function incidentEvent(type: string, incidentId: string) {
  return {
    event: {
      id: `01E2E${type}${incidentId}`,
      event_type: type,
      resource_type: 'incident',
      occurred_at: new Date().toISOString(),
      agent:
        type === 'incident.resolved'
          ? { id: 'PONCALL', type: 'user_reference', summary: 'On Call' }
          : { id: SERVICE, type: 'service_reference', summary: 'redis-cache' },
      data: {
        id: incidentId,
        type: 'incident',
        html_url: `https://example.pagerduty.com/incidents/${incidentId}`,
        status: type === 'incident.resolved' ? 'resolved' : 'triggered',
        title: '[FIRING] Redis cache/redis-0 OOMKilled, CrashLoopBackOff',
        service: { id: SERVICE, type: 'service_reference', summary: 'redis-cache' },
      },
    },
  };
}

async function waitForPhase(incidentId: string, phase: RunbookStatus['phase']): Promise<RunbookStatus> {
  const handle = stack.temporal.client.workflow.getHandle(workflowIdFor(incidentId));
  for (let i = 0; i < 600; i++) {
    try {
      const s = await handle.query(statusQuery);
      if (s.phase === phase) return s;
    } catch {
      // not started yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${incidentId} never reached ${phase}`);
}

async function finished(incidentId: string): Promise<{ report: RunbookReport; payloads: string }> {
  const handle = stack.temporal.client.workflow.getHandle(workflowIdFor(incidentId));
  const report = (await handle.result()) as RunbookReport;
  return { report, payloads: decodedPayloads(historyToJSON(await handle.fetchHistory())) };
}

async function waitFor(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(check(), what);
}

function assertNoSecret(text: string, where: string): void {
  for (const secret of [pd.token, ...SECRETS, GATEWAY_SECRET])
    assert.ok(!text.includes(secret), `a secret appears in ${where}`);
}

/** The change events the worker sent for an incident. */
function changesOf(incidentId: string) {
  return pd.changeEvents.filter((c) => (c.payload.custom_details as { incident?: string }).incident === incidentId);
}

describe('PagerDuty end to end: webhook → run → notes → approval from PagerDuty → resolve', () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'runbook-pd-e2e-'));
    pd = await startPagerDutyStandIn();
    collector = await startOtlpCollector();
    pd.addUser({ id: 'PONCALL', email: 'oncall@example.com', name: 'On Call' });
    pd.addUser({ id: 'PMALLORY', email: 'mallory@example.com', name: 'Mallory' });
    const demo = parse(await readFile(DEMO_CONFIG, 'utf8')) as Record<string, unknown>;
    const config = join(dir, 'runbook.yaml');
    // The worker's intake routes the incidents: its routes name the stack's Redis, known once it runs.
    const withRoutes = async (redis: { host: string; port: number }) => {
      await writeFile(
        config,
        stringify({
          ...demo,
          // Production's default: a decision counts only with a proof (here the receiver's gateway signature).
          approval: { ...(demo.approval as object), requireProof: true, acceptProofs: ['pagerduty'] },
          pagerduty: {
            ...(demo.pagerduty as object),
            acknowledgeOnStart: true,
            resolveOnSuccess: true,
            services: [{ id: SERVICE, name: 'redis-cache', namespace: DEMO_TARGET.namespace, redis }],
          },
        }),
      );
      return { ...pagerdutyEnv, RUNBOOK_CONFIG: config, LOG_LEVEL: 'debug' };
    };
    const pagerdutyEnv = {
      PAGERDUTY_API_TOKEN: pd.token,
      PAGERDUTY_FROM_EMAIL: 'runbook-bot@example.com',
      PAGERDUTY_API_URL: pd.url,
      PAGERDUTY_EVENTS_URL: pd.url,
      PAGERDUTY_ROUTING_KEY: pd.routingKey,
      RUNBOOK_GATEWAY_SECRET: GATEWAY_SECRET,
      // Traces on, for the worker and the receiver (one process here, so one provider).
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
    };
    stack = await startLocalStack({
      keepRuntime: true,
      workerEnv: withRoutes,
      workerLogDestination: capture,
    });
    receiver = await createWebhookFromEnv(
      {
        ...stack.env,
        ...pagerdutyEnv,
        RUNBOOK_CONFIG: config,
        PAGERDUTY_WEBHOOK_SECRET: SECRETS.join(','),
        LOG_LEVEL: 'debug',
      },
      { logger: pino({ level: 'debug' }, capture) },
    );
    server = await serveWebhook(receiver.handle, { port: 0, host: '127.0.0.1' });
  });
  afterEach(() => pd.assertAllValid());
  after(async () => {
    await server?.close();
    await receiver?.close();
    await stack?.stop();
    await pd?.stop();
    await collector?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('incident.resolved while the plan waits: the run stops without acting and says why', async () => {
    pd.addIncident({ id: 'QE2ERES', serviceId: SERVICE, alerts: [{ ...DEMO_TARGET }] });
    const res = await deliver('/pagerduty/webhook', incidentEvent('incident.triggered', 'QE2ERES'), SECRETS[0]);
    assert.equal(res.status, 202);
    await waitForPhase('QE2ERES', 'awaiting-approval');
    pd.incident('QE2ERES')!.status = 'resolved';
    const resolved = await deliver('/pagerduty/webhook', incidentEvent('incident.resolved', 'QE2ERES'));
    assert.deepEqual(await resolved.json(), { status: 'signalled', workflowId: workflowIdFor('QE2ERES') });
    const { report } = await finished('QE2ERES');
    assert.equal(report.outcome, 'incident-resolved');
    assert.match(report.summary, /resolved while the plan waited for approval \(by On Call\)/);
    assert.equal(report.results.length, 0);
    assert.equal(changesOf('QE2ERES').length, 0, 'nothing changed, no change event');
    const [, policy] = (await stack.redis.config('GET', 'maxmemory-policy')) as [string, string];
    assert.equal(policy, 'noeviction', 'nothing was changed');
  });

  it('a signed trigger starts the run; notes follow; a non-allowed user is refused; an allowed one approves; the run fixes Redis and resolves the incident', async () => {
    pd.addIncident({ id: 'QE2E1', serviceId: SERVICE, alerts: [{ ...DEMO_TARGET }] });
    const res = await deliver('/pagerduty/webhook', incidentEvent('incident.triggered', 'QE2E1'));
    assert.equal(res.status, 202);
    assert.deepEqual(await res.json(), {
      status: 'accepted',
      workflowId: 'redis-runbook-QE2E1',
      intakeWorkflowId: 'pagerduty-intake-QE2E1',
    });

    const waiting = await waitForPhase('QE2E1', 'awaiting-approval');
    const incident = pd.incident('QE2E1')!;
    await waitFor(() => incident.notes.length >= 2, 'the started and plan notes');
    assert.equal(incident.status, 'acknowledged');
    assert.match(incident.notes[0]!.content, /Redis runbook started for pod cache\/redis-0/);
    assert.match(incident.notes[0]!.content, /\/workflows\/redis-runbook-QE2E1\//);
    assert.match(incident.notes[1]!.content, new RegExp(`Plan ${waiting.plan!.id}`));
    assert.match(incident.notes[1]!.content, /needs approval/);

    const action = (user: string) => ({ action: 'approve', incident: { id: 'QE2E1' }, user: { id: user } });
    const refused = await deliver('/pagerduty/action', action('PMALLORY'));
    assert.equal(refused.status, 403);
    assert.match(((await refused.json()) as { refusal: string }).refusal, /not on the approvers list/);
    assert.equal((await deliver('/pagerduty/action', action('PONCALL'), 'not-the-secret')).status, 401);

    const approved = await deliver('/pagerduty/action', {
      ...action('PONCALL'),
      plan_id: waiting.plan!.id,
      reason: 'approved from the incident',
    });
    assert.equal(approved.status, 200);
    const { record } = (await approved.json()) as { record: DecisionRecord };
    assert.deepEqual([record.by, record.via, record.accepted], ['oncall@example.com', 'pagerduty', true]);
    assert.deepEqual(record.verified, { scheme: 'gateway', identity: 'oncall@example.com', by: 'pagerduty' });

    const { report, payloads } = await finished('QE2E1');
    assert.equal(report.outcome, 'resolved', report.summary);
    assert.equal(report.approvedBy, 'oncall@example.com');
    const [, policy] = (await stack.redis.config('GET', 'maxmemory-policy')) as [string, string];
    assert.equal(policy, 'volatile-lru');

    await waitFor(() => incident.status === 'resolved', 'the incident is resolved after a verified fix');
    // Each change the run made is a change event on the service, linking the run.
    const changes = changesOf('QE2E1');
    assert.deepEqual(
      changes.map((c) => (c.payload.custom_details as { action: string }).action),
      report.results.filter((r) => r.ok).map((r) => r.id),
    );
    assert.ok(changes.length > 0);
    assert.ok(changes.every((c) => c.links?.length === 1 && /redis-runbook-QE2E1/.test(JSON.stringify(c.links))));
    const contents = incident.notes.map((n) => n.content).join('\n---\n');
    assert.match(contents, /Approval by oncall@example\.com via pagerduty accepted/);
    assert.match(contents, /Runbook finished: resolved/);
    assert.match(contents, /maxmemoryPolicy: noeviction → volatile-lru/);
    const writes = pd.requests.filter((r) => r.path.startsWith('/incidents/QE2E1') && r.method !== 'GET');
    assert.ok(writes.every((w) => w.headers.from === 'runbook-bot@example.com'));

    // The history names the PagerDuty user and the route; it holds no secret.
    assert.match(payloads, /"by":"oncall@example\.com"/);
    assert.match(payloads, /"via":"pagerduty"/);
    assert.match(payloads, /"targetSource":"alert"/);
    assertNoSecret(payloads, 'the workflow history');
  });

  it('one trace from the receiver’s request through the intake and the runbook to each activity (OTLP)', async () => {
    await startTracing({}, 'unused').processor.forceFlush();
    assert.deepEqual(collector.rejected, []);
    // The intake's start of the run names it.
    const run = collector.spans.find(
      (s) =>
        s.name === 'StartWorkflow:redisIncidentRunbook' && s.attributes.temporalWorkflowId === 'redis-runbook-QE2E1',
    );
    assert.ok(run, `no span of the run among ${collector.spans.length}`);
    const trace = collector.spans.filter((s) => s.traceId === run.traceId);
    const names = new Set(trace.map((s) => s.name));
    for (const name of [
      'POST /pagerduty/webhook',
      'StartWorkflow:pagerDutyIncidentIntake',
      'RunWorkflow:pagerDutyIncidentIntake',
      'RunActivity:routePagerDutyIncident',
      'RunActivity:startRunbookRun',
      'RunWorkflow:redisIncidentRunbook',
      'RunActivity:diagnoseRedis',
      'RunActivity:backupRedis',
      'RunActivity:applyRedisAction',
      'RunActivity:notify',
    ])
      assert.ok(names.has(name), `${name} is not in the run's trace: ${[...names].join(', ')}`);
    // The receiver's request is the root; every other span has its parent in the trace.
    const roots = trace.filter((s) => !s.parentSpanId);
    assert.deepEqual(
      roots.map((s) => s.name),
      ['POST /pagerduty/webhook'],
    );
    // From a change the run made, parent by parent, back to PagerDuty's delivery.
    const byId = new Map(trace.map((s) => [s.spanId, s]));
    const path: string[] = [];
    for (let s = trace.find((t) => t.name === 'RunActivity:applyRedisAction'); s; s = byId.get(s.parentSpanId ?? ''))
      path.push(s.name);
    assert.deepEqual(
      path.filter((n) => !n.startsWith('StartActivity:')),
      [
        'RunActivity:applyRedisAction',
        'RunWorkflow:redisIncidentRunbook',
        'StartWorkflow:redisIncidentRunbook',
        'RunActivity:startRunbookRun',
        'RunWorkflow:pagerDutyIncidentIntake',
        'StartWorkflow:pagerDutyIncidentIntake',
        'POST /pagerduty/webhook',
      ],
    );
    const activities = trace.filter((s) => s.name.startsWith('RunActivity:'));
    assert.ok(
      activities.every((s) => s.attributes.temporalActivityId),
      'activity spans name their activity',
    );
    assert.ok(
      activities.some((s) => s.attributes.temporalWorkflowId === 'redis-runbook-QE2E1'),
      'and the run they belong to',
    );
  });

  it('the receiver’s /metrics counted the deliveries, the forged action and the decisions', async () => {
    const metrics = await serveMetrics(receiver.metrics, '127.0.0.1:0');
    try {
      const lines = await scrape(metrics.url);
      const v = (name: string, labels: Record<string, string>) => metricValue(lines, name, labels);
      assert.equal(v('runbook_receiver_deliveries_total', { status: 'accepted' }), 2);
      assert.equal(v('runbook_receiver_deliveries_total', { status: 'signalled' }), 1);
      assert.equal(
        v('runbook_receiver_verification_failures_total', { source: 'pagerduty', reason: 'bad signature' }),
        1,
      );
      assert.equal(v('runbook_receiver_decisions_total', { channel: 'pagerduty', outcome: 'refused' }), 1);
      assert.equal(v('runbook_receiver_decisions_total', { channel: 'pagerduty', outcome: 'accepted' }), 1);
      assert.equal(v('runbook_receiver_requests_total', { route: '/pagerduty/action', status: '401' }), 1);
      assert.ok(v('runbook_receiver_request_duration_seconds_count', { route: '/pagerduty/webhook' }) >= 3);
    } finally {
      await metrics.close();
    }
  });

  it('no secret in any captured log line of the worker or the receiver', () => {
    const text = logs.join('');
    assert.ok(text.includes('PagerDuty updated'), 'the worker logs were captured');
    assert.ok(text.includes('incident.triggered'), 'the receiver logs were captured');
    assertNoSecret(text, 'the logs');
  });
});
