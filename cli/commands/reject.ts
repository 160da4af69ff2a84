import type { Client } from '@temporalio/client';
import { toWorkflowId } from '../../workflows/definitions.js';
import type { DecisionRecord } from '../../workflows/definitions.js';
import { CliError, ExitCode, type CommandContext } from '../client.js';
import { sendDecision } from '../../client/index.js';
import { sshSigner } from '../sign.js';
import { checkBy } from './approve.js';

/** Options of `runbook reject`. */
export interface RejectOptions {
  /** Incident id or workflow id. */
  id: string;
  by: string;
  reason: string;
  /** SSH key that signs the rejection (see `runbook approve --sign`). */
  sign?: string;
  /** How long to wait for a worker to take the decision, in ms. Default 30 s. */
  timeoutMs?: number;
}

/**
 * `runbook reject`: rejects the run's plan; the run stops without acting. The reason is required: it is the record.
 * @throws {CliError} exit code 2 when refused; {@link WorkflowNotFoundError} when there is no such run.
 */
export async function rejectCommand(client: Client, opts: RejectOptions, ctx: CommandContext): Promise<DecisionRecord> {
  checkBy(opts.by);
  if (!opts.reason.trim()) throw new CliError('--reason: required for a rejection', ExitCode.refused);
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const workflowId = toWorkflowId(opts.id);
  const record = await sendDecision(
    client,
    client.workflow.getHandle(workflowId),
    { decision: 'reject', by: opts.by, reason: opts.reason, via: 'cli' },
    timeoutMs,
    opts.sign ? { sign: sshSigner(opts.sign) } : {},
  );
  ctx.out(`rejected ${workflowId} by ${record.by} at ${record.at}: ${opts.reason}`);
  return record;
}
