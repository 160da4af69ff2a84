/**
 * Activities that talk to Temporal itself: asking a target's coordinator for the lock (signal-with-start, which a
 * workflow cannot send), checking whether a run still runs, and starting the run an intake routed. Built from the worker's client.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import {
  LOCK_WORKFLOW_TYPE,
  requestLeaseSignal,
  type LeaseRequest,
  type TargetLockState,
} from '../../workflows/definitions.js';
import type { RunbookInput } from '../../workflows/definitions.js';
import { startRunbook, type StartOutcome } from '../../client/runs.js';

export interface LeaseAsk {
  /** The coordinator's workflow id (`lockWorkflowIdFor(target)`). */
  lockId: string;
  /** The target as the coordinator names it. */
  target: string;
  /** Task queue the coordinator runs on: the asking run's. */
  taskQueue: string;
  request: LeaseRequest;
}

/**
 * @param runbookTaskQueue where the runs the intake starts go: the worker's own queue (`RUNBOOK_TASK_QUEUE`).
 */
export function createTemporalActivities(client: Client, runbookTaskQueue: string) {
  return {
    /**
     * Starts the runbook for a routed incident, through the same client code as `runbook start` (one run per
     * incident): a retry, or a second intake, finds the run already started instead of making another.
     */
    async startRunbookRun(input: RunbookInput): Promise<StartOutcome> {
      return startRunbook(client, input, { taskQueue: runbookTaskQueue });
    },

    /**
     * Asks for the target's lock, starting its coordinator if none runs. Idempotent: the coordinator answers a
     * repeated ask of the same run once more and queues nobody twice.
     */
    async requestTargetLease(ask: LeaseAsk): Promise<void> {
      const initial: TargetLockState = { target: ask.target, queue: [], remediations: [] };
      await client.workflow.signalWithStart(LOCK_WORKFLOW_TYPE, {
        workflowId: ask.lockId,
        taskQueue: ask.taskQueue,
        args: [initial],
        signal: requestLeaseSignal,
        signalArgs: [ask.request],
        staticSummary: `lock of Redis target ${ask.target}`,
      });
    },

    /**
     * Whether the run is still running (false once it completed, failed, was terminated or timed out). `runId` is the
     * first run of its chain: a run that continued as new still runs, under its latest run id.
     */
    async runIsOpen(run: { workflowId: string; runId: string }): Promise<boolean> {
      try {
        const d = await client.workflow.getHandle(run.workflowId).describe();
        const chain = d.raw.workflowExecutionInfo?.firstRunId || d.runId;
        return d.status.name === 'RUNNING' && (chain === run.runId || d.runId === run.runId);
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return false;
        throw err;
      }
    },
  };
}
