/**
 * When a run pages people through PagerDuty responder requests: a backup override waiting for its second approver
 * pages `secondApprover`; an approval whose deadline is near (or was just extended because nobody answered) pages
 * `approvers`, once per deadline. Pure: the notifier sends what this returns.
 */
import type { RespondersConfig } from '../../config/runbook-file.js';
import type { RunbookEvent } from '../notify/events.js';

/** A responder request to send, and the marker the event's note carries so the same page is not sent twice. */
export interface ResponderPage {
  targets: RespondersConfig['approvers'];
  message: string;
  /** Present when the page is once per plan and deadline (not once per call): looked for among the notes first. */
  onceMarker?: string;
}

/** The page `event` calls for under `cfg`, or undefined. */
export function responderPageFor(
  event: RunbookEvent,
  cfg: RespondersConfig | undefined,
  now: Date,
): ResponderPage | undefined {
  if (!cfg) return undefined;
  if (event.type === 'decision' && event.record.accepted && event.record.awaitingSecondApprover) {
    if (cfg.secondApprover.length === 0) return undefined;
    return {
      targets: cfg.secondApprover,
      message:
        `Redis runbook: ${event.record.by} approved plan ${event.record.planId ?? '?'} without a confirmed backup; ` +
        `a second approver must confirm before anything runs. ${event.uiUrl}`,
    };
  }
  if (event.type !== 'approval-reminder' && event.type !== 'approval-escalated') return undefined;
  if (cfg.approvers.length === 0) return undefined;
  const left = Date.parse(event.deadline) - now.getTime();
  if (event.type === 'approval-reminder' && !(left <= cfg.nearDeadlineSeconds * 1000)) return undefined;
  return {
    targets: cfg.approvers,
    message:
      `Redis runbook: plan ${event.planId} waits for approval, deadline ${event.deadline}` +
      `${event.type === 'approval-escalated' ? ' (extended: nobody answered in time)' : ''}. ${event.uiUrl}`,
    onceMarker: `[redis-runbook paged approvers ${event.planId} ${event.deadline}]`,
  };
}
