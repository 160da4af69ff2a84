/**
 * `redisIncidentRunbook`: the on-call runbook for a crashing Redis in Kubernetes, as durable steps. Deterministic
 * orchestration only; everything that touches a system is an activity (`activities.ts`), the reasoning is pure logic
 * (`logic/`), and the state with its handlers is one object (`run-state.ts`). Each step may end the run early; a
 * cancellation ends it too, and the lock and the report happen whatever ended it.
 */
import { allHandlersFinished, CancellationScope, condition } from '@temporalio/workflow';
import type { RunbookInput, RunbookReport } from './definitions.js';
import { settingsActivities } from './activities.js';
import { RunbookRun, type Ending } from './run-state.js';
import { awaitApproval } from './steps/approval.js';
import { backUp } from './steps/backup.js';
import { gatherEvidence } from './steps/evidence.js';
import { holdTarget, rejoinTarget, releaseTarget } from './steps/lease.js';
import { planRemediation } from './steps/plan.js';
import { remediate } from './steps/remediate.js';
import { report } from './steps/report.js';
import { verify } from './steps/verify.js';

export async function redisIncidentRunbook(input: RunbookInput): Promise<RunbookReport> {
  const run = new RunbookRun(input);
  // Recorded in history, so the run replays under the policy it started with (a continued run carries it across).
  if (input.resume) run.restore(input.resume);
  else
    run.load(
      await settingsActivities.loadSettings.executeWithOptions({ summary: 'load approval policy and thresholds' }, []),
    );
  const ending = await run.untilCancelled(walkRunbook);
  // Whatever ended the run (a cancel too): the target is given back, the report told, the handlers finish.
  return CancellationScope.nonCancellable(async () => {
    await releaseTarget(run);
    const result = await report(run, ending);
    await condition(allHandlersFinished);
    return result;
  });
}

/** The runbook's steps in order, each over the one run state; a continued run goes back to its approval wait. */
async function walkRunbook(run: RunbookRun): Promise<Ending> {
  if (run.input.resume) await rejoinTarget(run);
  else {
    await run.tell({ type: 'started', target: run.input.target });
    await gatherEvidence(run);
    const early = (await planRemediation(run)) ?? (await holdTarget(run)) ?? (await backUp(run));
    if (early) return early;
  }
  return (await awaitApproval(run)) ?? (await remediate(run)) ?? (await verify(run));
}
