/**
 * `pagerDutyIncidentIntake`: what happens between PagerDuty's delivery and the runbook. The receiver only verifies the
 * delivery and starts this (one per incident); here, durably, the incident is routed by its alerts (read from
 * PagerDuty's API, retried), and the runbook is started for the target, or the incident is told why not.
 */
import { ActivityFailure } from '@temporalio/workflow';
import type { IntakeInput, IntakeResult, RunbookInput } from './definitions.js';
import { intakePagerDuty, intakeStart } from './activities.js';
import type { IncidentRoute } from '../activities/pagerduty/intake.js';

export async function pagerDutyIncidentIntake(input: IntakeInput): Promise<IntakeResult> {
  const { route, alertsUnreadable } = await routeWithFallback(input);
  if (route.kind === 'not-ours') return { status: 'not-ours' };
  if (route.kind === 'unroutable')
    return { status: 'unroutable', reason: route.reason, noted: await noteUnroutable(input, route.reason) };
  const { incident } = input;
  const run: RunbookInput = {
    incidentId: incident.id,
    ...(incident.htmlUrl ? { incidentUrl: incident.htmlUrl } : {}),
    ...(incident.title ? { title: incident.title.slice(0, 200) } : {}),
    target: route.target,
    startedBy: 'pagerduty',
    targetSource: route.source,
    ...(route.cleanup.length > 0 ? { cleanup: route.cleanup } : {}),
  };
  const started = await intakeStart.startRunbookRun.executeWithOptions(
    { summary: `start the runbook for ${route.target.namespace}/${route.target.pod} (from the ${route.source})` },
    [run],
  );
  return {
    status: started.kind === 'started' ? 'started' : started.kind === 'running' ? 'running' : 'closed',
    workflowId: started.workflowId,
    runId: started.runId,
    targetSource: route.source,
    ...(alertsUnreadable ? { alertsUnreadable } : {}),
  };
}

/** By the alerts' details; when PagerDuty does not give them, by the service's default pod and the title. */
async function routeWithFallback(input: IntakeInput): Promise<{ route: IncidentRoute; alertsUnreadable?: string }> {
  const { incident } = input;
  try {
    const route = await intakePagerDuty.routePagerDutyIncident.executeWithOptions(
      { summary: `route incident ${incident.id} by its alerts` },
      [{ incident, withAlerts: true }],
    );
    return { route };
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    const alertsUnreadable = err.cause?.message ?? err.message;
    const route = await intakePagerDuty.routePagerDutyIncident.executeWithOptions(
      { summary: `route incident ${incident.id} by its service and title (alerts unreadable)` },
      [{ incident, withAlerts: false }],
    );
    return { route, alertsUnreadable };
  }
}

/** Tells the incident why no run started; a note that cannot be written is reported, not retried for ever. */
async function noteUnroutable(input: IntakeInput, reason: string): Promise<boolean> {
  const id = input.incident.id;
  try {
    return await intakePagerDuty.noteIncident.executeWithOptions({ summary: 'tell the incident why no run started' }, [
      {
        incidentId: id,
        content:
          `Redis runbook: cannot tell which Redis this incident is about (${reason}). No run was started; ` +
          `add namespace and pod to the alert's details or a default pod to the service's route.`,
        marker: `[redis-runbook unroutable ${id}]`,
      },
    ]);
  } catch (err) {
    if (err instanceof ActivityFailure) return false;
    throw err;
  }
}
