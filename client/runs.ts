/**
 * The runbook's runs as every caller sees them: start one (one per incident), send a decision, read its status, list
 * them.
 * Typed results and the domain errors of `errors.ts`; the CLI and the receiver only map them.
 */
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import {
  cancelSignal,
  decideUpdate,
  searchAttributes,
  statusQuery,
  targetLabel,
  WORKFLOW_TYPE,
  workflowIdFor,
} from '../workflows/definitions.js';
import type {
  Decision,
  DecisionProof,
  DecisionRecord,
  RunbookInput,
  RunbookReport,
  RunbookStatus,
} from '../workflows/definitions.js';
import { decisionMessage } from '../workflows/logic/decision-message.js';
import { DecisionRefusedError, NoWorkerError } from './errors.js';

/** The workflow's signature, for typed handles. */
export type RunbookWorkflow = (input: RunbookInput) => Promise<RunbookReport>;

/** Markdown shown on the run's page in the Web UI. */
function staticDetails(input: RunbookInput): string {
  const t = input.target;
  return [
    `**Incident** ${input.incidentUrl ? `[${input.incidentId}](${input.incidentUrl})` : input.incidentId}` +
      (input.title ? `: ${input.title}` : ''),
    `**Target** pod \`${t.namespace}/${t.pod}\`${t.container ? ` (container \`${t.container}\`)` : ''}, ` +
      `Redis \`${t.redis.host}:${t.redis.port}\`${t.redis.db !== undefined ? ` db ${t.redis.db}` : ''}`,
    `**Started by** ${input.startedBy} (${input.targetSource ?? 'manual'})`,
    `**Dry run** ${input.dryRun ? 'yes: diagnose and plan only, no backup, no change' : 'no'}`,
  ].join('\n\n');
}

/** What {@link startRunbook} found: a run it started, one already running, or one that already finished. */
export type StartOutcome =
  | { kind: 'started' | 'running'; workflowId: string; runId: string }
  | { kind: 'closed'; workflowId: string; runId: string; status: string; outcome?: string };

/**
 * Starts `redisIncidentRunbook` for `input.incidentId` with workflow id `workflowIdFor(incident)`, its search
 * attributes and UI summary, under the id-conflict policy FAIL (so we know whether this call started it) and the
 * reuse policy REJECT_DUPLICATE unless `rerun`: a retried or concurrent start never makes a second run. Shared by
 * `runbook start` and the PagerDuty webhook.
 */
export async function startRunbook(
  client: Client,
  input: RunbookInput,
  opts: { taskQueue: string; rerun?: boolean },
): Promise<StartOutcome> {
  const workflowId = workflowIdFor(input.incidentId);
  const t = input.target;
  try {
    const started = await client.workflow.start<RunbookWorkflow>(WORKFLOW_TYPE, {
      workflowId,
      taskQueue: opts.taskQueue,
      args: [input],
      // FAIL (not USE_EXISTING) so that we know whether this call started the run or found one.
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
      workflowIdReusePolicy: opts.rerun
        ? WorkflowIdReusePolicy.ALLOW_DUPLICATE
        : WorkflowIdReusePolicy.REJECT_DUPLICATE,
      typedSearchAttributes: [
        { key: searchAttributes.incidentId, value: input.incidentId },
        { key: searchAttributes.target, value: targetLabel(t) },
        { key: searchAttributes.phase, value: 'starting' },
        { key: searchAttributes.outcome, value: 'running' },
      ],
      staticSummary: `Redis incident ${input.incidentId}: ${t.namespace}/${t.pod}${input.dryRun ? ' (dry run)' : ''}`,
      staticDetails: staticDetails(input),
    });
    return { kind: 'started', workflowId, runId: started.firstExecutionRunId };
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    const description = await client.workflow.getHandle(workflowId).describe();
    if (description.status.name === 'RUNNING') return { kind: 'running', workflowId, runId: description.runId };
    const outcome = description.typedSearchAttributes.get(searchAttributes.outcome);
    return {
      kind: 'closed',
      workflowId,
      runId: description.runId,
      status: description.status.name,
      ...(outcome ? { outcome } : {}),
    };
  }
}

/** Signs the text of a decision (`decisionMessage`): an SSH key through `ssh-keygen -Y sign`, or a gateway's secret. */
export type DecisionSigner = (message: string) => Promise<Omit<DecisionProof, 'signedAt'>>;

/**
 * The decision with its proof: the text naming the run (both ids, read now), plan, actions and decision, signed by
 * `sign`. The run checks it before it counts.
 */
export async function withProof(
  handle: WorkflowHandle,
  decision: Decision,
  sign: DecisionSigner,
  now: () => Date = () => new Date(),
): Promise<Decision> {
  // The chain's first run, which the run checks against: it stays the same when the run continues as new.
  const { runId: latest, raw } = await handle.describe();
  const runId = raw.workflowExecutionInfo?.firstRunId || latest;
  const signedAt = now().toISOString();
  const proof = await sign(decisionMessage(decision, { workflowId: handle.workflowId, runId }, signedAt));
  return { ...decision, proof: { ...proof, signedAt } as DecisionProof };
}

