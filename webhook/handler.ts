/**
 * The PagerDuty receiver as one function from a Fetch `Request` to a `Response`, so the same code serves behind a
 * Node HTTP server and as an AWS Lambda. Order matters: method and route, content type, size, then the signature
 * over the raw bytes, and only then parsing. Nothing of an unverified request goes further than a short log reason.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { PagerDutyClient } from '../activities/pagerduty/index.js';
import { PagerDutyError } from '../activities/pagerduty/index.js';
import { gatewaySigner } from '../activities/identity/gateway.js';
import { DecisionRefusedError, NoWorkerError, readStatus, sendDecision, startRunbook } from '../client/index.js';
import type { ServiceRoute, TargetConfig } from '../config/runbook-file.js';
import { incidentResolvedSignal, workflowIdFor } from '../workflows/definitions.js';
import { isAllowedApprover } from '../workflows/logic/approval-policy.js';
import type { ApprovalPolicy } from '../activities/settings/types.js';
import type { Decision, RunbookInput } from '../workflows/definitions.js';
import { DEFAULT_MAX_BODY_BYTES, readBodyCapped } from './body.js';
import {
  actionSchema,
  incidentDataSchema,
  webhookEnvelopeSchema,
  type IncidentAction,
  type WebhookEnvelope,
} from './events.js';
import { routeIncident } from './routing.js';
import { ACTION_SECRET_HEADER, isSignedBy, matchesSharedSecret } from './signature.js';

/** Paths the receiver serves. */
export const ROUTES = {
  webhook: '/pagerduty/webhook',
  action: '/pagerduty/action',
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
   * PagerDuty REST client for alerts, users and notes (with a short retry budget: requests must answer fast). Absent
   * (no API token): routing uses the service and the title, no note is written, and `/pagerduty/action` answers 503.
   */
  pagerduty?: Pick<PagerDutyClient, 'getIncidentAlerts' | 'getUserEmail' | 'addNoteOnce'>;
  services: ServiceRoute[];
  targets: TargetConfig[];
  /** The approval policy, for a first check; the run's update validator decides. */
  approval: ApprovalPolicy;
  logger: Logger;
  /** Default {@link DEFAULT_MAX_BODY_BYTES}. */
  maxBodyBytes?: number;
  /** How long an approval waits for the run to take it, in ms. Default 20 s. */
  decisionTimeoutMs?: number;
  /**
   * `RUNBOOK_GATEWAY_SECRET`: signs each decision with the PagerDuty user's email it looked up, so the run can tell it
   * from a bare claim. Without it decisions go unsigned (and a run whose policy requires proof refuses them).
   */
  gatewaySecret?: string;
}

/** Methods of HTTP that a route may not allow (405); any other is not implemented here (501). */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'CONNECT']);

