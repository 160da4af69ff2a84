import type { Client } from '@temporalio/client';
import { cancelRun } from '../../client/index.js';
import { toWorkflowId } from '../../workflows/definitions.js';
import { CliError, ExitCode, type CommandContext } from '../client.js';
import { checkBy } from './approve.js';

/** Options of `runbook cancel`. */
export interface CancelOptions {
  /** Incident id or workflow id. */
  id: string;
  by: string;
  reason: string;
}

/**
 * `runbook cancel`: stops a run cleanly. No further action starts, a running cleanup stops at its next batch and the
 * run reports what it did, with the outcome `cancelled`; the incident gets a note. Temporal's own cancel does the same.
 * @throws {CliError} exit code 2 without a reason; {@link WorkflowNotFoundError} when there is no such run.
 */
export async function cancelCommand(client: Client, opts: CancelOptions, ctx: CommandContext): Promise<void> {
  checkBy(opts.by);
  if (!opts.reason.trim()) throw new CliError('--reason: required to cancel a run', ExitCode.refused);
  const workflowId = toWorkflowId(opts.id);
  await cancelRun(client.workflow.getHandle(workflowId), opts.by, opts.reason);
  ctx.out(
    `asked ${workflowId} to cancel (by ${opts.by}: ${opts.reason}); \`runbook status ${opts.id}\` shows the outcome`,
  );
}