const hasType = (err: unknown, type: string) => (err as { type?: unknown } | undefined)?.type === type;

/**
 * Sends a decision through the `decide` Update and waits (up to `timeoutMs`) for a worker to take it, so a refusal
 * (wrong approver, stale plan id, unknown action, a missing or forged proof, nothing waiting) comes back at once as a
 * {@link DecisionRefusedError} with the run's words (the run records it too); {@link NoWorkerError} when no worker
 * took it in time. With `proof.sign`, the decision carries a proof of who sent it ({@link withProof}).
 */
export async function sendDecision(
  client: Client,
  handle: WorkflowHandle,
  decision: Decision,
  timeoutMs: number,
  proof: { sign?: DecisionSigner; now?: () => Date } = {},
): Promise<DecisionRecord> {
  const deadline = Date.now() + timeoutMs;
  try {
    let record: DecisionRecord | undefined;
    while (!record) {
      const signed = proof.sign ? await withProof(handle, decision, proof.sign, proof.now) : decision;
      try {
        record = await client.withDeadline(deadline, () => handle.executeUpdate(decideUpdate, { args: [signed] }));
      } catch (err) {
        // The run is handing over to its next run (continue-as-new): the same decision reaches that one.
        const continuing = err instanceof WorkflowUpdateFailedError && hasType(err.cause, 'RunContinuing');
        if (!continuing || Date.now() > deadline) throw err;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    if (!record.accepted) throw new DecisionRefusedError(record.refusal ?? 'no reason given');
    return record;
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      throw new DecisionRefusedError(err.cause?.message ?? err.message, { cause: err });
    }
    if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) {
      throw new NoWorkerError(
        `no worker took the decision within ${Math.round(timeoutMs / 1000)} s: is \`runbook worker\` running? ` +
          'Nothing was decided',
        { cause: err },
      );
    }
    if (err instanceof Error && /already completed|workflow execution.*(completed|closed)/i.test(err.message)) {
      throw new DecisionRefusedError('the run has already finished', { cause: err });
    }
    throw err;
  }
}

/**
 * The run's current status (the `status` query), answered by a worker within `timeoutMs`.
 * @throws {NoWorkerError} when no worker answers in time; `WorkflowNotFoundError` when there is no such run.
 */
export async function readStatus(client: Client, handle: WorkflowHandle, timeoutMs: number): Promise<RunbookStatus> {
  try {
    return await client.withDeadline(Date.now() + timeoutMs, () => handle.query(statusQuery));
  } catch (err) {
    if (err instanceof Error && err.name === 'WorkflowNotFoundError') throw err;
    throw new NoWorkerError(
      `cannot read the run's status (${err instanceof Error ? err.message.split('\n')[0] : String(err)}): ` +
        'is `runbook worker` running?',
      { cause: err },
    );
  }
}

/** One run as a list shows it, from the visibility store (search attributes), without asking a worker. */
export interface RunRow {
  incidentId: string;
  workflowId: string;
  status: string;
  phase?: string;
  outcome?: string;
  target?: string;
  startTime: string;
  closeTime?: string;
}

/** The visibility query `runbook list` runs. */
export function listQuery(all = false): string {
  return `WorkflowType = '${WORKFLOW_TYPE}'${all ? '' : ` AND ExecutionStatus = 'Running'`}`;
}

/** Which runs {@link listRuns} returns. */
export interface ListRunsOptions {
  /** Include closed runs. */
  all?: boolean;
  /** Most runs to return, newest first. Default 50. */
  limit?: number;
}

/** Runbook runs, open ones only unless `all`, newest first, from the visibility store (no worker needed). */
export async function listRuns(client: Client, opts: ListRunsOptions = {}): Promise<RunRow[]> {
  const limit = opts.limit ?? 50;
  const rows: RunRow[] = [];
  for await (const info of client.workflow.list({ query: listQuery(opts.all), pageSize: Math.min(limit, 100) })) {
    const sa = info.typedSearchAttributes;
    const phase = sa.get(searchAttributes.phase);
    const outcome = sa.get(searchAttributes.outcome);
    const target = sa.get(searchAttributes.target);
    rows.push({
      incidentId: sa.get(searchAttributes.incidentId) ?? info.workflowId.replace(/^redis-runbook-/, ''),
      workflowId: info.workflowId,
      status: info.status.name,
      ...(phase ? { phase } : {}),
      ...(outcome ? { outcome } : {}),
      ...(target ? { target } : {}),
      startTime: info.startTime.toISOString(),
      ...(info.closeTime ? { closeTime: info.closeTime.toISOString() } : {}),
    });
    if (rows.length >= limit) break;
  }
  return rows;
}

/** Asks a run to stop cleanly (`cancel` signal): no further action starts, a running cleanup stops at its batch. */
export async function cancelRun(handle: WorkflowHandle, by: string, reason: string): Promise<void> {
  await handle.signal(cancelSignal, { by, reason });
}