/** The answer for a method and path refused before anything is read: 404, 405 (with `Allow`), 501. */
export function preflight(
  method: string,
  pathname: string,
): { status: number; error: string; headers?: Record<string, string> } | undefined {
  const allow =
    pathname === ROUTES.health ? 'GET, HEAD' : pathname === ROUTES.webhook || pathname === ROUTES.action ? 'POST' : '';
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

function isJsonContentType(value: string | null): boolean {
  return (value ?? '').split(';')[0]!.trim().toLowerCase() === 'application/json';
}

/** Builds the receiver. */
export function createWebhookHandler(deps: WebhookDeps): WebhookHandler {
  const log = deps.logger;
  const maxBytes = deps.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;

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
      log.warn(
        { reason: request.headers.has('x-pagerduty-signature') ? 'bad signature' : 'no signature' },
        'request refused',
      );
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

  async function onTriggered(event: WebhookEnvelope['event']): Promise<Response> {
    const parsed = incidentDataSchema.safeParse(event.data);
    if (!parsed.success) return json(400, { error: 'event.data is not an incident' });
    const incident = parsed.data;
    if (!deps.services.some((s) => s.id === incident.service?.id)) {
      return json(202, { status: 'ignored', reason: 'service not routed to the runbook' });
    }
    let alerts;
    try {
      alerts = await deps.pagerduty?.getIncidentAlerts(incident.id);
    } catch (err) {
      log.warn({ incidentId: incident.id, err: err instanceof Error ? err.message : String(err) }, 'alerts unreadable');
    }
    const route = routeIncident(incident, alerts, deps.services, deps.targets);
    if (route.kind === 'not-ours') return json(202, { status: 'ignored', reason: 'service not routed to the runbook' });
    if (route.kind === 'unroutable') {
      log.warn({ incidentId: incident.id, reason: route.reason }, 'incident not routable');
      await note(
        incident.id,
        `Redis runbook: cannot tell which Redis this incident is about (${route.reason}). No run was started; ` +
          `add namespace and pod to the alert's details or a default pod to the service's route.`,
        `[redis-runbook unroutable ${incident.id}]`,
      );
      return json(202, { status: 'unroutable', reason: route.reason });
    }
    const input: RunbookInput = {
      incidentId: incident.id,
      ...(incident.html_url ? { incidentUrl: incident.html_url } : {}),
      ...(incident.title ? { title: incident.title.slice(0, 200) } : {}),
      target: route.target,
      startedBy: 'pagerduty',
      targetSource: route.source,
      ...(route.cleanup.length > 0 ? { cleanup: route.cleanup } : {}),
    };
    const started = await startRunbook(deps.client, input, { taskQueue: deps.taskQueue });
    const status = started.kind === 'started' ? 'started' : started.kind === 'running' ? 'already-running' : 'finished';
    log.info(
      { incidentId: incident.id, eventId: event.id, workflowId: started.workflowId, status },
      'incident.triggered',
    );
    return json(202, { status, workflowId: started.workflowId, runId: started.runId, targetSource: route.source });
  }

  async function onResolved(event: WebhookEnvelope['event']): Promise<Response> {
    const parsed = incidentDataSchema.safeParse(event.data);
    if (!parsed.success) return json(400, { error: 'event.data is not an incident' });
    const workflowId = workflowIdFor(parsed.data.id);
    try {
      await deps.client.workflow.getHandle(workflowId).signal(incidentResolvedSignal, {
        ...(event.agent?.summary ? { by: event.agent.summary.slice(0, 100) } : {}),
        reason: 'resolved in PagerDuty',
      });
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
    switch (event.event_type) {
      case 'incident.triggered':
        return onTriggered(event);
      case 'incident.resolved':
        return onResolved(event);
      default:
        return json(202, { status: 'ignored', eventType: event.event_type });
    }
  }

  async function onAction(request: Request): Promise<Response> {
    const body = await verified(request, true);
    if (body instanceof Response) return body;
    const parsed = actionSchema.safeParse(parse(body));
    if (!parsed.success) return json(400, { error: 'expected {action, incident: {id}, user: {id}}' });
    const a: IncidentAction = parsed.data;
    const incidentId = a.incident.id;
    const refuse = async (status: number, refusal: string, by: string) => {
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
      return json(200, { accepted: true, record });
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return refuse(404, 'no run for this incident', email);
      if (err instanceof DecisionRefusedError) return refuse(409, err.refusal, email);
      if (err instanceof NoWorkerError) return json(504, { accepted: false, refusal: err.message });
      throw err;
    }
  }

  return async function handle(request: Request): Promise<Response> {
    const { pathname } = new URL(request.url);
    try {
      const early = preflight(request.method, pathname);
      if (early) return json(early.status, { error: early.error }, early.headers);
      if (pathname === ROUTES.health) return json(200, { ok: true });
      return pathname === ROUTES.webhook ? await onWebhook(request) : await onAction(request);
    } catch (err) {
      log.error({ path: pathname, err }, 'request failed');
      // 5xx: PagerDuty redelivers, and the workflow id keeps the retry from starting a second run.
      return json(503, { error: 'temporarily unavailable' });
    }
  };
}
