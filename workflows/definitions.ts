/**
 * The runbook's contract, defined once: task queue, workflow id scheme, signals, queries, updates, search attributes and
 * failure types. It imports only `@temporalio/workflow` and `@temporalio/common`, so the CLI, the webhook and the
 * worker import it too and nobody retypes a name.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Decision, DecisionRecord, RunbookStatus } from './types.js';

/** Default task queue of the worker (`RUNBOOK_TASK_QUEUE` overrides it). */
export const DEFAULT_TASK_QUEUE = 'redis-runbook';

/** Name of the workflow type, for clients that start it by name. */
export const WORKFLOW_TYPE = 'redisIncidentRunbook';

/** One incident, one run: the workflow id is derived from the incident id. */
export function workflowIdFor(incidentId: string): string {
  return `redis-runbook-${incidentId}`;
}

/** Accepts an incident id or a workflow id and returns the workflow id. */
export function toWorkflowId(incidentOrWorkflowId: string): string {
  return incidentOrWorkflowId.startsWith('redis-runbook-') ? incidentOrWorkflowId : workflowIdFor(incidentOrWorkflowId);
}

/** Approve the plan (or a subset of its actions). Signals cannot be refused synchronously: a refusal is recorded. */
export const approveSignal = defineSignal<[Omit<Decision, 'decision'>]>('approve');
/** Reject the plan: the run stops without acting. */
export const rejectSignal = defineSignal<[Omit<Decision, 'decision'>]>('reject');
/** The incident was resolved elsewhere (PagerDuty): stop without acting if nothing ran yet. */
export const incidentResolvedSignal = defineSignal<[{ by?: string; reason?: string }]>('incidentResolved');

/** Same decision as an Update: its validator refuses at once, so the caller knows whether it was taken. */
export const decideUpdate = defineUpdate<DecisionRecord, [Decision]>('decide');

/** Phase, findings, plan, what waits for approval, decisions so far. */
export const statusQuery = defineQuery<RunbookStatus>('status');

/** Search attributes that make runs findable in the Temporal UI (`RunbookPhase = "awaiting-approval"`). */
export const searchAttributes = {
  incidentId: defineSearchAttributeKey('RunbookIncidentId', SearchAttributeType.KEYWORD),
  target: defineSearchAttributeKey('RunbookTarget', SearchAttributeType.KEYWORD),
  phase: defineSearchAttributeKey('RunbookPhase', SearchAttributeType.KEYWORD),
  outcome: defineSearchAttributeKey('RunbookOutcome', SearchAttributeType.KEYWORD),
} as const;

/** Every key above, to register on a server (`temporal server start-dev --search-attribute Name=Keyword`). */
export const allSearchAttributeKeys = Object.values(searchAttributes);

/** Application failure types. Those in {@link NON_RETRYABLE_ERRORS} are not retried: retrying cannot help. */
export enum RunbookErrorType {
  PodNotFound = 'PodNotFound',
  Forbidden = 'Forbidden',
  Conflict = 'Conflict',
  RedisUnreachable = 'RedisUnreachable',
  RedisAuth = 'RedisAuth',
  BackupFailed = 'BackupFailed',
  PersistenceDisabled = 'PersistenceDisabled',
  InvalidAction = 'InvalidAction',
  InvalidConfig = 'InvalidConfig',
  CapReached = 'CapReached',
}

export const NON_RETRYABLE_ERRORS: string[] = [
  RunbookErrorType.PodNotFound,
  RunbookErrorType.Forbidden,
  RunbookErrorType.RedisAuth,
  RunbookErrorType.BackupFailed,
  RunbookErrorType.PersistenceDisabled,
  RunbookErrorType.InvalidAction,
  RunbookErrorType.InvalidConfig,
];

/** Redis target as a search-attribute value and in summaries: `namespace/pod@host:port`. */
export function targetLabel(t: { namespace: string; pod: string; redis: { host: string; port: number } }): string {
  return `${t.namespace}/${t.pod}@${t.redis.host}:${t.redis.port}`;
}
