/**
 * The receiver (PagerDuty's webhooks and incident actions, Slack's buttons) as one function from a Fetch `Request` to a `Response`, so the same code serves behind a
 * Node HTTP server and as an AWS Lambda. Order matters: method and route, content type, size, then the signature
 * over the raw bytes, and only then parsing. Nothing of an unverified request goes further than a short log reason.
 */
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { PagerDutyClient } from '../activities/pagerduty/index.js';
import { PagerDutyError } from '../activities/pagerduty/index.js';
import { gatewaySigner } from '../activities/identity/gateway.js';
import { DecisionRefusedError, NoWorkerError, readStatus, sendDecision, startIntake } from '../client/index.js';
import type { ServiceRoute } from '../config/runbook-file.js';
import { incidentResolvedSignal, workflowIdFor } from '../workflows/definitions.js';
import { isAllowedApprover } from '../workflows/logic/approval-policy.js';
import type { ApprovalPolicy } from '../activities/settings/types.js';
import type { Decision } from '../workflows/definitions.js';
import { DEFAULT_MAX_BODY_BYTES, readBodyCapped } from './body.js';
import {
  actionSchema,
  incidentDataSchema,
  webhookEnvelopeSchema,
  type IncidentAction,
  type WebhookEnvelope,
} from './events.js';
import { RecentDeliveries } from './deliveries.js';
import { routeLabel, type ReceiverMetrics } from './metrics.js';
import { ACTION_SECRET_HEADER, isSignedBy, matchesSharedSecret } from './signature.js';

/** Paths the receiver serves. */
export const ROUTES = {
  webhook: '/pagerduty/webhook',
  action: '/pagerduty/action',
  slack: '/slack/interactions',
  health: '/healthz',
} as const;

/** What the receiver needs; `createWebhookFromEnv` builds it from the environment. */
export interface WebhookDeps {
  /** Signing secrets of the webhook subscription; any of them verifies (rotation). */
  secrets: readonly string[];
  /**
   * Shared secrets `/pagerduty/action` also accepts in the `X-Runbook-Action-Secret` header, for callers that cannot
   * sign the body (PagerDuty's incident-workflow HTTP step). Empty: only a signature is accepted.
   */
  actionSecrets?: readonly string[];
  client: Client;
  taskQueue: string;
  /**
   * PagerDuty REST client for `/pagerduty/action`'s user look-up and refusal notes (with a short retry budget). Absent
   * (no API token): `/pagerduty/action` answers 503. Webhook deliveries never call it: the intake workflow routes.
   */
  pagerduty?: Pick<PagerDutyClient, 'getUserEmail' | 'addNoteOnce'>;
  /** The configured services: a trigger of any other service is ignored without starting anything. */
  services: Pick<ServiceRoute, 'id'>[];
  /** The approval policy, for a first check; the run's update validator decides. */
  approval: ApprovalPolicy;
  logger: Logger;
  /** Default {@link DEFAULT_MAX_BODY_BYTES}. */
  maxBodyBytes?: number;
  /** How long an approval waits for the run to take it, in ms. Default 20 s. */
  decisionTimeoutMs?: number;
  /**
   * Webhook deliveries answered at once at most; past it a delivery gets 503 with `Retry-After` at once (PagerDuty
   * redelivers) rather than a queue that would outlast PagerDuty's 5 s. Default {@link DEFAULT_MAX_IN_FLIGHT}.
   */
  maxInFlight?: number;
  /** How long a delivery's call to Temporal may take before the answer is 503, in ms. Default 4 s. */
  temporalTimeoutMs?: number;
  /**
   * `RUNBOOK_GATEWAY_SECRET`: signs each decision with the PagerDuty user's email it looked up, so the run can tell it
   * from a bare claim. Without it decisions go unsigned (and a run whose policy requires proof refuses them).
   */
  gatewaySecret?: string;
  /** `/slack/interactions` (`webhook/slack.ts`); absent without `SLACK_SIGNING_SECRET` and `SLACK_BOT_TOKEN`: 503. */
  slack?: (request: Request) => Promise<Response>;
  /** Counts requests, deliveries, verification failures and decisions (`GET /metrics` on its own port). */
  metrics?: ReceiverMetrics;
}

/** Deliveries in flight per receiver by default: far above what one Temporal frontend answers in PagerDuty's 5 s. */
export const DEFAULT_MAX_IN_FLIGHT = 256;

