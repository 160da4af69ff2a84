/**
 * The PagerDuty REST calls the runbook makes, through `@pagerduty/pdjs`, with bounded retries: back-off on 429 (as
 * long as the server asks, within a budget) and 5xx, none on other 4xx. The API token lives only inside the pdjs call;
 * no message, error or log line built here contains it.
 */
import { api } from '@pagerduty/pdjs';
import { PagerDutyError } from './errors.js';

/** PagerDuty's public REST endpoint; `PAGERDUTY_API_URL` points elsewhere (tests, a proxy). */
export const DEFAULT_PAGERDUTY_API_URL = 'https://api.pagerduty.com';

/** How hard a call tries before it gives up. */
export interface RetryPolicy {
  /** Attempts in all, the first included. Default 5. */
  maxAttempts: number;
  /** First back-off after a 5xx or network error, doubled each time, in ms. Default 500. */
  baseDelayMs: number;
  /** Longest back-off this client picks by itself, in ms. Default 8000. */
  maxDelayMs: number;
  /** Longest wait a 429's `Retry-After`/`ratelimit-reset` may ask for; a longer one ends the call. Default 10 000. */
  maxRetryAfterMs: number;
  /** Total time for one call, waits included, in ms; kept under the notify activity's 30 s. Default 20 000. */
  budgetMs: number;
  /** pdjs retries a 429 three times by itself after this wait, before this client sees it. Default 1000. */
  pdjsRetryTimeoutMs: number;
  /** Timeout of one HTTP request, in ms. Default 10 000. */
  requestTimeoutMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 5,
  baseDelayMs: 500,
  maxDelayMs: 8000,
  maxRetryAfterMs: 10_000,
  budgetMs: 20_000,
  pdjsRetryTimeoutMs: 1000,
  requestTimeoutMs: 10_000,
};

/** What a {@link PagerDutyClient} is built from. */
export interface PagerDutyClientOptions {
  /** REST API key (`PAGERDUTY_API_TOKEN`). Kept in a private field, never logged. */
  token: string;
  /** Email of a PagerDuty user, sent as `From` on writes (`PAGERDUTY_FROM_EMAIL`). */
  fromEmail: string;
  /** Base URL, default {@link DEFAULT_PAGERDUTY_API_URL}; plain `http://` works (pdjs gets a full per-call URL). */
  apiUrl?: string;
  retry?: Partial<RetryPolicy>;
}

/** An alert of an incident, as much of it as routing reads. */
export interface IncidentAlert {
  id: string;
  status?: string;
  summary?: string;
  body?: { details?: unknown };
}

/** An incident, as much of it as the runbook reads. */
export interface IncidentSummary {
  id: string;
  status: 'triggered' | 'acknowledged' | 'resolved';
  title?: string;
  html_url?: string;
  service?: { id: string };
}

export interface IncidentNote {
  id: string;
  content: string;
}

type Method = 'GET' | 'POST' | 'PUT';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Milliseconds a 429 asks to wait: `Retry-After` (seconds or an HTTP date), else `ratelimit-reset` (seconds). */
export function retryAfterMs(headers: { get(name: string): string | null }, now = Date.now()): number | undefined {
  const retryAfter = headers.get('retry-after')?.trim();
  if (retryAfter) {
    if (/^\d+(\.\d+)?$/.test(retryAfter)) return Math.ceil(Number(retryAfter) * 1000);
    const at = Date.parse(retryAfter);
    if (!Number.isNaN(at)) return Math.max(0, at - now);
  }
  const reset = headers.get('ratelimit-reset')?.trim();
  if (reset && /^\d+(\.\d+)?$/.test(reset)) return Math.ceil(Number(reset) * 1000);
  return undefined;
}

interface PdResponse {
  status: number;
  ok: boolean;
  headers: { get(name: string): string | null };
  data?: unknown;
}

function isResponse(x: unknown): x is PdResponse {
  return typeof x === 'object' && x !== null && typeof (x as PdResponse).status === 'number' && 'headers' in x;
}

