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
import type { Evidence, Finding } from './logic/findings.js';
import type { RunbookSettings } from '../activities/settings/types.js';
import type { Verification } from './logic/verify.js';
import type { TopologyView } from './logic/topology.js';
import type { SlackCard } from '../activities/slack/card.js';

/** Default task queue of the worker (`RUNBOOK_TASK_QUEUE` overrides it). */
export const DEFAULT_TASK_QUEUE = 'redis-runbook';

/**
 * The patch (`patched()`) behind which version 2's changes run: the per-target lock, proven decisions, refusals in the
 * status, ordered notifications and cancellation. Runs started before it replay without them (test/histories/).
 */
export const SAFE_PRODUCTION_PATCH = 'safe-production';

/**
 * The patch behind which a long approval wait continues as new once the history grows past
 * `CONTINUE_AFTER_EVENTS` (a flood of refused decisions, say), carrying the run's state across.
 */
export const CONTINUE_APPROVAL_PATCH = 'continue-approval-wait';

/** The patch behind which a confirmed backup is also copied off the server and restore-tested. */
export const BACKUP_COPY_PATCH = 'backup-copy';

/**
 * The patch behind which a run whose Redis cannot be reached plans from the Kubernetes evidence alone (or ends
 * `needs-human`), and diagnoses Redis again once the pod is up.
 */
export const ACT_WITHOUT_REDIS_PATCH = 'act-without-redis';

/** The patch behind which the run also looks at the pod's node (step 4) and its PersistentVolumeClaims (step 5). */
export const NODE_AND_STORAGE_PATCH = 'node-and-storage';

/** The patch behind which a liveness probe too tight for Redis's load time gets an approvable fix in the plan. */
export const PROBE_ACTION_PATCH = 'probe-action';

/**
 * The patch behind which a run on a replicated set or a Cluster finds the pod each node runs in (the primary's may not
 * be the one the alert named) and says which of them fail.
 */
export const TOPOLOGY_PODS_PATCH = 'topology-pods';

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

/** Cancel the run cleanly: no further action starts, a running cleanup stops at its batch, the incident is told. */
export const cancelSignal = defineSignal<[{ by: string; reason: string }]>('cancel');

// The per-target lock: a coordinator workflow per Redis target (`lockWorkflowIdFor`) grants one run at a time.

/** Workflow type of the per-target coordinator. */
export const LOCK_WORKFLOW_TYPE = 'redisTargetLock';

/** The coordinator of one Redis target; the runs of every incident for that target ask it. */
export function lockWorkflowIdFor(target: RunbookTarget): string {
  return `redis-target-lock:${targetLabel(target)}`;
}

/** A run asking for the target (sent with signal-with-start, so the first ask starts the coordinator). */
export interface LeaseRequest extends LinkedRun {
  /** The first run of the asking run's chain: stays the same when the run continues as new. */
  runId: string;
  /** The run of that chain to signal now (after a continue-as-new the run asks again with its new run id). */
  currentRunId?: string;
  cooldown: { maxRemediations: number; windowSeconds: number };
}

/** The coordinator's answer once the run holds the target. */
export interface LeaseGrant {
  /** Remediations of this target within the cooldown window before this grant. */
  recentRemediations: number;
  cooldown: LeaseRequest['cooldown'];
}

export const requestLeaseSignal = defineSignal<[LeaseRequest]>('requestLease');
/** Sent by the holder when it ends (or by a queued run that gives up); `remediated` counts toward the cooldown. */
export const releaseLeaseSignal =
  defineSignal<[{ workflowId: string; runId: string; remediated: boolean }]>('releaseLease');
export const leaseGrantedSignal = defineSignal<[LeaseGrant]>('leaseGranted');
/** To a run that must wait: who holds the target. */
export const leaseQueuedSignal = defineSignal<[LinkedRun]>('leaseQueued');
/** To the holder: another incident's run waits for the target. */
export const incidentLinkedSignal = defineSignal<[LinkedRun]>('incidentLinked');

/** Holder, queue and recent remediations of one target. */
export const lockStateQuery = defineQuery<TargetLockState>('lockState');

/** The coordinator's whole state: what it carries across continue-as-new. */
export interface TargetLockState {
  target: string;
  holder?: LeaseRequest & { grantedAt: string };
  queue: LeaseRequest[];
  /** When each recent remediation ended (ISO), pruned past the window. */
  remediations: string[];
  cooldown?: LeaseRequest['cooldown'];
}

// The PagerDuty intake: the receiver only verifies and starts it; the routing that needs PagerDuty's API runs here.

/** Workflow type of the intake of one PagerDuty incident. */
export const INTAKE_WORKFLOW_TYPE = 'pagerDutyIncidentIntake';

/** One intake per incident, whatever the deliveries: a redelivered or repeated trigger finds it. */
export function intakeWorkflowIdFor(incidentId: string): string {
  return `pagerduty-intake-${incidentId}`;
}

/** What the receiver read from a verified `incident.triggered`: enough to route it, nothing to trust blindly. */
export interface IntakeInput {
  incident: { id: string; title?: string; htmlUrl?: string; serviceId: string };
  /** PagerDuty's `X-Webhook-Id` of the delivery that started the intake. */
  deliveryId?: string;
  /** The event's id (`event.id`). */
  eventId?: string;
}

