/**
 * A local stand-in for PagerDuty's REST API over plain HTTP on a free loopback port. It records every request and
 * validates each one against the project's description of PagerDuty's API (`api/pagerduty-rest.yaml`: operation,
 * `Authorization`, required headers such as `From`, parameters, body schema); a request that does not validate is
 * answered 400 and kept in `violations`, which tests assert empty. Its answers are built from its state and checked
 * against the documented response schema too. It can be told to answer 429 (with `Retry-After`) or 500 for a while.
 * Under `/v2/` it is PagerDuty's Events API (`api/pagerduty-events.yaml`): change events, kept in `changeEvents`, for
 * the one routing key it knows.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { flatHeaders, readBody, stopServer } from '../http.js';
import type { Operation } from 'openapi-backend';
import { OpenApiDescription, PAGERDUTY_EVENTS_API, PAGERDUTY_REST_API } from '../openapi.js';
/** One request as received. */
export interface RecordedRequest {
  method: string;
  path: string;
  query: string;
  operationId?: string;
  headers: Record<string, string | undefined>;
  body?: unknown;
  status: number;
  errors: string[];
}

export interface StandInIncident {
  id: string;
  title: string;
  serviceId: string;
  status: 'triggered' | 'acknowledged' | 'resolved';
  notes: Array<{ id: string; content: string; created_at: string }>;
  /** `body.details` of each alert. */
  alerts: Array<Record<string, unknown>>;
  responderRequests: Array<{ requester_id: string; message: string; targets: Array<{ id: string; type: string }> }>;
  statusUpdates: string[];
}

export interface StandInUser {
  id: string;
  email: string;
  name: string;
}

/** A running stand-in. */
export interface PagerDutyStandIn {
  /** Base URL, e.g. `http://127.0.0.1:41234`: what `PAGERDUTY_API_URL` is set to. */
  url: string;
  /** The API key it accepts (`Authorization: Token token=<token>`). */
  token: string;
  /** The Events API integration key it accepts (`routing_key`); `url` is also `PAGERDUTY_EVENTS_URL`. */
  routingKey: string;
  /** Change events accepted, in order. */
  changeEvents: Array<{ routing_key: string; payload: { summary: string; [k: string]: unknown }; links?: unknown[] }>;
  requests: RecordedRequest[];
  /** Requests that did not validate against the document, and answers that did not either. */
  violations: string[];
  addIncident(i: Partial<StandInIncident> & Pick<StandInIncident, 'id'>): StandInIncident;
  addUser(u: StandInUser): void;
  incident(id: string): StandInIncident | undefined;
  /** What the account can do: without one, its operation answers 402 Payment Required. Both on by default. */
  abilities: { coordinatedResponding: boolean; statusUpdates: boolean };
  /** Answers the next `count` requests (matching `path` when given) with `status` instead of serving them. */
  failNext(count: number, status: 429 | 500 | 400, opts?: { retryAfterSeconds?: number; path?: RegExp }): void;
  /** Throws, listing them, if any request or answer did not validate. */
  assertAllValid(): void;
  stop(): Promise<void>;
}

export interface StandInOptions {
  token?: string;
  /** Defaults to `api/pagerduty-rest.yaml`. */
  api?: OpenApiDescription;
}