function errorDetail(data: unknown): string {
  const e = (data as { error?: { message?: unknown; errors?: unknown } } | undefined)?.error;
  if (!e) return '';
  const extra = Array.isArray(e.errors) ? e.errors.filter((x) => typeof x === 'string').join('; ') : '';
  return [typeof e.message === 'string' ? e.message : '', extra].filter(Boolean).join(': ');
}

/** The REST calls of the runbook: notes, acknowledge/resolve, alerts, users. */
export class PagerDutyClient {
  readonly apiUrl: string;
  readonly fromEmail: string;
  readonly #token: string;
  readonly #retry: RetryPolicy;

  constructor(opts: PagerDutyClientOptions) {
    if (!opts.token) throw new Error('PagerDuty API token missing (PAGERDUTY_API_TOKEN)');
    if (!opts.fromEmail) throw new Error('PagerDuty From email missing (PAGERDUTY_FROM_EMAIL)');
    this.#token = opts.token;
    this.fromEmail = opts.fromEmail;
    this.apiUrl = (opts.apiUrl ?? DEFAULT_PAGERDUTY_API_URL).replace(/\/+$/, '');
    this.#retry = { ...DEFAULT_RETRY, ...opts.retry };
  }

  /**
   * One REST call with the retry policy. Resolves with the parsed JSON body of a 2xx answer.
   * @throws {PagerDutyError} `retryable: false` for a 4xx other than 429; `retryable: true` once 429s or 5xx outlast
   * the attempts, the budget, or ask for a longer wait than `maxRetryAfterMs`.
   */
  async request(method: Method, path: string, data?: object): Promise<unknown> {
    const p = this.#retry;
    const deadline = Date.now() + p.budgetMs;
    const what = `${method} ${path}`;
    for (let attempt = 1; ; attempt++) {
      let res: PdResponse | undefined;
      let networkError: unknown;
      try {
        res = await api({
          token: this.#token,
          url: `${this.apiUrl}${path}`,
          method,
          // pdjs turns `data` into a query string on GET; we send none.
          ...(method === 'GET' ? {} : { data }),
          headers: {
            // The document's enum for Content-Type is exactly `application/json` (pdjs adds `; charset=utf-8`).
            'Content-Type': 'application/json',
            ...(method === 'GET' ? {} : { From: this.fromEmail }),
          },
          retryTimeout: p.pdjsRetryTimeoutMs,
          // pdjs's own request timer only keeps the process alive (it aborts nothing): the signal times out instead.
          requestTimeout: 0,
          signal: AbortSignal.timeout(p.requestTimeoutMs),
        });
      } catch (err) {
        // pdjs rejects with the Response itself when the body is not JSON (a proxy's 502 page).
        if (isResponse(err)) res = err;
        else networkError = err;
      }
      if (res?.ok) return res.data;

      const status = res?.status;
      const retryable = status === undefined || status === 429 || status >= 500;
      const reason =
        status === undefined
          ? `network error: ${networkError instanceof Error ? networkError.message : String(networkError)}`
          : `${status}${errorDetail(res?.data) ? ` ${errorDetail(res?.data)}` : ''}`;
      if (!retryable) throw new PagerDutyError(`PagerDuty ${what}: ${reason}`, { status, retryable: false });

      let wait = Math.min(p.maxDelayMs, p.baseDelayMs * 2 ** (attempt - 1));
      if (status === 429 && res) {
        const asked = retryAfterMs(res.headers);
        if (asked !== undefined && asked > p.maxRetryAfterMs) {
          throw new PagerDutyError(`PagerDuty ${what}: 429 rate limited for ${Math.round(asked / 1000)} s`, {
            status,
            retryable: true,
          });
        }
        if (asked !== undefined) wait = asked;
      }
      if (attempt >= p.maxAttempts || Date.now() + wait > deadline) {
        throw new PagerDutyError(`PagerDuty ${what}: ${reason} (gave up after ${attempt} attempt(s))`, {
          status,
          retryable: true,
          cause: networkError,
        });
      }
      await sleep(wait);
    }
  }