/** How the intake ended: a run started (or found), or why none was. */
export type IntakeResult =
  | {
      status: 'started' | 'running' | 'closed';
      workflowId: string;
      runId: string;
      targetSource: string;
      /** Set when the alerts could not be read and the route came from the service or the title. */
      alertsUnreadable?: string;
    }
  | { status: 'unroutable'; reason: string; noted: boolean }
  | { status: 'not-ours' };

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
  /** The node to start from: a standalone server, any node of a replicated set or a Cluster (a seed). */
  host: string;
  port: number;
  /** Logical database used for the write probe; diagnostics cover every db with keys. */
  db?: number;
  /**
   * A Sentinel-managed set: every step asks these Sentinels for the current primary of `masterName` (host and port
   * above are only where it was last seen), so a failover between steps is followed.
   */
  sentinel?: { masterName: string; nodes: Array<{ host: string; port: number }> };
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
  /** Set only by the run itself when it continues as new while it waits for approval. */
  resume?: RunbookResume;
}

/**
 * What a run waiting for approval carries into its next run when it continues as new: its settings, status and
 * evidence, the lock it holds and where the wait stood. The next run goes straight back to the wait.
 */
export interface RunbookResume {
  settings: RunbookSettings;
  status: RunbookStatus;
  evidence: Evidence;
  needsApproval: string[];
  pendingOverride?: { by: string; actions: string[] };
  lease?: LeaseGrant;
  breakerOpen: boolean;
  /** The wait's deadline was already extended once (`onTimeout: escalate`). */
  escalated: boolean;
  /** The plan was made without Redis (it could not be reached). */
  withoutRedis?: boolean;
}

/**
 * Proof of who sent a decision, over {@link decisionMessage}: an SSH signature (`ssh-keygen -Y sign`, checked against
 * the worker's allowed_signers), or the signature of a gateway that verified its user itself (the receiver, for
 * PagerDuty and Slack users).
 */
export type DecisionProof =
  | { scheme: 'ssh'; signedAt: string; signature: string }
  | { scheme: 'gateway'; gateway: 'pagerduty' | 'slack'; signedAt: string; signature: string };

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
  /** Required when the policy says `requireProof` (the default with a RUNBOOK_CONFIG file). */
  proof?: DecisionProof;
}

/** Who the worker found a decision's proof to be from. */
export interface VerifiedIdentity {
  scheme: DecisionProof['scheme'];
  /** The email the key or the gateway vouches for. */
  identity: string;
  /** `SHA256:…` of the SSH key, or the gateway's name. */
  by: string;
}

export interface DecisionRecord extends Omit<Decision, 'proof'> {
  at: string;
  accepted: boolean;
  /** The proof that was checked; absent for a decision taken on its sender's word (requireProof off). */
  verified?: VerifiedIdentity;
  /** A backup override taken from the first approver, waiting for a second one. */
  awaitingSecondApprover?: boolean;
  /** Why a decision was refused. */
  refusal?: string;
}

export type Phase =
  | 'starting'
  | 'diagnosing'
  | 'planning'
  | 'waiting-for-target'
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
  | 'cancelled'
  | 'incident-resolved'
  /** Nothing the runbook may do helps (Redis unreachable, nothing to act on in Kubernetes): a person must look. */
  | 'needs-human';

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
  /** The run's Slack message (channel, ts and what it shows), once posted: every later notification updates it. */
  slack?: SlackCard;
  /** Refused decisions, newest last, at most MAX_REFUSALS_RECORDED; `refusalsNotKept` counts the rest. */
  refusals?: DecisionRecord[];
  refusalsNotKept?: number;
  /** The per-target lock: one backup and remediation per Redis at a time. */
  lock?: TargetLockView;
  cancelled?: { by: string; reason: string; at: string };
  /** Offered when an action failed after earlier ones changed something: a plan of its own, approved on its own. */
  rollback?: RemediationPlan;
  /** How often the approval wait continued as new (a fresh history, same run). */
  continuedAsNew?: number;
  /** The set or Cluster the target belongs to, as the diagnosis found it (and as verification found it after). */
  topology?: TopologyView;
  /** The primary changed during the run (a failover): `from → to`. */
  failover?: string;
}

/** Another incident's run for the same target, and its workflow. */
export interface LinkedRun {
  incidentId: string;
  workflowId: string;
}

/** The run's view of its target's lock. */
export interface TargetLockView {
  /** Workflow id of the target's coordinator. */
  coordinator: string;
  state: 'requested' | 'queued' | 'held' | 'released';
  /** The run holding the lock while this one waits. */
  behind?: LinkedRun;
  /** Runs of other incidents for this target that waited on this one (each gets its own run after it). */
  linked: LinkedRun[];
  /** Why every action needs a person's approval: the target's cooldown is spent. */
  breaker?: string;
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
  /** Other incidents for the same target, whose runs waited on this one. */
  linkedIncidents?: string[];
  refusals?: number;
  rollback?: RemediationPlan;
}
