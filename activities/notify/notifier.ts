import type { NotifyResult, RunbookEvent } from './events.js';

/**
 * Where the runbook reports what it does: PagerDuty notes and a Slack message in production, a log line locally.
 * Implementations must be safe to call twice with the same event (the activity that calls them may be retried).
 */
export interface Notifier {
  notify(event: RunbookEvent): Promise<NotifyResult | void>;
}

/** One line a run event, for terminals and log collectors. */
export function describeEvent(event: RunbookEvent): string {
  switch (event.type) {
    case 'started':
      return `runbook started for ${event.target.namespace}/${event.target.pod}: ${event.uiUrl}`;
    case 'plan-ready':
      return (
        `${event.findings.length} finding(s); plan ${event.plan.id} with ${event.plan.actions.length} action(s)` +
        (event.needsApproval.length > 0 ? `, waiting for approval of: ${event.needsApproval.join(', ')}` : '')
      );
    case 'approval-reminder':
      return `still waiting for approval of plan ${event.planId} (deadline ${event.deadline}): ${event.uiUrl}`;
    case 'approval-escalated':
      return `approval of plan ${event.planId} escalated; new deadline ${event.deadline}: ${event.uiUrl}`;
    case 'decision': {
      const r = event.record;
      const verdict = r.accepted ? r.decision : `${r.decision} refused (${r.refusal ?? 'no reason'})`;
      return `${verdict} by ${r.by}${r.reason ? `: ${r.reason}` : ''}`;
    }
    case 'target-busy':
      return `waiting for the target: incident ${event.holder.incidentId} (${event.holder.workflowId}) holds it`;
    case 'incident-linked':
      return `incident ${event.other.incidentId} (${event.other.workflowId}) waits for this run`;
    case 'breaker-open':
      return `circuit breaker open: ${event.recentRemediations} remediation(s) in ${event.windowSeconds} s (limit ${event.maxRemediations}); every action of plan ${event.planId} needs approval`;
    case 'backup-copied':
      return event.copy?.verified
        ? `backup copied off the server and restore-tested: ${event.copy.path} (${event.copy.bytes} bytes, ${event.copy.restoreTest.keys} keys)`
        : `backup NOT copied off the server: ${event.error ?? event.copy?.restoreTest.reason ?? 'unknown'}`;
    case 'finished':
      return `finished: ${event.report.outcome}: ${event.report.summary}`;
  }
}