  /** `GET /incidents/{id}`. */
  async getIncident(id: string): Promise<IncidentSummary> {
    const data = (await this.request('GET', `/incidents/${encodeURIComponent(id)}`)) as { incident: IncidentSummary };
    return data.incident;
  }

  /** `GET /incidents/{id}/alerts` (first page, up to 100: routing needs only a few). */
  async getIncidentAlerts(id: string): Promise<IncidentAlert[]> {
    const data = (await this.request('GET', `/incidents/${encodeURIComponent(id)}/alerts?limit=100`)) as {
      alerts?: IncidentAlert[];
    };
    return data.alerts ?? [];
  }

  /** `GET /incidents/{id}/notes`. */
  async listNotes(id: string): Promise<IncidentNote[]> {
    const data = (await this.request('GET', `/incidents/${encodeURIComponent(id)}/notes`)) as {
      notes?: IncidentNote[];
    };
    return data.notes ?? [];
  }

  /** `POST /incidents/{id}/notes`. Not idempotent by itself: see {@link PagerDutyClient.addNoteOnce}. */
  async addNote(id: string, content: string): Promise<IncidentNote> {
    const data = (await this.request('POST', `/incidents/${encodeURIComponent(id)}/notes`, {
      note: { content },
    })) as { note: IncidentNote };
    return data.note;
  }

  /** Whether a note containing `marker` is on the incident. */
  async hasNote(id: string, marker: string): Promise<boolean> {
    const notes = await this.listNotes(id);
    return notes.some((n) => typeof n.content === 'string' && n.content.includes(marker));
  }

  /**
   * Adds a note unless one containing `marker` is already there, so a retried call posts it once. Returns whether
   * it posted.
   */
  async addNoteOnce(id: string, content: string, marker: string): Promise<boolean> {
    if (await this.hasNote(id, marker)) return false;
    await this.addNote(id, content.includes(marker) ? content : `${content}\n${marker}`);
    return true;
  }

  /**
   * Moves an incident to `acknowledged` or `resolved` unless it is there already or further along: acknowledging a
   * resolved incident would reopen it. Returns whether it changed anything.
   */
  async setIncidentStatus(id: string, status: 'acknowledged' | 'resolved', resolution?: string): Promise<boolean> {
    const current = await this.getIncident(id);
    if (current.status === status || current.status === 'resolved') return false;
    await this.request('PUT', `/incidents/${encodeURIComponent(id)}`, {
      incident: {
        type: 'incident_reference',
        status,
        ...(status === 'resolved' && resolution ? { resolution } : {}),
      },
    });
    return true;
  }

  /**
   * Pages `targets` (users, escalation policies) to join the incident (`POST /incidents/{id}/responder_requests`),
   * with `message` (PagerDuty's limit: 1,000 characters). Needs the account's coordinated responding (else 402).
   */
  async requestResponders(
    id: string,
    request: {
      requesterId: string;
      message: string;
      targets: Array<{ type: 'user' | 'escalation_policy'; id: string }>;
    },
  ): Promise<void> {
    await this.request('POST', `/incidents/${encodeURIComponent(id)}/responder_requests`, {
      requester_id: request.requesterId,
      message: request.message.slice(0, 1000),
      responder_request_targets: request.targets.map((t) => ({
        responder_request_target: { id: t.id, type: `${t.type}_reference` },
      })),
    });
  }

  /** A status update for the incident's stakeholders (`POST /incidents/{id}/status_updates`). */
  async postStatusUpdate(id: string, message: string): Promise<void> {
    await this.request('POST', `/incidents/${encodeURIComponent(id)}/status_updates`, {
      message: message.slice(0, 1000),
    });
  }

  /** The email of a PagerDuty user (`GET /users/{id}`), as approvals are checked by email. */
  async getUserEmail(userId: string): Promise<string> {
    const data = (await this.request('GET', `/users/${encodeURIComponent(userId)}`)) as { user?: { email?: unknown } };
    const email = data.user?.email;
    if (typeof email !== 'string' || !email) throw new PagerDutyError(`PagerDuty user ${userId} has no email`, {});
    return email;
  }
}
