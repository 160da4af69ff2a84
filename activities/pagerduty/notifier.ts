import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import type { RunbookEvent } from '../notify/events.js';
import type { Notifier } from '../notify/notifier.js';
import { callKey } from '../notify/call-key.js';
import { PagerDutyClient, type RetryPolicy } from './client.js';
import { PagerDutyError, PagerDutyFailureType } from './errors.js';
import { changeEventsOf, type ChangeEvents } from './change-events.js';
import { noteMarker, renderNote } from './notes.js';
import { responderPageFor } from './responders.js';
import type { RespondersConfig } from '../../config/runbook-file.js';

/** The REST client a {@link PagerDutyNotifier} writes with: one already made (the worker shares its), or its options. */
export type PagerDutyNotifierClient =
  | { client: PagerDutyClient }
  | {
      /** REST API key (`PAGERDUTY_API_TOKEN`). */
      token: string;
      /** Email of the PagerDuty user the notes come from (`PAGERDUTY_FROM_EMAIL`). */
      fromEmail: string;
      /** `PAGERDUTY_API_URL`, default `https://api.pagerduty.com`. */
      apiUrl?: string;
      retry?: Partial<RetryPolicy>;
    };

/** What a {@link PagerDutyNotifier} is built from. */
export type PagerDutyNotifierOptions = PagerDutyNotifierClient & PagerDutyNotifierSettings;

export interface PagerDutyNotifierSettings {
  /** Acknowledge the incident when the run starts. Default true. */
  acknowledgeOnStart?: boolean;
  /** Resolve the incident when the run ends `resolved` (verification passed). Default false. */
  resolveOnSuccess?: boolean;
  /** Where a finished run's changes go as change events; none without a routing key. */
  changeEvents?: ChangeEvents;
  /** A status update on the incident when the run ends. Default true; skipped where the account has none. */
  statusUpdates?: boolean;
  /** Who responder requests page, and when (`pagerduty.responders`); none when absent. */
  responders?: RespondersConfig;
  now?: () => Date;
  logger?: Logger;
}

/**
 * Writes the run's events to its PagerDuty incident as notes, acknowledges it at the start and resolves it after a
 * verified fix (both configurable). Safe to retry: a note is posted only if its marker is not on the incident yet,
 * and status changes look at the incident's status first.
 *
 * Throws a non-retryable `ApplicationFailure` once its own bounded retries are spent: the workflow catches it and
 * records it in `status.notificationErrors`, and the run goes on.
 */
export class PagerDutyNotifier implements Notifier {
  readonly #client: PagerDutyClient;
  readonly #acknowledgeOnStart: boolean;
  readonly #resolveOnSuccess: boolean;
  readonly #logger: Logger | undefined;
  readonly #changes: ChangeEvents | undefined;
  readonly #statusUpdates: boolean;
  readonly #responders: RespondersConfig | undefined;
  readonly #now: () => Date;

  constructor(opts: PagerDutyNotifierOptions) {
    this.#client =
      'client' in opts
        ? opts.client
        : new PagerDutyClient({
            token: opts.token,
            fromEmail: opts.fromEmail,
            ...(opts.apiUrl ? { apiUrl: opts.apiUrl } : {}),
            ...(opts.retry ? { retry: opts.retry } : {}),
          });
    this.#acknowledgeOnStart = opts.acknowledgeOnStart ?? true;
    this.#resolveOnSuccess = opts.resolveOnSuccess ?? false;
    this.#logger = opts.logger;
    this.#changes = opts.changeEvents;
    this.#statusUpdates = opts.statusUpdates ?? true;
    this.#responders = opts.responders;
    this.#now = opts.now ?? (() => new Date());
  }

