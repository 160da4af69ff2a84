/**
 * The runbook's own metrics, through the SDK's metric meter: the worker's Prometheus endpoint
 * (`RUNBOOK_METRICS_ADDRESS`) serves them beside the SDK's, and a replay never emits them again. Figures only: no
 * incident id or pod in a label (unbounded), just the outcome, phase, decision and channel.
 */
import { metricMeter } from '@temporalio/workflow';

export const runbookMetrics = {
  /** How long the run spent in `phase` (workflow time, so a replay gives the same figure). */
  phaseDone(phase: string, ms: number): void {
    metricMeter
      .createHistogram('runbook_phase_duration', 'int', 'ms', 'Time a run spent in each phase')
      .record(Math.max(0, Math.round(ms)), { phase });
  },
  /** A run ended: by outcome, and the keys its actions changed. */
  runFinished(outcome: string, keysChanged: number): void {
    metricMeter.createCounter('runbook_runs_finished', 'runs', 'Runs ended, by outcome').add(1, { outcome });
    if (keysChanged > 0)
      metricMeter.createCounter('runbook_keys_changed', 'keys', 'Keys deleted, expired or trimmed').add(keysChanged);
  },
  /** A decision arrived: taken or refused, through which channel; an accepted one ends the approval wait. */
  decided(decision: string, accepted: boolean, via: string, waitedMs?: number): void {
    metricMeter
      .createCounter('runbook_decisions', 'decisions', 'Decisions received, by decision, result and channel')
      .add(1, { decision, accepted: String(accepted), via });
    if (waitedMs !== undefined)
      metricMeter
        .createHistogram('runbook_approval_wait', 'int', 'ms', 'From the plan waiting to the decision that ended it')
        .record(Math.max(0, Math.round(waitedMs)));
  },
  /** A note or status change PagerDuty (or the log) did not take. */
  notificationFailed(event: string): void {
    metricMeter
      .createCounter('runbook_notifications_failed', 'notifications', 'Notifications that failed, by event')
      .add(1, { event });
  },
};