/** Methods of HTTP that a route may not allow (405); any other is not implemented here (501). */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'CONNECT']);

/** The answer for a method and path refused before anything is read: 404, 405 (with `Allow`), 501. */
export function preflight(
  method: string,
  pathname: string,
): { status: number; error: string; headers?: Record<string, string> } | undefined {
  const posts: string[] = [ROUTES.webhook, ROUTES.action, ROUTES.slack];
  const allow = pathname === ROUTES.health ? 'GET, HEAD' : posts.includes(pathname) ? 'POST' : '';
  if (!allow) return { status: 404, error: 'not found' };
  const m = method.toUpperCase();
  if (allow.split(', ').includes(m)) return undefined;
  if (!KNOWN_METHODS.has(m)) return { status: 501, error: 'method not implemented', headers: { allow } };
  return { status: 405, error: 'method not allowed', headers: { allow } };
}

/** The receiver: `handle(request)` → `response`. */
export type WebhookHandler = (request: Request) => Promise<Response>;

function json(status: number, body: object, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
  });
}

/** PagerDuty's id of this delivery (the same on each redelivery), if it is a plausible one. */
function deliveryId(request: Request): string | undefined {
  const id = request.headers.get('x-webhook-id');
  return id && /^[\w.:-]{1,100}$/.test(id) ? id : undefined;
}

function isJsonContentType(value: string | null): boolean {
  return (value ?? '').split(';')[0]!.trim().toLowerCase() === 'application/json';
}

