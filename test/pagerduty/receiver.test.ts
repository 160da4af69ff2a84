/**
 * The PagerDuty receiver on a real Temporal dev server with the OpenAPI-validating PagerDuty stand-in, and a worker
 * that runs only the intakes (the runbooks they start go to a queue nobody polls: they just wait): signatures
 * (rotation, wrong, missing, mangled), replays and duplicates (by incident and by `X-Webhook-Id`), size, type and JSON
 * checks, routing in the intake (alert, service, title, unroutable, alerts unreadable), an answer that never waits on
 * PagerDuty, resolved without a run, approvals refused before the run; through the handler itself, the Node server and
 * a Lambda event.
 */
import { NO_TRACING, workerTracingOptions } from '../../tracing/index.js';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { after, afterEach, before, describe, it } from 'node:test';
import { Client, WorkflowNotFoundError } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { pino } from 'pino';
import { PagerDutyClient } from '../../activities/pagerduty/index.js';
import { createWebhookHandler, type WebhookDeps, type WebhookHandler } from '../../webhook/handler.js';
import { lambdaAdapter, type HttpApiEvent } from '../../webhook/lambda.js';
import { serveWebhook, type WebhookServer } from '../../webhook/node-server.js';
import { signatureHeader } from '../../webhook/signature.js';
import { intakeWorkflowIdFor, searchAttributes, workflowIdFor } from '../../workflows/definitions.js';
import type { IntakeInput, IntakeResult, RunbookInput } from '../../workflows/definitions.js';
import { createIntakeActivities } from '../../activities/pagerduty/intake.js';
import { createTemporalActivities } from '../../activities/temporal/index.js';
import { loadWorkflowBundle } from '../../worker/workflow-bundle.js';
import { startPagerDutyStandIn, type PagerDutyStandIn } from '../../local-servers/pagerduty/standin.js';
import { installQuietRuntime, startDevServer } from '../../local-servers/temporal.js';
import { OpenApiDescription, RECEIVER_API } from '../../local-servers/openapi.js';

installQuietRuntime();

const OLD = 'whsec-old-0000';
const NEW = 'whsec-new-1111';
const REDIS = { host: '10.0.0.5', port: 6379 };
let temporal: TestWorkflowEnvironment;
let pd: PagerDutyStandIn;
let handle: WebhookHandler;
let deps: WebhookDeps;
let server: WebhookServer;
const HISTORIES = fileURLToPath(new URL('../../../test/histories/', import.meta.url));
let intakeWorker: Worker;
let intakeWorkerRunning: Promise<void>;
const logs: string[] = [];
let seq = 0;
const AT = '2026-11-20T03:12:45.118Z';

function triggered(incidentId: string, extra: { service?: string; title?: string; eventId?: string } = {}) {
  return JSON.stringify({
    event: {
      id: extra.eventId ?? `01EVT${++seq}`,
      event_type: 'incident.triggered',
      resource_type: 'incident',
      occurred_at: AT,
      agent: { id: 'PSVC001', type: 'service_reference', summary: 'redis-cache (prod)' },
      client: { name: 'Prometheus Alertmanager' },
      data: {
        id: incidentId,
        type: 'incident',
        html_url: `https://example.pagerduty.com/incidents/${incidentId}`,
        status: 'triggered',
        title: extra.title ?? 'Redis is down',
        service: { id: extra.service ?? 'PSVC001', type: 'service_reference', summary: 'redis-cache (prod)' },
        assignees: [],
        priority: null,
        urgency: 'high',
      },
    },
  });
}

let receiverApi: OpenApiDescription;
/** Traffic that does not match `api/receiver.yaml`: accepted requests outside it, and any answer outside it. */
const contractViolations: string[] = [];

async function post(path: string, body: string, headers: Record<string, string> = {}): Promise<Response> {
  const all = { 'content-type': 'application/json', ...headers };
  const response = await handle(new Request(`http://receiver${path}`, { method: 'POST', headers: all, body }));
  const check = receiverApi.checkRequest({ method: 'POST', path, query: '', headers: all, body });
  const answer: unknown = await response.clone().json();
  if (response.status < 300 && check.errors.length > 0) {
    contractViolations.push(`${path} accepted a request outside the description: ${check.errors.join('; ')}`);
  }
  if (check.operation) {
    for (const e of receiverApi.checkResponse(check.operation, response.status, answer)) {
      contractViolations.push(`${path} answered outside the description: ${e}`);
    }
  }
  return response;
}

