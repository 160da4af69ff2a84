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
export { MAX_NOTE_CHARS, noteMarker, renderNote } from './notes.js';
export { PagerDutyNotifier, type PagerDutyNotifierOptions } from './notifier.js';
