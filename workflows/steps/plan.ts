import { patched } from '@temporalio/workflow';
import { ACT_WITHOUT_REDIS_PATCH, PROBE_ACTION_PATCH } from '../definitions.js';
import { deriveFindings } from '../logic/findings.js';
import { actionsNeedingApproval, buildPlan } from '../logic/plan.js';
import type { Ending, RunbookRun } from '../run-state.js';

/**
 * Runbook step 5: findings and a plan, a pure function of the evidence, told to the incident. Ends the run here on a
 * dry run, when there is nothing to do, or when the incident was resolved meanwhile.
 */
export async function planRemediation(run: RunbookRun): Promise<Ending | undefined> {
  await run.enter('planning');
  const { thresholds } = run.settings;
  const findings = deriveFindings(run.evidence, thresholds);
  // Asked only when Redis is down, so the runs recorded before it replay exactly as they ran.
  run.withoutRedis = !run.evidence.redis && run.v2 && patched(ACT_WITHOUT_REDIS_PATCH);
  // Likewise asked only for a probe that kills Redis while it loads.
  const probeAction = findings.some((f) => f.id === 'liveness-kills-loading') && run.v2 && patched(PROBE_ACTION_PATCH);
  const plan = buildPlan(run.evidence, findings, thresholds, { withoutRedis: run.withoutRedis, probeAction });
  run.status.findings = findings;
  run.status.plan = plan;
  run.needsApproval = actionsNeedingApproval(plan);
  await run.tell({ type: 'plan-ready', findings, plan, needsApproval: run.needsApproval });

  if (run.input.dryRun)
    return {
      outcome: 'dry-run',
      summary: `Dry run: ${findings.length} finding(s), plan ${plan.id} with ${plan.actions.length} action(s); nothing was changed.`,
    };
  if (plan.actions.length === 0 && run.withoutRedis) {
    const critical = findings.filter((f) => f.severity === 'critical').map((f) => f.message);
    return {
      outcome: 'needs-human',
      summary:
        `Redis cannot be reached and nothing in the Kubernetes evidence is for the runbook to fix: a person must look. ${critical.join(' ')}`.slice(
          0,
          2000,
        ),
    };
  }
  if (plan.actions.length === 0)
    return { outcome: 'nothing-to-do', summary: `${findings.length} finding(s) and no remediation to run.` };
  if (run.incidentResolved)
    return {
      outcome: 'incident-resolved',
      summary: `The incident was resolved before any action ran${run.resolvedBy()}.`,
    };
  return undefined;
}
