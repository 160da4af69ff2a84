import type { RunbookReport } from '../definitions.js';
import { keyFigures } from '../logic/verify.js';
import type { Ending, RunbookRun } from '../run-state.js';
import { runbookMetrics } from '../metrics.js';

const sumOf = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** Runbook step 10: the report, told to the incident, and the run's result. */
export async function report(run: RunbookRun, { outcome, summary }: Ending): Promise<RunbookReport> {
  const { status } = run;
  status.outcome = outcome;
  await run.enter('reporting');
  const approval = [...status.decisions].reverse().find((d) => d.accepted && d.decision === 'approve');
  const result: RunbookReport = {
    incidentId: run.input.incidentId,
    outcome,
    summary,
    findings: status.findings,
    plan: status.plan,
    approvedBy: approval?.by,
    decisions: status.decisions,
    backup: status.backup,
    results: status.results,
    before: keyFigures(status.verification?.before ?? run.evidence.redis),
    after: keyFigures(status.verification?.after),
    verification: status.verification && { passed: status.verification.passed, reasons: status.verification.reasons },
    uiUrl: status.uiUrl,
    ...(status.lock?.linked.length ? { linkedIncidents: status.lock.linked.map((l) => l.incidentId) } : {}),
    ...(status.refusals?.length ? { refusals: status.refusals.length + (status.refusalsNotKept ?? 0) } : {}),
    ...(status.rollback ? { rollback: status.rollback } : {}),
  };
  await run.tell({ type: 'finished', report: result });
  await run.enter('done');
  runbookMetrics.runFinished(outcome, sumOf(status.results.map((r) => r.keysTouched ?? 0)));
  return result;
}
