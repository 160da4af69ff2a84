/**
 * The runbook's contract, defined once: task queue, workflow id scheme, signals, queries, updates, search attributes and
 * failure types, and the shapes that cross it (input, decisions, status, report). At run time it imports only
 * `@temporalio/workflow` and `@temporalio/common`, so the CLI, the webhook and the worker import it too and nobody
 * retypes a name.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { BackupResult } from '../activities/redis/types.js';
import type { ActionResult, RemediationPlan } from './logic/actions.js';
import type { Finding } from './logic/findings.js';
import type { Verification } from './logic/verify.js';

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

// ---------------------------------------------------------------------------------------------------------------
// What crosses the contract: the input, a decision, the status a query returns and the report the run ends with.

/** Where the Redis server of the incident listens. Credentials are never part of it: the worker resolves them. */
export interface RedisAddress {
  host: string;
  port: number;
  /** Logical database used for the write probe; diagnostics cover every db with keys. */
  db?: number;
}

/** What the runbook is about: a Redis pod in Kubernetes and the address its Redis answers on. */
export interface RunbookTarget {
  namespace: string;
  pod: string;
  /** Container running redis-server; the pod's first container when absent. */
  container?: string;
  redis: RedisAddress;
}

/** Input of `redisIncidentRunbook`. */
export interface RunbookInput {
  incidentId: string;
  /** Link back to the incident, shown in reports. */
  incidentUrl?: string;
  /** Short title of the incident, shown in the UI summary. */
  title?: string;
  target: RunbookTarget;
  /** Who or what started the run (an email for a person, `pagerduty` for the webhook). */
  startedBy: string;
  /** Walk the whole runbook and stop after the plan: no backup, no approval, no change. */
  dryRun?: boolean;
  /** How the target was found (webhook routing): `alert`, `service`, `title`, or `manual`. */
  targetSource?: string;
  /**
   * Key patterns to delete (`sess:tmp:*`): each is previewed (keys, bytes, samples) and becomes a paced, capped
   * `UNLINK` in the plan, approved like any risky action. From `runbook start --cleanup`, the alert's details
   * (`cleanup`) or the target's `cleanup` in RUNBOOK_CONFIG.
   */
  cleanup?: string[];
}

export interface Decision {
  decision: 'approve' | 'reject';
  by: string;
  /** The plan id the decision is about; required for an approval. */
  planId?: string;
  /** Subset of action ids approved; all risky actions of the plan when absent. */
  actions?: string[];
  reason?: string;
  /** Where it came from: `cli`, `ui`, `pagerduty`… */
  via?: string;
  /**
   * Approve although the backup could not be confirmed. Takes two different approvers: the first approval is held
   * until a second person confirms it (for the same or fewer actions).
   */
  overrideBackup?: boolean;
}

export interface DecisionRecord extends Decision {
  at: string;
  accepted: boolean;
  /** A backup override taken from the first approver, waiting for a second one. */
  awaitingSecondApprover?: boolean;
  /** Why a decision was refused. */
  refusal?: string;
}

export type Phase =
  | 'starting'
  | 'diagnosing'
  | 'planning'
  | 'backing-up'
  | 'awaiting-approval'
  | 'remediating'
  | 'verifying'
  | 'reporting'
  | 'done';

export type Outcome =
  | 'running'
  | 'dry-run'
  | 'nothing-to-do'
  | 'resolved'
  | 'rejected'
  | 'timed-out'
  | 'backup-failed'
  | 'remediation-failed'
  | 'verification-failed'
  | 'incident-resolved';

/** What `status` returns: what an operator needs to decide, and what happened so far. */
export interface RunbookStatus {
  incidentId: string;
  phase: Phase;
  outcome: Outcome;
  target: RunbookTarget;
  startedBy: string;
  findings: Finding[];
  plan?: RemediationPlan;
  /** Action ids that wait for approval (empty unless phase is awaiting-approval). */
  awaitingApproval: string[];
  approvalDeadline?: string;
  decisions: DecisionRecord[];
  backup?: BackupResult;
  results: ActionResult[];
  verification?: Verification;
  uiUrl: string;
  /** Notifications that could not be delivered (PagerDuty down…): the run went on without them. */
  notificationErrors?: string[];
}

/** The workflow's result, also handed to the notifier. */
export interface RunbookReport {
  incidentId: string;
  outcome: Outcome;
  summary: string;
  findings: Finding[];
  plan?: RemediationPlan;
  approvedBy?: string;
  decisions: DecisionRecord[];
  backup?: BackupResult;
  results: ActionResult[];
  before?: Record<string, number | string>;
  after?: Record<string, number | string>;
  verification?: { passed: boolean; reasons: string[] };
  uiUrl: string;
}
