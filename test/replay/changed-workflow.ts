/**
 * A deliberately incompatible `redisIncidentRunbook` and `pagerDutyIncidentIntake`: each schedules a different first
 * activity. Replaying the recorded
 * histories against it must fail, which proves the replay test can catch a change that breaks running workflows.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { RunbookActivities } from '../../activities/index.js';
import type { IntakeInput, RunbookInput } from '../../workflows/definitions.js';

const { describePod, noteIncident } = proxyActivities<RunbookActivities>({ startToCloseTimeout: '30s' });

export async function redisIncidentRunbook(input: RunbookInput): Promise<void> {
  await describePod({ namespace: input.target.namespace, pod: input.target.pod });
}

export async function pagerDutyIncidentIntake(input: IntakeInput): Promise<void> {
  await noteIncident({ incidentId: input.incident.id, content: 'changed', marker: 'changed' });
}
