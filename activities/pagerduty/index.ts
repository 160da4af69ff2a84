export {
  DEFAULT_PAGERDUTY_API_URL,
  DEFAULT_RETRY,
  PagerDutyClient,
  retryAfterMs,
  type IncidentAlert,
  type IncidentNote,
  type IncidentSummary,
  type PagerDutyClientOptions,
  type RetryPolicy,
} from './client.js';
export { PagerDutyError, PagerDutyFailureType } from './errors.js';
export {
  ChangeEvents,
  changeEventsOf,
  DEFAULT_PAGERDUTY_EVENTS_URL,
  type ChangeEvent,
  type ChangeEventsOptions,
} from './change-events.js';
export { MAX_NOTE_CHARS, noteMarker, renderNote } from './notes.js';
export { PagerDutyNotifier, type PagerDutyNotifierOptions } from './notifier.js';
