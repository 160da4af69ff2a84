import { condition, getExternalWorkflowHandle, log, workflowInfo } from '@temporalio/workflow';
import { coordination } from '../activities.js';
import type { LeaseAsk } from '../../activities/temporal/index.js';
import { lockWorkflowIdFor, releaseLeaseSignal, targetLabel, type LeaseRequest } from '../definitions.js';
import { failureMessage, type Ending, type RunbookRun } from '../run-state.js';
import { gatherEvidence } from './evidence.js';
import { planRemediation } from './plan.js';

/** The cooldown of runs whose settings predate it. */
const DEFAULT_COOLDOWN = { maxRemediations: 3, windowSeconds: 3600 };

/**
 * Between the plan and the backup: one run at a time backs up and changes a Redis target. The run asks the target's
 * coordinator (`target-lock.ts`) and waits its turn; if another incident's run held the target, it diagnoses and
 * plans again on fresh evidence (that run may have fixed it). Past the target's cooldown every action needs a person.
 */
export async function holdTarget(run: RunbookRun): Promise<Ending | undefined> {
  if (!run.v2) return undefined;
  const { status, input } = run;
  const coordinator = lockWorkflowIdFor(input.target);
  const cooldown = run.settings.cooldown ?? DEFAULT_COOLDOWN;
  status.lock = { coordinator, state: 'requested', linked: [] };
  await run.enter('waiting-for-target');
  try {
    await coordination.requestTargetLease.executeWithOptions(
      { summary: `ask for the lock of ${targetLabel(input.target)}` },
      [leaseAsk(run, cooldown)],
    );
  } catch (err) {
    return {
      outcome: 'remediation-failed',
      summary: `Could not ask for the target's lock (${failureMessage(err)}): nothing was changed. A human must take over.`,
    };
  }
  await condition(() => run.lease !== undefined || run.incidentResolved !== undefined);
  if (!run.lease)
    return {
      outcome: 'incident-resolved',
      summary: `The incident was resolved while the run waited for the target${run.resolvedBy()}; nothing was changed.`,
    };
  status.lock.state = 'held';
  if (status.lock.behind) {
    await gatherEvidence(run);
    const ending = await planRemediation(run);
    if (ending) return ending;
  }
  const { recentRemediations } = run.lease;
  if (recentRemediations >= run.lease.cooldown.maxRemediations) {
    const { maxRemediations, windowSeconds } = run.lease.cooldown;
    const plan = status.plan!;
    run.breakerOpen = true;
    run.needsApproval = plan.actions.map((a) => a.id);
    status.lock.breaker = `${recentRemediations} remediation(s) of this target in the last ${windowSeconds} s (limit ${maxRemediations}): every action needs a person's approval`;
    run.showDetails();
    await run.tell({ type: 'breaker-open', recentRemediations, maxRemediations, windowSeconds, planId: plan.id });
  }
  return undefined;
}

/** The ask for the target's lock: the run's chain (stable across continue-as-new) and the run to signal now. */
function leaseAsk(run: RunbookRun, cooldown: LeaseRequest['cooldown']): LeaseAsk {
  const info = workflowInfo();
  return {
    lockId: lockWorkflowIdFor(run.input.target),
    target: targetLabel(run.input.target),
    taskQueue: info.taskQueue,
    request: {
      incidentId: run.input.incidentId,
      workflowId: info.workflowId,
      runId: info.firstExecutionRunId,
      currentRunId: info.runId,
      cooldown,
    },
  };
}

/**
 * A run that continued as new while holding the target tells the coordinator its new run id (the same ask again:
 * the coordinator answers it and signals this run from now on). The lock itself never left the run.
 */
export async function rejoinTarget(run: RunbookRun): Promise<void> {
  if (run.status.lock?.state !== 'held' || !run.lease) return;
  try {
    await coordination.requestTargetLease.executeWithOptions({ summary: 'tell the lock this run continued as new' }, [
      leaseAsk(run, run.lease.cooldown),
    ]);
  } catch (err) {
    // The lock still counts this run as its holder (by its chain); only its notices would miss this run.
    log.warn('could not tell the target lock the new run id', { error: failureMessage(err) });
  }
}

/** Gives the target back (or leaves its queue): the next incident's run may go. Never cancelled, never throws. */
export async function releaseTarget(run: RunbookRun): Promise<void> {
  const lock = run.status.lock;
  if (!lock || lock.state === 'released') return;
  const { workflowId, firstExecutionRunId } = workflowInfo();
  try {
    await getExternalWorkflowHandle(lock.coordinator).signal(releaseLeaseSignal, {
      workflowId,
      runId: firstExecutionRunId,
      remediated: run.status.results.some((r) => r.ok || (r.keysTouched ?? 0) > 0),
    });
  } catch (err) {
    // No coordinator: the ask never reached it, so there is nothing to give back.
    log.warn('could not release the target lock', { coordinator: lock.coordinator, error: String(err) });
  }
  lock.state = 'released';
}
