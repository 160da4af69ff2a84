/**
 * The exact text a proof of a decision signs: which run, which plan, which actions, which decision, by whom, when. The
 * CLI signs it with the approver's SSH key, a gateway (the PagerDuty receiver) with its secret, and the worker checks
 * either against the same text, so a signature cannot be moved to another run, plan, action set or decision.
 */
import type { Decision } from '../definitions.js';

/** The SSH signature namespace (`ssh-keygen -Y sign -n …`): a key's signatures for other uses do not count here. */
export const DECISION_SIGNATURE_NAMESPACE = 'redis-runbook-decision';

/** How far a proof's `signedAt` may be from the run's clock, in ms: an old signature cannot be replayed later. */
export const PROOF_MAX_AGE_MS = 10 * 60 * 1000;

/** The run a decision is about: both ids, so a signature for one run of an incident does not count for another. */
export interface DecisionScope {
  workflowId: string;
  /** The first run id of the run's chain: a signature stays good when the run continues as new. */
  runId: string;
}

/** The text to sign, one field per line (what `runbook approve --sign` shows before it signs). */
export function decisionMessage(d: Decision, scope: DecisionScope, signedAt: string): string {
  const actions = d.actions && d.actions.length > 0 ? [...new Set(d.actions)].sort().join(',') : '(all approvable)';
  return [
    'redis-runbook decision v1',
    `workflow: ${scope.workflowId}`,
    `run: ${scope.runId}`,
    `decision: ${d.decision}`,
    `plan: ${d.planId ?? '-'}`,
    `actions: ${actions}`,
    `override-backup: ${d.overrideBackup ? 'yes' : 'no'}`,
    `by: ${d.by.trim().toLowerCase()}`,
    `reason: ${(d.reason ?? '').replace(/\s+/g, ' ').trim()}`,
    `signed-at: ${signedAt}`,
    '',
  ].join('\n');
}
