import { allHandlersFinished, condition, continueAsNew, patched, workflowInfo } from '@temporalio/workflow';
import { CONTINUE_APPROVAL_PATCH } from '../definitions.js';
import type { RemediationPlan } from '../logic/actions.js';
import { CONTINUE_AFTER_EVENTS, reminderInterval } from '../logic/limits.js';
import { now } from '../clock.js';
import type { Ending, RunbookRun } from '../run-state.js';

/** The history has grown enough that the wait should go on in a fresh one. */
function historyFull(): boolean {
  const info = workflowInfo();
  return info.continueAsNewSuggested || info.historyLength >= CONTINUE_AFTER_EVENTS;
}

/**
 * Waits for a decision on `plan` until the policy's deadline, reminding the incident on the way, and escalating once
 * at the deadline if the policy says so. Returns when decided, resolved elsewhere, or out of time. A `continuable`
 * wait (the plan's own) continues as new when the history fills up, and a run resumed that way waits on where it was.
 */
export async function waitForDecision(
  run: RunbookRun,
  plan: RemediationPlan,
  approvable: string[],
  continuable = false,
): Promise<void> {
  const { status } = run;
  const policy = run.settings.approval;
  const resumed = continuable ? run.input.resume : undefined;
  status.plan = plan;
  status.awaitingApproval = approvable;
  let deadlineMs = resumed ? Date.parse(status.approvalDeadline!) : now().getTime() + policy.timeoutSeconds * 1000;
  let escalated = resumed?.escalated ?? false;
  status.approvalDeadline = new Date(deadlineMs).toISOString();
  await run.enter('awaiting-approval');
  const mayContinue = continuable && run.v2 && patched(CONTINUE_APPROVAL_PATCH);
  for (;;) {
    if (mayContinue && historyFull()) {
      // Every note out and every handler done first: nothing in flight is lost, and a decision that landed wins.
      run.continuing = true;
      await condition(allHandlersFinished);
      await run.delivered();
      run.continuing = false;
      if (run.decided()) break;
      status.continuedAsNew = (status.continuedAsNew ?? 0) + 1;
      await continueAsNew<(input: typeof run.input) => Promise<unknown>>({
        ...run.input,
        resume: run.snapshot(escalated),
      });
    }
    const left = deadlineMs - now().getTime();
    if (left <= 0) {
      if (policy.onTimeout !== 'escalate' || escalated) break;
      escalated = true;
      deadlineMs = now().getTime() + policy.timeoutSeconds * 1000;
      status.approvalDeadline = new Date(deadlineMs).toISOString();
      run.showDetails();
      await run.tell({ type: 'approval-escalated', planId: plan.id, deadline: status.approvalDeadline });
      continue;
    }
    const every = reminderInterval(policy.timeoutSeconds, policy.reminderIntervalSeconds);
    const slice = every > 0 ? Math.min(left, every * 1000) : left;
    const woke = await condition(() => run.decided() || (mayContinue && historyFull()), slice, {
      summary: `waiting for approval of ${plan.id}`,
    });
    if (woke && run.decided()) break;
    if (woke) continue; // the history filled up: continue as new above
    if (now().getTime() < deadlineMs)
      await run.tell({ type: 'approval-reminder', planId: plan.id, deadline: status.approvalDeadline });
  }
  status.awaitingApproval = [];
}

/**
 * Runbook step 7: a human approves the risky actions (or a subset), or rejects them. Ends the run on a rejection, at
 * the deadline, when the incident was resolved meanwhile, or when the backup failed and nobody overrode it.
 */
export async function awaitApproval(run: RunbookRun): Promise<Ending | undefined> {
  if (run.needsApproval.length === 0) return undefined;
  const { status } = run;
  await waitForDecision(run, status.plan!, run.needsApproval, true);
  if (run.incidentResolved && run.approvedActions === undefined && !run.rejected)
    return {
      outcome: 'incident-resolved',
      summary: `The incident was resolved while the plan waited for approval${run.resolvedBy()}; nothing was changed.`,
    };
  if (run.rejected) {
    const r = status.decisions.filter((d) => d.accepted && d.decision === 'reject').pop();
    return {
      outcome: 'rejected',
      summary: `Rejected by ${r?.by ?? 'unknown'}: ${r?.reason ?? ''}. Nothing was changed.`,
    };
  }
  if (run.approvedActions === undefined && status.backup && !status.backup.confirmed)
    return {
      outcome: 'backup-failed',
      summary: `No confirmed backup (${status.backup.error ?? status.backup.status}) and no backup override by two approvers by ${status.approvalDeadline}: nothing was changed. A human must take over.`,
    };
  if (run.approvedActions === undefined)
    return {
      outcome: 'timed-out',
      summary: `No decision by ${status.approvalDeadline}: rejected by policy. Nothing was changed.`,
    };
  run.approved = run.approvedActions;
  return undefined;
}
