/**
 * PagerDuty change events (Events API v2, `POST /v2/change/enqueue`): each change the run made, shown in the service's
 * Recent Changes and the incident's Related Changes, where responders look for what changed. Informational: they
 * create no incident and page nobody.
 */
import type { ActionResult } from '../../workflows/logic/actions.js';
import type { RunbookReport } from '../../workflows/definitions.js';
import { retryAfterMs } from './client.js';
import { PagerDutyError } from './errors.js';

/** The public Events API. */
export const DEFAULT_PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com';

/** One change event as PagerDuty takes it (`api/pagerduty-events.yaml`). */
export interface ChangeEvent {
  routing_key: string;
  payload: { summary: string; timestamp: string; source?: string; custom_details?: object };
  links?: Array<{ href: string; text?: string }>;
}

export interface ChangeEventsOptions {
  /** `PAGERDUTY_ROUTING_KEY`: the integration key of an Events API v2 integration on the Redis service. */
  routingKey: string;
  /** `PAGERDUTY_EVENTS_URL`, default {@link DEFAULT_PAGERDUTY_EVENTS_URL}. */
  eventsUrl?: string;
  /** Attempts on 429, 5xx and network errors. Default 3. */
  maxAttempts?: number;
  baseDelayMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The changes of a finished run, one event each: the actions that succeeded (a CONFIG SET, a cleanup, a restart…). */
export function changeEventsOf(
  report: RunbookReport,
  opts: { routingKey: string; source?: string; at: string },
): ChangeEvent[] {
  const changed = (r: ActionResult) => r.ok && !r.detail.startsWith('not approved');
  return report.results.filter(changed).map((r) => ({
    routing_key: opts.routingKey,
    payload: {
      summary: `redis-runbook ${r.id}${opts.source ? ` on ${opts.source}` : ''}: ${r.detail}`.slice(0, 1024),
      timestamp: opts.at,
      ...(opts.source ? { source: opts.source.slice(0, 255) } : {}),
      custom_details: {
        incident: report.incidentId,
        action: r.id,
        plan: report.plan?.id,
        approvedBy: report.approvedBy,
        outcome: report.outcome,
        ...(r.keysTouched !== undefined ? { keysTouched: r.keysTouched } : {}),
        ...(r.bytesFreed !== undefined ? { bytesFreed: r.bytesFreed } : {}),
        ...(r.previous ? { previous: r.previous } : {}),
      },
    },
    links: [{ href: report.uiUrl, text: 'The run in the Temporal UI' }],
  }));
}

/** Sends change events, retrying 429 (after `Retry-After`), 5xx and network errors a few times. */
export class ChangeEvents {
  readonly #url: string;
  readonly routingKey: string;
  readonly #attempts: number;
  readonly #baseDelayMs: number;

  constructor(opts: ChangeEventsOptions) {
    this.routingKey = opts.routingKey;
    this.#url = `${(opts.eventsUrl ?? DEFAULT_PAGERDUTY_EVENTS_URL).replace(/\/+$/, '')}/v2/change/enqueue`;
    this.#attempts = opts.maxAttempts ?? 3;
    this.#baseDelayMs = opts.baseDelayMs ?? 500;
  }

  /** @throws {PagerDutyError} `retryable: false` on a 4xx other than 429 (an invalid event or key). */
  async send(event: ChangeEvent): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      let status: number | undefined;
      let wait = this.#baseDelayMs * 2 ** (attempt - 1);
      let reason: string;
      try {
        const res = await fetch(this.#url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(event),
          signal: AbortSignal.timeout(10_000),
        });
        if (res.ok) return;
        status = res.status;
        const body = (await res.json().catch(() => ({}))) as { message?: string; errors?: string[] };
        reason = `${status} ${[body.message, ...(body.errors ?? [])].filter(Boolean).join(': ')}`.trim();
        if (status !== 429 && status < 500)
          throw new PagerDutyError(`PagerDuty change event: ${reason}`, { status, retryable: false });
        if (status === 429) wait = retryAfterMs(res.headers) ?? wait;
      } catch (err) {
        if (err instanceof PagerDutyError) throw err;
        reason = `network error: ${err instanceof Error ? err.message : String(err)}`;
      }
      if (attempt >= this.#attempts)
        throw new PagerDutyError(`PagerDuty change event: ${reason} (gave up after ${attempt} attempt(s))`, {
          status,
          retryable: true,
        });
      await sleep(Math.min(wait, 10_000));
    }
  }
}
