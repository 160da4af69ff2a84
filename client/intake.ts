/** Starting the intake of a PagerDuty incident: what the receiver does with a verified `incident.triggered`. */
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
  type Client,
} from '@temporalio/client';
import {
  INTAKE_WORKFLOW_TYPE,
  intakeWorkflowIdFor,
  searchAttributes,
  workflowIdFor,
  type IntakeInput,
  type IntakeResult,
} from '../workflows/definitions.js';

export type IntakeWorkflow = (input: IntakeInput) => Promise<IntakeResult>;

/** The intake started now, or one that already exists for the incident (a redelivery, a repeated trigger). */
export interface IntakeOutcome {
  kind: 'accepted' | 'duplicate';
  intakeWorkflowId: string;
  /** The runbook's workflow id, once the intake routed the incident and started it. */
  workflowId: string;
}

/**
 * Starts `pagerDutyIncidentIntake` with workflow id `intakeWorkflowIdFor(incident)`: one request to Temporal, nothing
 * to PagerDuty. Conflict policy FAIL and reuse policy REJECT_DUPLICATE: a second start for the incident, concurrent or
 * long after, finds the first and starts nothing.
 */
export async function startIntake(
  client: Client,
  input: IntakeInput,
  opts: { taskQueue: string },
): Promise<IntakeOutcome> {
  const intakeWorkflowId = intakeWorkflowIdFor(input.incident.id);
  const workflowId = workflowIdFor(input.incident.id);
  try {
    await client.workflow.start<IntakeWorkflow>(INTAKE_WORKFLOW_TYPE, {
      workflowId: intakeWorkflowId,
      taskQueue: opts.taskQueue,
      args: [input],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      typedSearchAttributes: [{ key: searchAttributes.incidentId, value: input.incident.id }],
      staticSummary: `PagerDuty incident ${input.incident.id}: route it, then start ${workflowId}`,
      staticDetails:
        `**Incident** ${input.incident.htmlUrl ? `[${input.incident.id}](${input.incident.htmlUrl})` : input.incident.id}` +
        (input.incident.title ? `: ${input.incident.title.slice(0, 200)}` : '') +
        `\n\n**Service** ${input.incident.serviceId}` +
        (input.deliveryId ? `\n\n**Delivery** ${input.deliveryId}` : ''),
    });
    return { kind: 'accepted', intakeWorkflowId, workflowId };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return { kind: 'duplicate', intakeWorkflowId, workflowId };
    throw err;
  }
}