const signed = (body: string, ...secrets: string[]) => ({ 'x-pagerduty-signature': signatureHeader(body, ...secrets) });

/** What the incident's intake did, once it is done. */
function intake(incidentId: string): Promise<IntakeResult> {
  return temporal.client.workflow.getHandle(intakeWorkflowIdFor(incidentId)).result() as Promise<IntakeResult>;
}

/** The input a workflow was started with, from its first history event. */
async function inputOf<T>(workflowId: string): Promise<T> {
  const history = await temporal.client.workflow.getHandle(workflowId).fetchHistory();
  const data = history.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!.data!;
  return JSON.parse(Buffer.from(data).toString('utf8')) as T;
}

/** The input of the run the incident's intake started. */
async function startedInput(incidentId: string): Promise<RunbookInput> {
  await intake(incidentId);
  return inputOf<RunbookInput>(workflowIdFor(incidentId));
}

async function runExists(incidentId: string, id = workflowIdFor): Promise<boolean> {
  try {
    await temporal.client.workflow.getHandle(id(incidentId)).describe();
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

describe('PagerDuty receiver', () => {
  before(async () => {
    receiverApi = await OpenApiDescription.load(RECEIVER_API);
    temporal = await startDevServer();
    pd = await startPagerDutyStandIn();
    const capture = new Writable({
      write(chunk: Buffer, _enc, done) {
        logs.push(chunk.toString('utf8'));
        done();
      },
    });
    const pagerduty = new PagerDutyClient({
      token: pd.token,
      fromEmail: 'runbook-bot@example.com',
      apiUrl: pd.url,
      retry: { maxAttempts: 2, baseDelayMs: 10, pdjsRetryTimeoutMs: 10 },
    });
    const services = [
      { id: 'PSVC001', namespace: 'cache', redis: REDIS },
      { id: 'PSVCDEF', namespace: 'cache', pod: 'redis-default-0', container: 'redis', redis: REDIS },
    ];
    intakeWorker = await Worker.create({
      // The worker's sink for workflow spans, as every worker registers it (here it drops spans).
      ...workerTracingOptions(NO_TRACING),
      connection: temporal.nativeConnection,
      taskQueue: 'receiver-test-intake',
      workflowBundle: { code: (await loadWorkflowBundle()).code },
      activities: {
        ...createIntakeActivities({
          pagerduty,
          services,
          targets: [
            {
              name: 'sessions',
              namespace: 'cache',
              pod: 'redis-sessions-0',
              redis: { host: 'sessions.cache', port: 6380 },
            },
          ],
        }),
        ...createTemporalActivities(new Client({ connection: temporal.client.connection }), 'receiver-test-no-worker'),
      },
    });
    intakeWorkerRunning = intakeWorker.run();
    deps = {
      secrets: [OLD, NEW],
      actionSecrets: ['workflow-step-secret'],
      client: temporal.client,
      taskQueue: 'receiver-test-intake',
      pagerduty,
      services,
      approval: {
        approvers: ['oncall@example.com'],
        requireDifferentApprover: true,
        timeoutSeconds: 60,
        reminderIntervalSeconds: 0,
        onTimeout: 'reject',
      },
      logger: pino({ level: 'debug' }, capture),
      maxBodyBytes: 16 * 1024,
      decisionTimeoutMs: 3000,
    };
    handle = createWebhookHandler(deps);
    server = await serveWebhook(handle, { port: 0, host: '127.0.0.1' });
    pd.addUser({ id: 'PONCALL', email: 'oncall@example.com', name: 'On Call' });
    pd.addUser({ id: 'PMALLORY', email: 'mallory@example.com', name: 'Mallory' });
  });
  afterEach(() => pd.assertAllValid());
  after(async () => {
    if (process.env.RECORD_HISTORIES) {
      // The intake's three endings, for the replay test: routed by an alert, unroutable, alerts unreadable.
      for (const [incident, name] of [
        ['QALERT1', 'intake-routed'],
        ['QLOST', 'intake-unroutable'],
        ['QPDDOWN', 'intake-alerts-unreadable'],
      ] as const) {
        const history = await temporal.client.workflow.getHandle(intakeWorkflowIdFor(incident)).fetchHistory();
        await writeFile(`${HISTORIES}${name}.json`, historyToJSON(history));
      }
    }
    intakeWorker?.shutdown();
    await intakeWorkerRunning;
    await server?.close();
    await pd?.stop();
    await temporal?.teardown();
  });

  it('serves /healthz, answers 405 for other methods and 404 elsewhere', async () => {
    assert.equal((await handle(new Request('http://r/healthz'))).status, 200);
    assert.equal((await post('/healthz', '{}')).status, 405);
    const get = await handle(new Request('http://r/pagerduty/webhook'));
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST');
    assert.equal((await handle(new Request('http://r/pagerduty/action', { method: 'PUT', body: '{}' }))).status, 405);
    assert.equal((await post('/elsewhere', '{}')).status, 404);
  });

  it('a signed incident.triggered starts the run, routed from the alert details, with its search attributes', async () => {
    pd.addIncident({
      id: 'QALERT1',
      serviceId: 'PSVC001',
      alerts: [{ namespace: 'cache', pod: 'redis-sessions-0', container: 'redis' }],
    });
    const res = await post('/pagerduty/webhook', triggered('QALERT1'), signed(triggered('QALERT1'), NEW));
    // The body must be byte-identical to what was signed.
    const body = triggered('QALERT1', { eventId: '01FIXED' });
    const res2 = await post('/pagerduty/webhook', body, signed(body, NEW));
    assert.equal(
      res.status,
      401,
      'a fresh event id changes the body: the first request above was signed over another body',
    );
    assert.equal(res2.status, 202);
    const answer = (await res2.json()) as { status: string; workflowId: string; intakeWorkflowId: string };
    assert.deepEqual(
      [answer.status, answer.workflowId, answer.intakeWorkflowId],
      ['accepted', 'redis-runbook-QALERT1', 'pagerduty-intake-QALERT1'],
    );
    const routed = await intake('QALERT1');
    assert.equal(routed.status, 'started');
    assert.equal(routed.status === 'started' && routed.targetSource, 'alert');
    const input = await startedInput('QALERT1');
    assert.equal(input.targetSource, 'alert');
    assert.equal(input.startedBy, 'pagerduty');
    assert.deepEqual(input.target, {
      namespace: 'cache',
      pod: 'redis-sessions-0',
      container: 'redis',
      redis: { host: 'sessions.cache', port: 6380 },
    });
    const d = await temporal.client.workflow.getHandle(answer.workflowId).describe();
    assert.equal(d.typedSearchAttributes.get(searchAttributes.incidentId), 'QALERT1');
    assert.equal(d.typedSearchAttributes.get(searchAttributes.phase), 'starting');
  });

  it('accepts either secret during a rotation, and a header carrying both', async () => {
    for (const [incident, secrets] of [
      ['QROT1', [OLD]],
      ['QROT2', [NEW]],
      ['QROT3', [OLD, NEW]],
    ] as const) {
      pd.addIncident({ id: incident, serviceId: 'PSVCDEF' });
      const body = triggered(incident, { service: 'PSVCDEF' });
      const res = await post('/pagerduty/webhook', body, signed(body, ...secrets));
      assert.equal(res.status, 202, `${incident} signed with ${secrets.length} secret(s)`);
    }
    pd.addIncident({ id: 'QROT4', serviceId: 'PSVCDEF' });
    const both = triggered('QROT4', { service: 'PSVCDEF' });
    const header = `v1=${'0'.repeat(64)},${signatureHeader(both, NEW)}`;
    assert.equal((await post('/pagerduty/webhook', both, { 'x-pagerduty-signature': header })).status, 202);
  });

  it('refuses wrong, missing and mangled signatures before parsing: nothing reaches Temporal or PagerDuty', async () => {
    pd.addIncident({ id: 'QFORGED', serviceId: 'PSVCDEF' });
    const body = triggered('QFORGED', { service: 'PSVCDEF' });
    const good = signatureHeader(body, NEW);
    const logsBefore = logs.length;
    for (const header of [
      undefined,
      '',
      signatureHeader(body, 'some-other-secret'),
      good.replace('v1=', 'v0='),
      good.slice(0, -2),
      good.toUpperCase(),
      `${good.slice(0, -1)}${good.endsWith('0') ? '1' : '0'}`,
      Array.from({ length: 9 }, () => good).join(','),
    ]) {
      const res = await post(
        '/pagerduty/webhook',
        body,
        header === undefined ? {} : { 'x-pagerduty-signature': header },
      );
      assert.equal(res.status, 401, `header ${String(header).slice(0, 20)}`);
    }
    const tampered = body.replace('Redis is down', 'Redis is up!!');
    assert.equal((await post('/pagerduty/webhook', tampered, { 'x-pagerduty-signature': good })).status, 401);
    assert.equal(await runExists('QFORGED'), false);
    assert.equal(await runExists('QFORGED', intakeWorkflowIdFor), false);
    assert.equal(pd.requests.filter((r) => r.path.includes('QFORGED')).length, 0, 'nothing reached PagerDuty');
    const lines = logs.slice(logsBefore).join('');
    assert.ok(!lines.includes('QFORGED'), 'nothing of the unverified body is logged');
    assert.match(lines, /"reason":"(bad|no) signature"/);
  });

  it('a replayed delivery and a second trigger for the same incident find the first intake: one run', async () => {
    pd.addIncident({ id: 'QDUP', serviceId: 'PSVCDEF' });
    type Answer = { status: string; workflowId: string };
    const body = triggered('QDUP', { service: 'PSVCDEF' });
    const first = (await (await post('/pagerduty/webhook', body, signed(body, NEW))).json()) as Answer;
    const replay = (await (await post('/pagerduty/webhook', body, signed(body, NEW))).json()) as Answer;
    const again = triggered('QDUP', { service: 'PSVCDEF' });
    const second = (await (await post('/pagerduty/webhook', again, signed(again, OLD))).json()) as Answer;
    const concurrent = await Promise.all(
      [1, 2, 3].map(async () => (await post('/pagerduty/webhook', body, signed(body, NEW))).json() as Promise<Answer>),
    );
    assert.equal(first.status, 'accepted');
    for (const r of [replay, second, ...concurrent]) assert.deepEqual(r.status, 'duplicate');
    for (const r of [replay, second, ...concurrent]) assert.equal(r.workflowId, first.workflowId);
    assert.equal((await intake('QDUP')).status, 'started');
    for (const id of [workflowIdFor('QDUP'), intakeWorkflowIdFor('QDUP')]) {
      let count = 0;
      for await (const run of temporal.client.workflow.list({ query: `WorkflowId = '${id}'` }))
        if (run.workflowId === id) count++;
      assert.equal(count, 1, id);
    }
  });

  it('a redelivery (same X-Webhook-Id) is answered from memory; a new delivery id, or a refused one, is not', async () => {
    pd.addIncident({ id: 'QHOOK', serviceId: 'PSVCDEF' });
    const body = triggered('QHOOK', { service: 'PSVCDEF' });
    const delivery = { ...signed(body, NEW), 'x-webhook-id': 'b3a7c6e2-0d1f-4f5e-9a8b-delivery-1' };
    const logsBefore = logs.length;
    // Refused first (wrong secret): not remembered, so the good redelivery does the work.
    assert.equal((await post('/pagerduty/webhook', body, { ...delivery, ...signed(body, 'wrong') })).status, 401);
    const first = (await (await post('/pagerduty/webhook', body, delivery)).json()) as { status: string };
    const redelivered = (await (await post('/pagerduty/webhook', body, delivery)).json()) as {
      status: string;
      reason?: string;
    };
    const other = (await (
      await post('/pagerduty/webhook', body, { ...delivery, 'x-webhook-id': 'another-delivery' })
    ).json()) as { status: string; reason?: string };
    assert.equal(first.status, 'accepted');
    assert.deepEqual(redelivered, { status: 'duplicate', reason: 'this delivery (X-Webhook-Id) was already accepted' });
    assert.equal(other.status, 'duplicate');
    assert.equal(other.reason, undefined, 'a new delivery id goes to Temporal, which finds the intake');
    const lines = logs.slice(logsBefore).join('');
    assert.equal(lines.match(/delivery already answered/g)?.length, 1);
    const input = await inputOf<IntakeInput>(intakeWorkflowIdFor('QHOOK'));
    assert.equal(input.deliveryId, 'b3a7c6e2-0d1f-4f5e-9a8b-delivery-1', 'the intake records the delivery');
  });

  it('answers at once while PagerDuty fails; the intake routes without the alerts and says so', async () => {
    pd.addIncident({
      id: 'QPDDOWN',
      serviceId: 'PSVCDEF',
      alerts: [{ namespace: 'cache', pod: 'redis-sessions-0', container: 'redis' }],
    });
    // Every alert read fails, through the client's retries and the intake's four attempts.
    pd.failNext(40, 500, { path: /\/incidents\/QPDDOWN\/alerts/ });
    const body = triggered('QPDDOWN', { service: 'PSVCDEF' });
    const t0 = performance.now();
    const res = await post('/pagerduty/webhook', body, signed(body, NEW));
    const ms = performance.now() - t0;
    assert.equal(res.status, 202);
    const routed = await intake('QPDDOWN');
    // The intake spent its four attempts' back-off (1 + 2 + 4 s) on PagerDuty; the answer waited for none of it.
    const routedMs = performance.now() - t0;
    assert.ok(routedMs > 7000, `routed after ${Math.round(routedMs)} ms`);
    assert.ok(ms * 3 < routedMs, `answered in ${Math.round(ms)} ms, routed in ${Math.round(routedMs)} ms`);
    assert.ok(pd.requests.filter((r) => r.path.includes('QPDDOWN/alerts')).length >= 4, 'every attempt read');
    assert.equal(routed.status, 'started');
    if (routed.status !== 'started') return;
    assert.equal(routed.targetSource, 'service', 'the service default, not the alert it could not read');
    assert.match(routed.alertsUnreadable ?? '', /500|Internal|failed/i);
    assert.equal((await startedInput('QPDDOWN')).target.pod, 'redis-default-0');
  });

  it('past its limit in flight it answers 503 with Retry-After at once; the redeliveries are then taken, none twice', async () => {
    const narrow = createWebhookHandler({ ...deps, maxInFlight: 1 });
    const ids = Array.from({ length: 12 }, (_, i) => `QBUSY${i}`);
    const deliver = (id: string) => {
      const body = triggered(id, { service: 'PSVCDEF' });
      return narrow(
        new Request('http://receiver/pagerduty/webhook', {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-webhook-id': `d-${id}`, ...signed(body, NEW) },
          body,
        }),
      );
    };
    // All at once: the first takes the one slot, the others are turned away before they are read.
    const answers = await Promise.all(ids.map(deliver));
    const refused = ids.filter((_, i) => answers[i]!.status === 503);
    assert.equal(answers.filter((a) => a.status === 202).length, 1);
    assert.equal(refused.length, ids.length - 1);
    for (const a of answers.filter((x) => x.status === 503)) {
      assert.equal(a.headers.get('retry-after'), '1');
      assert.deepEqual(await a.json(), { error: 'busy: retry shortly' });
    }
    for (const id of refused) assert.equal(await runExists(id, intakeWorkflowIdFor), false, `${id} was turned away`);
    // PagerDuty redelivers: one at a time, each is taken.
    for (const id of refused)
      assert.equal(((await (await deliver(id)).json()) as { status: string }).status, 'accepted');
    for (const id of ids) assert.equal((await intake(id)).status, 'started', id);
  });

  it('routes from the service default, else the title; records which', async () => {
    pd.addIncident({ id: 'QSVC', serviceId: 'PSVCDEF' });
    const bySvc = triggered('QSVC', { service: 'PSVCDEF' });
    assert.equal((await post('/pagerduty/webhook', bySvc, signed(bySvc, NEW))).status, 202);
    assert.equal((await startedInput('QSVC')).targetSource, 'service');
    assert.equal((await startedInput('QSVC')).target.pod, 'redis-default-0');

    pd.addIncident({ id: 'QTITLE', serviceId: 'PSVC001' });
    const byTitle = triggered('QTITLE', { title: 'KubePodCrashLooping: prod/redis-cache-0 (redis) OOMKilled' });
    assert.equal((await post('/pagerduty/webhook', byTitle, signed(byTitle, NEW))).status, 202);
    const input = await startedInput('QTITLE');
    assert.deepEqual(input.target, { namespace: 'prod', pod: 'redis-cache-0', container: 'redis', redis: REDIS });
    assert.equal(input.targetSource, 'title');
  });

  it('an unroutable incident gets a note saying so, once, and no run', async () => {
    pd.addIncident({ id: 'QLOST', serviceId: 'PSVC001', title: 'Something is wrong' });
    const body = triggered('QLOST', { title: 'Something is wrong' });
    const res = await post('/pagerduty/webhook', body, signed(body, NEW));
    assert.equal(res.status, 202);
    assert.equal(((await res.json()) as { status: string }).status, 'accepted');
    assert.equal((await post('/pagerduty/webhook', body, signed(body, NEW))).status, 202);
    assert.deepEqual(await intake('QLOST'), {
      status: 'unroutable',
      reason: "no namespace/pod in the alerts' details, no default pod on service PSVC001, and none in the title",
      noted: true,
    });
    assert.equal(await runExists('QLOST'), false);
    const notes = pd.incident('QLOST')!.notes;
    assert.equal(notes.length, 1);
    assert.match(notes[0]!.content, /cannot tell which Redis/);
  });

  it('ignores incidents of other services, other and unknown event types, and resolved incidents without a run', async () => {
    const other = triggered('QOTHER', { service: 'PNOTREDIS' });
    assert.deepEqual(await (await post('/pagerduty/webhook', other, signed(other, NEW))).json(), {
      status: 'ignored',
      reason: 'service not routed to the runbook',
    });
    assert.equal(await runExists('QOTHER'), false);
    assert.equal(await runExists('QOTHER', intakeWorkflowIdFor), false);
    for (const type of ['incident.annotated', 'incident.acknowledged', 'service.created', 'pagey.future_event']) {
      const body = JSON.stringify({
        event: {
          id: `E-${type}`,
          event_type: type,
          resource_type: 'x',
          occurred_at: AT,
          agent: null,
          data: { anything: 1 },
        },
      });
      const res = await post('/pagerduty/webhook', body, signed(body, NEW));
      assert.equal(res.status, 202, type);
      assert.equal(((await res.json()) as { status: string }).status, 'ignored');
    }
    const resolved = JSON.stringify({
      event: {
        id: 'E-res',
        event_type: 'incident.resolved',
        resource_type: 'incident',
        occurred_at: AT,
        agent: null,
        data: { id: 'QNORUN', type: 'incident' },
      },
    });
    const res = await post('/pagerduty/webhook', resolved, signed(resolved, NEW));
    assert.deepEqual(await res.json(), { status: 'ignored', reason: 'no open run' });
  });

  it('refuses the wrong content type (415), oversize bodies (413) and malformed JSON (400)', async () => {
    const body = triggered('QTYPES', { service: 'PSVCDEF' });
    assert.equal(
      (await post('/pagerduty/webhook', body, { 'content-type': 'text/plain', ...signed(body, NEW) })).status,
      415,
    );
    const big = JSON.stringify({ event: { pad: 'x'.repeat(20_000) } });
    assert.equal((await post('/pagerduty/webhook', big, signed(big, NEW))).status, 413);
    const notJson = '{"event": ';
    assert.equal((await post('/pagerduty/webhook', notJson, signed(notJson, NEW))).status, 400);
    const notEvent = '{"hello":"world"}';
    assert.equal((await post('/pagerduty/webhook', notEvent, signed(notEvent, NEW))).status, 400);
  });

  it('through the Node server: the same answers, and a chunked oversize body is cut off', async () => {
    pd.addIncident({ id: 'QNODE', serviceId: 'PSVCDEF' });
    const body = triggered('QNODE', { service: 'PSVCDEF' });
    const res = await fetch(`${server.url}/pagerduty/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...signed(body, NEW) },
      body,
    });
    assert.equal(res.status, 202);
    assert.equal(((await res.json()) as { workflowId: string }).workflowId, 'redis-runbook-QNODE');
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    // No Content-Length: the cap applies while streaming.
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 40; i++) c.enqueue(new Uint8Array(1024).fill(32));
        c.close();
      },
    });
    const big = await fetch(`${server.url}/pagerduty/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-pagerduty-signature': 'v1=00' },
      body: stream,
      duplex: 'half',
    });
    assert.equal(big.status, 413);
    const unsigned = await fetch(`${server.url}/pagerduty/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    assert.equal(unsigned.status, 401);
  });

  it('as a Lambda (function URL event, plain and base64 bodies)', async () => {
    const lambda = lambdaAdapter(handle);
    pd.addIncident({ id: 'QLAMBDA', serviceId: 'PSVCDEF' });
    const body = triggered('QLAMBDA', { service: 'PSVCDEF' });
    const event = (b: string, base64: boolean, headers: Record<string, string>): HttpApiEvent => ({
      rawPath: '/pagerduty/webhook',
      rawQueryString: '',
      headers: { 'content-type': 'application/json', ...headers },
      body: base64 ? Buffer.from(b).toString('base64') : b,
      isBase64Encoded: base64,
      requestContext: { http: { method: 'POST' }, domainName: 'abc.lambda-url.eu-west-1.on.aws' },
    });
    const plain = await lambda(event(body, false, signed(body, NEW)));
    assert.equal(plain.statusCode, 202);
    assert.equal((JSON.parse(plain.body) as { status: string }).status, 'accepted');
    const encoded = await lambda(event(body, true, signed(body, OLD)));
    assert.equal((JSON.parse(encoded.body) as { status: string }).status, 'duplicate');
    assert.equal((await lambda(event(body, false, signed(body, 'nope')))).statusCode, 401);
    const health = await lambda({ rawPath: '/healthz', requestContext: { http: { method: 'GET' } } });
    assert.equal(health.statusCode, 200);
  });

  it('/pagerduty/action: refuses unknown and non-allowed users before the run, with a note', async () => {
    pd.addIncident({ id: 'QACT', serviceId: 'PSVCDEF' });
    const action = (user: string) =>
      JSON.stringify({ action: 'approve', incident: { id: 'QACT' }, user: { id: user } });
    const mallory = await post('/pagerduty/action', action('PMALLORY'), signed(action('PMALLORY'), NEW));
    assert.equal(mallory.status, 403);
    assert.match(
      ((await mallory.json()) as { refusal: string }).refusal,
      /mallory@example\.com is not on the approvers list/,
    );
    assert.match(pd.incident('QACT')!.notes.at(-1)!.content, /approval by mallory@example\.com refused/);
    const nobody = await post('/pagerduty/action', action('PGHOST'), signed(action('PGHOST'), NEW));
    assert.equal(nobody.status, 403);
    const noRun = await post('/pagerduty/action', action('PONCALL'), signed(action('PONCALL'), NEW));
    assert.equal(noRun.status, 404);
    assert.equal((await post('/pagerduty/action', action('PONCALL'), signed(action('PONCALL'), 'x'))).status, 401);
    const bad = '{"action":"launch"}';
    assert.equal((await post('/pagerduty/action', bad, signed(bad, NEW))).status, 400);
  });

  it('/pagerduty/action also takes the shared secret of an incident-workflow HTTP step, and only there', async () => {
    pd.addIncident({ id: 'QSHARED', serviceId: 'PSVCDEF' });
    const body = JSON.stringify({ action: 'approve', incident: { id: 'QSHARED' }, user: { id: 'PMALLORY' } });
    const shared = { 'x-runbook-action-secret': 'workflow-step-secret' };
    // authenticated by the shared secret: the policy check runs and refuses mallory (403, not 401)
    assert.equal((await post('/pagerduty/action', body, shared)).status, 403);
    assert.equal((await post('/pagerduty/action', body, { 'x-runbook-action-secret': 'wrong' })).status, 401);
    assert.equal((await post('/pagerduty/action', body, { 'x-runbook-action-secret': '' })).status, 401);
    const trigger = JSON.stringify({ event: { id: 'E1', event_type: 'incident.triggered', data: {} } });
    assert.equal((await post('/pagerduty/webhook', trigger, shared)).status, 401, 'webhooks must be signed');
  });

  it('every delivery it accepted and every answer it gave match api/receiver.yaml', () => {
    assert.ok(receiverApi, 'the description loaded');
    assert.deepEqual(contractViolations, []);
  });
});