const ERRORS = {
  400: { message: 'Invalid Input Provided', code: 2001 },
  401: { message: 'Unauthorized', code: 2006 },
  402: { message: 'Payment Required', code: 2012 },
  404: { message: 'Not Found', code: 2100 },
  429: { message: 'Rate Limit Exceeded', code: 2020 },
  500: { message: 'Internal Server Error', code: 2000 },
} as const;

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** Starts the stand-in on a free port of 127.0.0.1. */
export async function startPagerDutyStandIn(opts: StandInOptions = {}): Promise<PagerDutyStandIn> {
  const api = opts.api ?? (await OpenApiDescription.load(PAGERDUTY_REST_API));
  const eventsApi = await OpenApiDescription.load(PAGERDUTY_EVENTS_API);
  const routingKey = 'standinroutingkey000000000000000';
  const changeEvents: PagerDutyStandIn['changeEvents'] = [];
  const token = opts.token ?? 'standin-token-0123456789';
  const incidents = new Map<string, StandInIncident>();
  const users = new Map<string, StandInUser>();
  const requests: RecordedRequest[] = [];
  const violations: string[] = [];
  const faults: Array<{ left: number; status: 429 | 500 | 400; retryAfterSeconds?: number; path?: RegExp }> = [];
  let noteSeq = 0;
  const abilities = { coordinatedResponding: true, statusUpdates: true };
  const paymentRequired = { status: 402, body: { error: ERRORS[402] } };

  const reference = (type: string, id: string, summary: string, path: string) => ({
    id,
    type,
    summary,
    self: `https://api.pagerduty.com/${path}/${id}`,
    html_url: `https://example.pagerduty.com/${path}/${id}`,
  });

  const incidentBody = (i: StandInIncident) => ({
    incident: {
      id: i.id,
      type: 'incident',
      summary: i.title,
      title: i.title,
      status: i.status,
      self: `https://api.pagerduty.com/incidents/${i.id}`,
      html_url: `https://example.pagerduty.com/incidents/${i.id}`,
      service: reference('service_reference', i.serviceId, 'redis', 'services'),
    },
  });
  const bot = () => reference('user_reference', 'PBOT001', 'redis-runbook', 'users');

  function serve(op: Operation, pathParams: Record<string, string>, json: unknown): { status: number; body: unknown } {
    const id = pathParams.id ?? '';
    const notFound = { status: 404, body: { error: ERRORS[404] } };
    if (op.operationId === 'getUser') {
      const u = users.get(id);
      if (!u) return notFound;
      return {
        status: 200,
        body: { user: { id: u.id, type: 'user', name: u.name, summary: u.name, email: u.email } },
      };
    }
    const incident = incidents.get(id);
    if (!incident) return notFound;
    switch (op.operationId) {
      case 'getIncident':
        return { status: 200, body: incidentBody(incident) };
      case 'updateIncident': {
        const status = (json as { incident: { status?: StandInIncident['status'] } }).incident.status;
        if (status) incident.status = status;
        return { status: 200, body: incidentBody(incident) };
      }
      case 'listIncidentNotes':
        return {
          status: 200,
          body: {
            notes: incident.notes.map((n) => ({
              ...n,
              user: bot(),
              channel: { summary: 'The PagerDuty website or APIs' },
            })),
          },
        };
      case 'createIncidentNote': {
        const note = {
          id: `PNOTE${++noteSeq}`,
          content: (json as { note: { content: string } }).note.content,
          created_at: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        };
        incident.notes.push(note);
        return { status: 200, body: { note: { ...note, user: bot() } } };
      }
      case 'createIncidentResponderRequest': {
        if (!abilities.coordinatedResponding) return paymentRequired;
        const r = json as {
          requester_id: string;
          message: string;
          responder_request_targets: Array<{ responder_request_target: { id: string; type: string } }>;
        };
        const targets = r.responder_request_targets.map((t) => t.responder_request_target);
        incident.responderRequests.push({ requester_id: r.requester_id, message: r.message, targets });
        return {
          status: 200,
          body: {
            responder_request: {
              incident: reference('incident_reference', incident.id, incident.title, 'incidents'),
              requester: reference('user_reference', r.requester_id, 'redis-runbook', 'users'),
              requested_at: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
              message: r.message,
              responder_request_targets: r.responder_request_targets,
            },
          },
        };
      }
      case 'createIncidentStatusUpdate': {
        if (!abilities.statusUpdates) return paymentRequired;
        const message = (json as { message: string }).message;
        incident.statusUpdates.push(message);
        return {
          status: 200,
          body: { status_update: { id: `PSTAT${incident.statusUpdates.length}`, message, sender: bot() } },
        };
      }
      case 'listIncidentAlerts': {
        const alerts = incident.alerts.map((details, n) => ({
          id: `PALRT${n + 1}`,
          type: 'alert',
          summary: incident.title,
          status: 'triggered',
          service: reference('service_reference', incident.serviceId, 'redis', 'services'),
          incident: reference('incident_reference', incident.id, incident.title, 'incidents'),
          body: { type: 'alert_body', contexts: [], details },
        }));
        return { status: 200, body: { alerts, limit: 100, offset: 0, more: false, total: alerts.length } };
      }
      default:
        return notFound;
    }
  }

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://standin');
      const raw = await readBody(req);
      const headers = flatHeaders(req);
      const method = req.method ?? 'GET';
      const events = url.pathname.startsWith('/v2/');
      const check = (events ? eventsApi : api).checkRequest({
        method,
        path: url.pathname,
        query: url.search,
        headers,
        body: raw,
      });
      // The REST description's only security scheme: an API key as `Authorization: Token token=<key>`.
      if (!events && check.operation && !/^Token token=\S+$/.test(headers.authorization ?? '')) {
        check.errors.push('header Authorization: expected "Token token=<API key>"');
      }
      const record: RecordedRequest = {
        method,
        path: url.pathname,
        query: url.search,
        ...(check.operation?.operationId ? { operationId: check.operation.operationId } : {}),
        headers,
        ...(check.json !== undefined ? { body: check.json } : {}),
        status: 0,
        errors: check.errors,
      };
      requests.push(record);
      const answer = (status: number, body: unknown, extra?: Record<string, string>) => {
        record.status = status;
        send(res, status, body, extra);
      };
      if (check.errors.length > 0 || !check.operation) {
        violations.push(`${method} ${url.pathname}${url.search}: ${check.errors.join('; ')}`);
        if (events) answer(400, { status: 'invalid event', message: 'Event object is invalid', errors: check.errors });
        else answer(400, { error: { ...ERRORS[400], errors: check.errors } });
        return;
      }
      if (events) {
        const event = check.json as PagerDutyStandIn['changeEvents'][number];
        const fault = faults.find((f) => f.left > 0 && (!f.path || f.path.test(url.pathname)));
        if (fault) {
          fault.left--;
          answer(fault.status, { status: 'error', message: ERRORS[fault.status].message });
        } else if (event.routing_key !== routingKey) {
          answer(400, { status: 'invalid event', message: 'Event object is invalid', errors: ['unknown routing_key'] });
        } else {
          changeEvents.push(event);
          answer(202, { status: 'success', message: 'Change event processed' });
        }
        return;
      }
      if (headers.authorization !== `Token token=${token}`) {
        answer(401, { error: ERRORS[401] });
        return;
      }
      const fault = faults.find((f) => f.left > 0 && (!f.path || f.path.test(url.pathname)));
      if (fault) {
        fault.left--;
        const extra: Record<string, string> =
          fault.status === 429 && fault.retryAfterSeconds !== undefined
            ? { 'retry-after': String(fault.retryAfterSeconds), 'ratelimit-reset': String(fault.retryAfterSeconds) }
            : {};
        answer(fault.status, { error: ERRORS[fault.status] }, extra);
        return;
      }
      const { status, body } = serve(check.operation, check.pathParams, check.json);
      const responseErrors = api.checkResponse(check.operation, status, body);
      if (responseErrors.length > 0)
        violations.push(`answer to ${method} ${url.pathname}: ${responseErrors.join('; ')}`);
      answer(status, body);
    })().catch((err: unknown) => {
      violations.push(`stand-in failure: ${String(err)}`);
      if (!res.headersSent) send(res, 500, { error: ERRORS[500] });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    token,
    routingKey,
    changeEvents,
    requests,
    violations,
    addIncident(i) {
      const incident: StandInIncident = {
        title: 'Redis is down',
        serviceId: 'PSVC001',
        status: 'triggered',
        notes: [],
        alerts: [],
        responderRequests: [],
        statusUpdates: [],
        ...i,
      };
      incidents.set(incident.id, incident);
      return incident;
    },
    addUser(u) {
      users.set(u.id, u);
    },
    incident: (id) => incidents.get(id),
    abilities,
    failNext(count, status, o = {}) {
      faults.push({ left: count, status, ...o });
    },
    assertAllValid() {
      if (violations.length > 0) throw new Error(`PagerDuty stand-in saw invalid traffic:\n${violations.join('\n')}`);
    },
    stop: () => stopServer(server),
  };
}
