import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import type { RunbookEvent } from '../notify/events.js';
import type { Notifier } from '../notify/notifier.js';
import { callKey } from '../notify/call-key.js';
import { PagerDutyClient, type RetryPolicy } from './client.js';
import { PagerDutyError, PagerDutyFailureType } from './errors.js';
import { changeEventsOf, type ChangeEvents } from './change-events.js';
import { noteMarker, renderNote } from './notes.js';

/** What a {@link PagerDutyNotifier} is built from. */
export interface PagerDutyNotifierOptions {
  /** REST API key (`PAGERDUTY_API_TOKEN`). */
  token: string;
  /** Email of the PagerDuty user the notes come from (`PAGERDUTY_FROM_EMAIL`). */
  fromEmail: string;
  /** `PAGERDUTY_API_URL`, default `https://api.pagerduty.com`. */
  apiUrl?: string;
  /** Acknowledge the incident when the run starts. Default true. */
  acknowledgeOnStart?: boolean;
  /** Resolve the incident when the run ends `resolved` (verification passed). Default false. */
  resolveOnSuccess?: boolean;
  retry?: Partial<RetryPolicy>;
  /** Where a finished run's changes go as change events; none without a routing key. */
  changeEvents?: ChangeEvents;
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

  constructor(opts: PagerDutyNotifierOptions) {
    this.#client = new PagerDutyClient({
      token: opts.token,
      fromEmail: opts.fromEmail,
      ...(opts.apiUrl ? { apiUrl: opts.apiUrl } : {}),
      ...(opts.retry ? { retry: opts.retry } : {}),
    });
    this.#acknowledgeOnStart = opts.acknowledgeOnStart ?? true;
    this.#resolveOnSuccess = opts.resolveOnSuccess ?? false;
    this.#logger = opts.logger;
    this.#changes = opts.changeEvents;
  }

  async notify(event: RunbookEvent): Promise<void> {
    const incident = event.incidentId;
    try {
      const marker = noteMarker(event.type, callKey(event));
      if (event.type === 'finished' && this.#changes && !(await this.#client.hasNote(incident, marker))) {
        // Before the note: a retry that finds the note knows the change events went out before it.
        const changes = changeEventsOf(event.report, {
          routingKey: this.#changes.routingKey,
          at: new Date().toISOString(),
        });
        for (const change of changes) await this.#changes.send(change);
        this.#logger?.info({ incidentId: incident, changes: changes.length }, 'PagerDuty change events sent');
      }
      const posted = await this.#client.addNoteOnce(incident, renderNote(event), marker);
      if (event.type === 'started' && this.#acknowledgeOnStart) {
        await this.#client.setIncidentStatus(incident, 'acknowledged');
      }
      if (event.type === 'finished' && event.report.outcome === 'resolved' && this.#resolveOnSuccess) {
        await this.#client.setIncidentStatus(incident, 'resolved', event.report.summary.slice(0, 500));
      }
      this.#logger?.info({ incidentId: incident, event: event.type, posted }, 'PagerDuty updated');
    } catch (err) {
      if (!(err instanceof PagerDutyError)) throw err;
      this.#logger?.warn({ incidentId: incident, event: event.type, status: err.status }, err.message);
      throw ApplicationFailure.create({
        type: err.retryable ? PagerDutyFailureType.Unavailable : PagerDutyFailureType.Rejected,
        message: err.message,
        // The client already retried within the activity's time: another attempt would only stall the run.
        nonRetryable: true,
        cause: err,
      });
    }
  }
}