/** Builds the receiver. */
export function createWebhookHandler(deps: WebhookDeps): WebhookHandler {
  const log = deps.logger;
  const maxBytes = deps.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const recent = new RecentDeliveries();
  const maxInFlight = deps.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
  const temporalTimeoutMs = deps.temporalTimeoutMs ?? 4000;
  let inFlight = 0;
  /** A call to Temporal for a delivery, within the time PagerDuty waits (past it: 503, and PagerDuty redelivers). */
  const inTime = <T>(fn: () => Promise<T>) => deps.client.withDeadline(Date.now() + temporalTimeoutMs, fn);

  /** Content type, size and signature, in that order; the verified raw body, or the answer refusing it. */
  async function verified(request: Request, acceptSharedSecret = false): Promise<Uint8Array | Response> {
    if (!isJsonContentType(request.headers.get('content-type'))) {
      log.warn({ reason: 'content type' }, 'request refused');
      return json(415, { error: 'expected Content-Type: application/json' });
    }
    const body = await readBodyCapped(request, maxBytes);
    if (!body) {
      log.warn({ reason: 'too large' }, 'request refused');
      return json(413, { error: `body larger than ${maxBytes} bytes` });
    }
    const shared =
      acceptSharedSecret && matchesSharedSecret(request.headers.get(ACTION_SECRET_HEADER), deps.actionSecrets ?? []);
    if (!shared && !isSignedBy(body, request.headers.get('x-pagerduty-signature'), deps.secrets)) {
      const reason = request.headers.has('x-pagerduty-signature') ? 'bad signature' : 'no signature';
      log.warn({ reason }, 'request refused');
      deps.metrics?.verificationFailures.inc({ source: 'pagerduty', reason });
      return json(401, { error: 'invalid or missing X-PagerDuty-Signature' });
    }
    return body;
  }

  function parse(body: Uint8Array): unknown {
    try {
      return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body)) as unknown;
    } catch {
      return undefined;
    }
  }

  async function note(incidentId: string, content: string, marker: string): Promise<void> {
    if (!deps.pagerduty) return;
    try {
      await deps.pagerduty.addNoteOnce(incidentId, content, marker);
    } catch (err) {
      log.warn({ incidentId, err: err instanceof Error ? err.message : String(err) }, 'could not add a note');
    }
  }

  /**
   * Verified, routed to us by its service (configuration only), then one start: the intake workflow reads the alerts,
   * routes and starts the runbook, durably, after this answer. Nothing here waits on PagerDuty.
   */
  async function onTriggered(event: WebhookEnvelope['event'], deliveryId: string | undefined): Promise<Response> {
    const parsed = incidentDataSchema.safeParse(event.data);
    if (!parsed.success) return json(400, { error: 'event.data is not an incident' });
    const incident = parsed.data;
    const serviceId = incident.service?.id;
    if (!serviceId || !deps.services.some((s) => s.id === serviceId)) {
      return json(202, { status: 'ignored', reason: 'service not routed to the runbook' });
    }
    const started = await inTime(() =>
      startIntake(
        deps.client,
        {
          incident: {
            id: incident.id,
            serviceId,
            ...(incident.title ? { title: incident.title.slice(0, 200) } : {}),
            ...(incident.html_url ? { htmlUrl: incident.html_url } : {}),
          },
          ...(deliveryId ? { deliveryId } : {}),
          ...(event.id ? { eventId: event.id } : {}),
        },
        { taskQueue: deps.taskQueue },
      ),
    );
    log.info(
      {
        incidentId: incident.id,
        eventId: event.id,
        deliveryId,
        intake: started.intakeWorkflowId,
        status: started.kind,
      },
      'incident.triggered',
    );
    return json(202, {
      status: started.kind,
      workflowId: started.workflowId,
      intakeWorkflowId: started.intakeWorkflowId,
    });
  }

  async function onResolved(event: WebhookEnvelope['event']): Promise<Response> {
    const parsed = incidentDataSchema.safeParse(event.data);
    if (!parsed.success) return json(400, { error: 'event.data is not an incident' });
    const workflowId = workflowIdFor(parsed.data.id);
    try {
      await inTime(() =>
        deps.client.workflow.getHandle(workflowId).signal(incidentResolvedSignal, {
          ...(event.agent?.summary ? { by: event.agent.summary.slice(0, 100) } : {}),
          reason: 'resolved in PagerDuty',
        }),
      );
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return json(202, { status: 'ignored', reason: 'no open run' });
      throw err;
    }
    log.info({ incidentId: parsed.data.id, eventId: event.id, workflowId }, 'incident.resolved signalled');
    return json(202, { status: 'signalled', workflowId });
  }

  async function onWebhook(request: Request): Promise<Response> {
    const body = await verified(request);
    if (body instanceof Response) return body;
    const envelope = webhookEnvelopeSchema.safeParse(parse(body));
    if (!envelope.success) return json(400, { error: 'expected a PagerDuty Webhooks V3 event' });
    const event = envelope.data.event;
    const delivery = deliveryId(request);
    if (delivery && recent.has(delivery)) {
      log.info({ deliveryId: delivery, eventId: event.id }, 'delivery already answered');
      return json(202, { status: 'duplicate', reason: 'this delivery (X-Webhook-Id) was already accepted' });
    }
    const answer = await dispatch(event, delivery);
    // Only what was accepted: a redelivery of a refused or failed one must do the work.
    if (delivery && answer.status < 300) recent.add(delivery);
    return answer;
  }

  function dispatch(event: WebhookEnvelope['event'], delivery: string | undefined): Promise<Response> {
    switch (event.event_type) {
      case 'incident.triggered':
        return onTriggered(event, delivery);
      case 'incident.resolved':
        return onResolved(event);
      default:
        return Promise.resolve(json(202, { status: 'ignored', eventType: event.event_type }));
    }
  }

  async function onAction(request: Request): Promise<Response> {
    const body = await verified(request, true);
    if (body instanceof Response) return body;
    const parsed = actionSchema.safeParse(parse(body));
    if (!parsed.success) return json(400, { error: 'expected {action, incident: {id}, user: {id}}' });
    const a: IncidentAction = parsed.data;
    const incidentId = a.incident.id;
    const counted = (outcome: 'accepted' | 'refused' | 'failed') =>
      deps.metrics?.decisions.inc({ channel: 'pagerduty', outcome });
    const refuse = async (status: number, refusal: string, by: string) => {
      counted('refused');
      log.warn({ incidentId, by, refusal }, 'decision refused');
      await note(
        incidentId,
        `Redis runbook: ${a.action === 'approve' ? 'approval' : 'rejection'} by ${by} refused: ${refusal}`,
        `[redis-runbook refused ${a.user.id} ${Date.now()}]`,
      );
      return json(status, { accepted: false, refusal });
    };

    if (!deps.pagerduty) {
      log.warn({ incidentId, reason: 'no PagerDuty API token' }, 'decision refused');
      return json(503, { error: 'PAGERDUTY_API_TOKEN and PAGERDUTY_FROM_EMAIL are not set: cannot look the user up' });
    }
    let email: string;
    try {
      email = await deps.pagerduty.getUserEmail(a.user.id);
    } catch (err) {
      if (err instanceof PagerDutyError && err.status === 404) return refuse(403, 'unknown PagerDuty user', a.user.id);
      log.warn({ incidentId, err: err instanceof Error ? err.message : String(err) }, 'user lookup failed');
      counted('failed');
      return json(502, { accepted: false, refusal: 'could not look the user up in PagerDuty; nothing was decided' });
    }
    if (!isAllowedApprover(deps.approval, email)) return refuse(403, `${email} is not on the approvers list`, email);

    const handle = deps.client.workflow.getHandle(workflowIdFor(incidentId));
    const timeoutMs = deps.decisionTimeoutMs ?? 20_000;
    try {
      let planId = a.plan_id;
      if (!planId && a.action === 'approve') {
        const status = await readStatus(deps.client, handle, timeoutMs);
        planId = status.plan?.id;
        if (!planId) return refuse(409, `the run has no plan yet (phase ${status.phase})`, email);
      }
      const decision: Decision = {
        decision: a.action,
        by: email,
        ...(planId ? { planId } : {}),
        ...(a.actions?.length ? { actions: a.actions } : {}),
        ...(a.reason || a.action === 'reject' ? { reason: a.reason ?? 'rejected from the PagerDuty incident' } : {}),
        via: 'pagerduty',
      };
      const record = await sendDecision(
        deps.client,
        handle,
        decision,
        timeoutMs,
        deps.gatewaySecret ? { sign: gatewaySigner(deps.gatewaySecret) } : {},
      );
      log.info({ incidentId, by: email, decision: a.action }, 'decision taken');
      counted('accepted');
      return json(200, { accepted: true, record });
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return refuse(404, 'no run for this incident', email);
      if (err instanceof DecisionRefusedError) return refuse(409, err.refusal, email);
      if (err instanceof NoWorkerError) {
        counted('failed');
        return json(504, { accepted: false, refusal: err.message });
      }
      throw err;
    }
  }

  /** What a delivery came to, for `runbook_receiver_deliveries_total`: the answer's own status word, or its class. */
  async function countDelivery(response: Response): Promise<void> {
    if (!deps.metrics) return;
    let status = response.status < 500 ? 'refused' : 'failed';
    if (response.status === 202) {
      const body = (await response
        .clone()
        .json()
        .catch(() => ({}))) as { status?: string };
      status = body.status ?? 'accepted';
    } else if (response.headers.has('retry-after')) status = 'busy';
    deps.metrics.deliveries.inc({ status });
  }

  const routes = Object.values(ROUTES);
  // A no-op tracer unless tracing is on (`tracing/`): then each request is the root of the trace its run continues.
  const tracer = trace.getTracer('redis-runbook-receiver');
  return function handle(request: Request): Promise<Response> {
    const { pathname } = new URL(request.url);
    const route = routeLabel(pathname, routes);
    return tracer.startActiveSpan(`${request.method} ${route}`, { kind: SpanKind.SERVER }, async (span) => {
      const stop = deps.metrics?.duration.startTimer({ route });
      const response = await answer(request, pathname);
      stop?.();
      deps.metrics?.requests.inc({ route, status: String(response.status) });
      if (pathname === ROUTES.webhook) await countDelivery(response);
      span.setAttributes({
        'http.request.method': request.method,
        'http.route': route,
        'http.response.status_code': response.status,
      });
      if (response.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
      return response;
    });
  };

  async function answer(request: Request, pathname: string): Promise<Response> {
    try {
      const early = preflight(request.method, pathname);
      if (early) return json(early.status, { error: early.error }, early.headers);
      if (pathname === ROUTES.health) return json(200, { ok: true });
      if (pathname === ROUTES.slack) {
        if (deps.slack) return await deps.slack(request);
        return json(503, { error: 'Slack is not configured: set SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN' });
      }
      if (pathname !== ROUTES.webhook) return await onAction(request);
      if (inFlight >= maxInFlight) {
        log.warn({ reason: 'busy', inFlight }, 'request refused');
        return json(503, { error: 'busy: retry shortly' }, { 'retry-after': '1' });
      }
      inFlight++;
      deps.metrics?.inFlight.set(inFlight);
      try {
        return await onWebhook(request);
      } finally {
        inFlight--;
        deps.metrics?.inFlight.set(inFlight);
      }
    } catch (err) {
      log.error({ path: pathname, err }, 'request failed');
      // 5xx: PagerDuty redelivers, and the workflow id keeps the retry from starting a second run.
      return json(503, { error: 'temporarily unavailable' });
    }
  }
}
