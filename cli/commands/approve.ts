import type { Client, WorkflowHandle } from '@temporalio/client';
import { NoWorkerError, readStatus, sendDecision } from '../../client/index.js';
import { toWorkflowId } from '../../workflows/definitions.js';
import type { DecisionRecord, RunbookStatus } from '../../workflows/definitions.js';
import { CliError, ExitCode, type CommandContext } from '../client.js';
import { sshSigner } from '../sign.js';

/** Options of `runbook approve`. */
export interface ApproveOptions {
  /** Incident id or workflow id. */
  id: string;
  by: string;
  /** The plan approved; the run's current plan (printed) when absent. */
  plan?: string;
  /** Subset of action ids; every risky action of the plan when absent. */
  actions?: string[];
  reason?: string;
  /** Approve although the backup could not be confirmed (a second approver must confirm it). */
  overrideBackup?: boolean;
  /** SSH key that signs the approval (private key file, or a public key held by ssh-agent). */
  sign?: string;
  /** How long to wait for a worker to take the decision, in ms. Default 30 s. */
  timeoutMs?: number;
}

const EMAIL = /^[^\s@]+@[^\s@]+$/;

/** @throws {CliError} exit code 2 unless `by` looks like an email. */
export function checkBy(by: string): void {
  if (!EMAIL.test(by)) throw new CliError(`--by ${JSON.stringify(by)}: expected an email`, ExitCode.refused);
}

async function currentStatus(client: Client, handle: WorkflowHandle, timeoutMs: number): Promise<RunbookStatus> {
  try {
    return await readStatus(client, handle, timeoutMs);
  } catch (err) {
    if (err instanceof NoWorkerError)
      throw new NoWorkerError(`${err.message} Pass --plan to skip this`, { cause: err });
    throw err;
  }
}

/**
 * `runbook approve`: approves a plan, or some of its actions. Without `plan` it reads the run's current plan and
 * prints which plan and which actions the approval covers before sending it, so the approval names exactly what it
 * approves (a plan changed meanwhile makes the run refuse the stale id).
 * @throws {CliError} exit code 2 when refused; {@link WorkflowNotFoundError} when there is no such run.
 */
export async function approveCommand(
  client: Client,
  opts: ApproveOptions,
  ctx: CommandContext,
): Promise<DecisionRecord> {
  checkBy(opts.by);
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const workflowId = toWorkflowId(opts.id);
  const handle = client.workflow.getHandle(workflowId);
  let planId = opts.plan;
  if (!planId) {
    const status = await currentStatus(client, handle, timeoutMs);
    if (!status.plan) {
      throw new CliError(`refused: ${workflowId} has no plan yet (phase ${status.phase})`, ExitCode.refused);
    }
    planId = status.plan.id;
    const wanted = new Set(opts.actions ?? status.awaitingApproval);
    const covered = status.plan.actions.filter((a) => wanted.has(a.id));
    ctx.out(`approving plan ${planId} of ${workflowId}:`);
    for (const a of covered) ctx.out(`  ${a.id} (${a.risk}${a.destructive ? ', destructive' : ''}): ${a.summary}`);
    if (covered.length === 0) ctx.out('  (no action of the plan waits for approval)');
  }
  const record = await sendDecision(
    client,
    handle,
    {
      decision: 'approve',
      by: opts.by,
      planId,
      ...(opts.actions ? { actions: opts.actions } : {}),
      ...(opts.reason ? { reason: opts.reason } : {}),
      ...(opts.overrideBackup ? { overrideBackup: true } : {}),
      via: 'cli',
    },
    timeoutMs,
    opts.sign ? { sign: sshSigner(opts.sign) } : {},
  );
  ctx.out(
    `approved plan ${record.planId ?? planId}` +
      `${record.actions ? ` (${record.actions.join(', ')})` : ''} by ${record.by} at ${record.at}` +
      (record.awaitingSecondApprover ? ': backup override held until a second approver confirms it' : ''),
  );
  return record;
}