  async notify(event: RunbookEvent): Promise<void> {
    const incident = event.incidentId;
    try {
      const marker = noteMarker(event.type, callKey(event));
      // Before the note, only while it is absent: a retry that finds the note knows these went out before it.
      const before = this.hasWorkBeforeNote(event) && !(await this.#client.hasNote(incident, marker));
      const extra = before ? await this.beforeNote(event) : [];
      const posted = await this.#client.addNoteOnce(incident, [renderNote(event), ...extra].join('\n'), marker);
      if (event.type === 'started' && this.#acknowledgeOnStart) {
        await this.#client.setIncidentStatus(incident, 'acknowledged');
      }
      if (event.type === 'finished' && event.report.outcome === 'resolved' && this.#resolveOnSuccess) {
        await this.#client.setIncidentStatus(incident, 'resolved', event.report.summary.slice(0, 500));
      }
      this.#logger?.info({ incidentId: incident, event: event.type, posted }, 'PagerDuty updated');
    } catch (err) {
      this.fail(event, err);
    }
  }

  private hasWorkBeforeNote(event: RunbookEvent): boolean {
    if (event.type === 'finished') return Boolean(this.#changes) || this.#statusUpdates;
    return responderPageFor(event, this.#responders, this.#now()) !== undefined;
  }

  /** Change events and a status update at the end, responder requests while a decision waits; lines for the note. */
  private async beforeNote(event: RunbookEvent): Promise<string[]> {
    const incident = event.incidentId;
    const lines: string[] = [];
    if (event.type === 'finished' && this.#changes) {
      const changes = changeEventsOf(event.report, {
        routingKey: this.#changes.routingKey,
        at: new Date().toISOString(),
      });
      for (const change of changes) await this.#changes.send(change);
      this.#logger?.info({ incidentId: incident, changes: changes.length }, 'PagerDuty change events sent');
    }
    if (event.type === 'finished' && this.#statusUpdates) {
      const message = `Redis runbook finished: ${event.report.outcome}. ${event.report.summary} ${event.uiUrl}`;
      if (await this.unlessUnavailable(event, 'status updates', () => this.#client.postStatusUpdate(incident, message)))
        lines.push('Status update sent to the incident’s subscribers.');
    }
    const page = responderPageFor(event, this.#responders, this.#now());
    if (page && !(page.onceMarker && (await this.#client.hasNote(incident, page.onceMarker)))) {
      const requesterId = this.#responders!.requesterId;
      const sent = await this.unlessUnavailable(event, 'responder requests', () =>
        this.#client.requestResponders(incident, { requesterId, message: page.message, targets: page.targets }),
      );
      lines.push(
        sent
          ? `Paged ${page.targets.map((t) => `${t.type} ${t.id}`).join(', ')} (responder request).`
          : 'Could not page anyone: this PagerDuty account has no responder requests.',
      );
      if (page.onceMarker) lines.push(page.onceMarker);
    }
    return lines;
  }

  /** Runs `write`; false (and a log line) when the account lacks the feature (402, 403), other errors rethrown. */
  private async unlessUnavailable(event: RunbookEvent, feature: string, write: () => Promise<void>): Promise<boolean> {
    try {
      await write();
      return true;
    } catch (err) {
      if (!(err instanceof PagerDutyError) || (err.status !== 402 && err.status !== 403)) throw err;
      this.#logger?.warn({ incidentId: event.incidentId, status: err.status }, `PagerDuty ${feature} not available`);
      return false;
    }
  }

  /** A PagerDuty error as a non-retryable failure the run records; anything else as it is. */
  private fail(event: RunbookEvent, err: unknown): never {
    if (!(err instanceof PagerDutyError)) throw err;
    this.#logger?.warn({ incidentId: event.incidentId, event: event.type, status: err.status }, err.message);
    throw ApplicationFailure.create({
      type: err.retryable ? PagerDutyFailureType.Unavailable : PagerDutyFailureType.Rejected,
      message: err.message,
      // The client already retried within the activity's time: another attempt would only stall the run.
      nonRetryable: true,
      cause: err,
    });
  }
}
