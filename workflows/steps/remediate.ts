import { workflowInfo } from '@temporalio/workflow';
import { kubernetes, redisChange } from '../activities.js';
import type { ActionResult, PlannedAction, RemediationPlan } from '../logic/actions.js';
import { MAX_CONTINUATIONS } from '../logic/limits.js';
import { contentId } from '../logic/plan-id.js';
import { rollbackPlan } from '../logic/rollback.js';
import { failureMessage, type Ending, type RunbookRun } from '../run-state.js';
import { waitForDecision } from './approval.js';

/**
 * One planned action through the activity for its system; a failure becomes a failed result. A cancellation passes
 * through with `run.current` still set, so the cancelled run can say how far the action got.
 */
async function runAction(run: RunbookRun, planned: PlannedAction): Promise<ActionResult> {
  run.current = planned;
  let result: ActionResult;
  try {
    result = await applyAction(run, planned);
  } catch (err) {
    result = { id: planned.id, ok: false, detail: failureMessage(err) };
  }
  run.current = undefined;
  return result;
}

function applyAction(run: RunbookRun, planned: PlannedAction): Promise<ActionResult> {
  const summary = planned.summary.slice(0, 120);
  const { action } = planned;
  if (action.kind === 'rolling-restart')
    return kubernetes.rollingRestart.executeWithOptions({ summary }, [
      { workload: action.workload, restartedAt: `${workflowInfo().runId}:${planned.id}` },
    ]);
  if (action.kind === 'set-memory-limit')
    return kubernetes.setMemoryLimit.executeWithOptions({ summary }, [
      { workload: action.workload, container: action.container, bytes: action.bytes, actionId: planned.id },
    ]);
  if (action.kind === 'set-liveness-delay')
    return kubernetes.setLivenessDelay.executeWithOptions({ summary }, [
      {
        workload: action.workload,
        container: action.container,
        initialDelaySeconds: action.initialDelaySeconds,
        actionId: planned.id,
      },
    ]);
  const p99TargetMs = run.settings.thresholds.cleanupP99TargetMs;
  return redisChange.applyRedisAction.executeWithOptions({ summary }, [
    { redis: run.input.target.redis, action: planned, ...(p99TargetMs ? { pacing: { p99TargetMs } } : {}) },
  ]);
}

/** An action stopped at its cap: going further is a plan of its own, approved on its own. */
async function continuePastCap(
  run: RunbookRun,
  planned: PlannedAction,
  round: number,
): Promise<ActionResult | undefined> {
  const plan = run.status.plan!;
  const more: PlannedAction = {
    ...planned,
    id: `${planned.id}+${round}`,
    summary: `Continue past the cap: ${planned.summary}`,
  };
  const continuation: RemediationPlan = {
    id: contentId('plan', { after: plan.id, action: more.id }),
    actions: [more],
    persistAdvice: [],
  };
  if ((await approveSeparately(run, continuation)) === undefined) return undefined;
  return runAction(run, more);
}

/**
 * A plan of its own (a continuation past a cap, a rollback), told to the incident and approved on its own while the
 * run's plan stays the one reported. The action ids approved, or undefined when nobody approved it in time.
 */
async function approveSeparately(run: RunbookRun, separate: RemediationPlan): Promise<string[] | undefined> {
  const plan = run.status.plan!;
  const ids = separate.actions.map((a) => a.id);
  run.approvedActions = undefined;
  run.pendingOverride = undefined;
  await run.tell({ type: 'plan-ready', findings: run.status.findings, plan: separate, needsApproval: ids });
  await waitForDecision(run, separate, ids);
  run.status.plan = plan;
  await run.enter('remediating');
  return run.approvedActions;
}

/**
 * Runbook step 8: the safe actions and the approved ones, in plan order, stopping at the first failure (a failed
 * CONFIG REWRITE only means the settings do not survive a restart). An action at its cap asks before going further.
 */
export async function remediate(run: RunbookRun): Promise<Ending | undefined> {
  const { status } = run;
  await run.enter('remediating');
  // With the circuit breaker open nothing runs on its own: every action was put up for approval.
  const toRun = status.plan!.actions.filter(
    (a) => (a.risk === 'safe' && !run.breakerOpen) || run.approved.includes(a.id),
  );
  const record = (result: ActionResult) => {
    status.results.push(result);
    run.showDetails();
  };
  for (const planned of toRun) {
    let result = await runAction(run, planned);
    record(result);
    for (let round = 1; result.ok && result.capReached && round <= MAX_CONTINUATIONS && !run.rejected; round++) {
      const next = await continuePastCap(run, planned, round);
      if (!next) {
        status.results.push({ id: `${planned.id}+${round}`, ok: true, detail: 'not approved: stopped at the cap' });
        break;
      }
      result = next;
      record(result);
    }
    if (!result.ok && planned.action.kind !== 'config-rewrite') {
      const summary = `Action ${planned.id} failed: ${result.detail}. The remaining actions were not run; a human must take over.`;
      return { outcome: 'remediation-failed', summary: `${summary}${await offerRollback(run)}` };
    }
  }
  return undefined;
}

/**
 * After a failure, the values the earlier actions replaced, as a rollback plan of its own: run only if a person
 * approves it (before its deadline), never on its own. Says in one sentence what became of it.
 */
async function offerRollback(run: RunbookRun): Promise<string> {
  const { status } = run;
  const rollback = run.v2 ? rollbackPlan(status.plan!.id, status.results) : undefined;
  if (!rollback) return '';
  status.rollback = rollback;
  const approved = (await approveSeparately(run, rollback)) ?? [];
  if (approved.length === 0) return ` A rollback (${rollback.id}) was offered and not approved.`;
  const done: string[] = [];
  for (const a of rollback.actions.filter((x) => approved.includes(x.id))) {
    const result = await runAction(run, a);
    status.results.push(result);
    done.push(`${a.id} ${result.ok ? 'done' : `failed (${result.detail})`}`);
  }
  run.showDetails();
  return ` Rollback ${rollback.id}: ${done.join('; ')}.`;
}
