/**
 * Shapes that cross the workflow boundary: inputs, evidence from each runbook step, findings, the plan and the report.
 * Pure types, imported by workflows, activities, the CLI and the webhook alike. Keep them small: everything here can
 * end up in workflow history, so it holds figures and short excerpts, never whole logs, key dumps or secrets.
 */

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
}

// ---------------------------------------------------------------------------------------------------------------
// Evidence

export interface ContainerStateSummary {
  state: 'running' | 'waiting' | 'terminated' | 'unknown';
  /** `CrashLoopBackOff`, `OOMKilled`, `Error`, `Completed`… */
  reason?: string;
  exitCode?: number;
  startedAt?: string;
  finishedAt?: string;
}

export interface ContainerStatusSummary {
  name: string;
  ready: boolean;
  restartCount: number;
  state: ContainerStateSummary;
  lastState?: ContainerStateSummary;
}

export interface PodEventSummary {
  type: string;
  reason: string;
  message: string;
  count: number;
  lastTimestamp?: string;
}

/** Step 1: what `kubectl describe pod` would tell an engineer. */
export interface PodDescription {
  namespace: string;
  name: string;
  phase: string;
  nodeName?: string;
  ready: boolean;
  conditions: Array<{ type: string; status: string; reason?: string }>;
  containers: ContainerStatusSummary[];
  /** Recent events of the pod, newest last, capped. */
  events: PodEventSummary[];
  /** Events that say a probe failed (`Unhealthy`). */
  failedProbes: number;
  /** Controller of the pod as its ownerReferences say (a ReplicaSet, a StatefulSet…). */
  owner?: { kind: string; name: string };
}

export type LogSignal =
  | 'oom-command-not-allowed'
  | 'misconf'
  | 'fork-cannot-allocate-memory'
  | 'permission-denied'
  | 'disk-full'
  | 'oom-killed-by-kernel'
  | 'aof-error';

/** Step 2: the previous container's log tail, classified. Only the last lines are kept. */
export interface LogClassification {
  available: boolean;
  /** Why no log was available (no previous container, pod gone…). */
  unavailableReason?: string;
  bytesRead: number;
  signals: Array<{ signal: LogSignal; count: number; example: string }>;
  lastLines: string[];
}

/** Step 3: requests, limits and the workload that owns the pod. */
export interface ResourceLimits {
  container: string;
  requests: { memoryBytes?: number; cpu?: string };
  limits: { memoryBytes?: number; cpu?: string };
  /** The workload to restart or patch: StatefulSet or Deployment (through its ReplicaSet). */
  workload?: { kind: 'StatefulSet' | 'Deployment'; name: string; namespace: string };
}

export interface BigKey {
  /** Key name, truncated to 200 characters. */
  key: string;
  db: number;
  type: string;
  bytes: number;
  /** Seconds to live; -1 when the key has none. */
  ttlSeconds: number;
}

export interface PrefixUsage {
  prefix: string;
  keys: number;
  bytes: number;
  keysWithoutTtl: number;
}

/** Step 4: Redis's own view. Built from INFO, CONFIG GET and a SCAN (never KEYS). */
export interface RedisDiagnostics {
  collectedAt: string;
  version: string;
  memory: {
    usedMemory: number;
    usedMemoryRss: number;
    usedMemoryPeak: number;
    usedMemoryDataset?: number;
    /** Memory Redis spends on its own structures (buffers, dict overhead, replication backlog…). */
    usedMemoryOverhead?: number;
    fragmentationRatio: number;
    allocatorFragRatio?: number;
    maxmemory: number;
    maxmemoryPolicy: string;
  };
  keyspace: Array<{ db: number; keys: number; expires: number }>;
  stats: {
    evictedKeys: number;
    expiredKeys: number;
    keyspaceHits: number;
    keyspaceMisses: number;
    rejectedConnections: number;
    totalErrorReplies?: number;
  };
  clients: { connectedClients: number; blockedClients: number };
  persistence: {
    rdbLastBgsaveStatus: string;
    rdbLastSaveTime: number;
    rdbBgsaveInProgress: boolean;
    rdbChangesSinceLastSave: number;
    aofEnabled: boolean;
    aofLastWriteStatus?: string;
  };
  /** Values of CONFIG GET that the runbook reasons about. */
  config: { maxmemory: number; maxmemoryPolicy: string; dir?: string; dbfilename?: string; appendonly?: string };
  bigKeys: BigKey[];
  prefixes: PrefixUsage[];
  sidekiq?: {
    retry: number;
    dead: number;
    schedule: number;
    queues: Array<{ name: string; length: number }>;
    statKeys: number;
    statKeysWithoutTtl: number;
    /** Age of the oldest job in the dead set, in seconds (from its score, the time it died); absent when empty. */
    oldestDeadAgeSeconds?: number;
  };
  /** `MEMORY DOCTOR`'s advice, cut short. */
  memoryDoctor?: string;
  /** Calls since the last stats reset (`INFO commandstats`) of the commands that hurt a busy server. */
  commands?: {
    keys: number;
    del: number;
    /** Mean µs per DEL: high when big keys are deleted synchronously (UNLINK frees them in the background). */
    delUsecPerCall: number;
    monitor: number;
    flushall: number;
    flushdb: number;
  };
  scannedKeys: number;
  /** Whether a write succeeded (a probe key with a short TTL, removed afterwards). */
  writable: boolean;
  writeError?: string;
}

/** Everything the diagnose steps gathered. A step that failed leaves its error instead of its evidence. */
export interface Evidence {
  pod?: PodDescription;
  podError?: string;
  logs?: LogClassification;
  limits?: ResourceLimits;
  limitsError?: string;
  redis?: RedisDiagnostics;
  redisError?: string;
}

// ---------------------------------------------------------------------------------------------------------------
// Findings and plan

export type Severity = 'critical' | 'warning' | 'info';

export interface Finding {
  /** Stable rule id, e.g. `noeviction-near-limit`. */
  id: string;
  severity: Severity;
  message: string;
  /** The figures the finding rests on. */
  evidence: Record<string, string | number | boolean>;
}

export type RemediationAction =
  | { kind: 'set-maxmemory'; bytes: number }
  | { kind: 'set-maxmemory-policy'; policy: string }
  | { kind: 'expire-keys'; pattern: string; ttlSeconds: number; maxKeys: number }
  | { kind: 'unlink-keys'; pattern: string; maxKeys: number }
  | { kind: 'trim-sorted-set'; key: string; keep: number }
  | { kind: 'memory-purge' }
  | { kind: 'config-rewrite' }
  | { kind: 'rolling-restart'; workload: { kind: 'StatefulSet' | 'Deployment'; name: string; namespace: string } }
  | {
      kind: 'set-memory-limit';
      workload: { kind: 'StatefulSet' | 'Deployment'; name: string; namespace: string };
      container: string;
      /** The new `resources.limits.memory`, in bytes; the pods roll to take it. */
      bytes: number;
    };

export type Risk = 'safe' | 'risky';

export interface PlannedAction {
  /** Stable within a plan, e.g. `set-maxmemory-policy`; an approval names actions by these ids. */
  id: string;
  risk: Risk;
  /** Whether it removes or may remove data: such an action needs a confirmed backup. */
  destructive: boolean;
  summary: string;
  action: RemediationAction;
}

export interface RemediationPlan {
  /** Derived from the plan's content: an approval names it, so a changed plan needs a new approval. */
  id: string;
  actions: PlannedAction[];
  /** Values to persist outside Redis (Helm values, ConfigMap, redis.conf): a runtime CONFIG SET is lost at restart. */
  persistAdvice: string[];
}

// ---------------------------------------------------------------------------------------------------------------
// Approval, backup, remediation, verification, report

export interface ApprovalPolicy {
  /** Emails allowed to approve or reject; `*` allows anyone. */
  approvers: string[];
  /** Refuse an approval from whoever started the run. */
  requireDifferentApprover: boolean;
  /** How long to wait for a decision, in seconds. */
  timeoutSeconds: number;
  /** Remind the notifier every this many seconds while waiting; 0 turns reminders off. */
  reminderIntervalSeconds: number;
  /** At the deadline: reject (default), or escalate once and wait another `timeoutSeconds` before rejecting. */
  onTimeout: 'reject' | 'escalate';
}

export interface VerifyPolicy {
  /** How long the pod is watched after remediation, in seconds. */
  windowSeconds: number;
  /** How often it is sampled during the window, in seconds. */
  intervalSeconds: number;
}

/** Settings the worker owns (from RUNBOOK_CONFIG), fetched once per run and recorded in its history. */
export interface RunbookSettings {
  approval: ApprovalPolicy;
  verify: VerifyPolicy;
  thresholds: Thresholds;
  /** Base URL of the Temporal Web UI, for links in reports. */
  temporalUiUrl: string;
  namespace: string;
}

export interface Thresholds {
  /** used_memory / maxmemory at or above which memory is "near the limit". */
  memoryNearLimitRatio: number;
  /** maxmemory as a share of the container memory limit (room for fork copy-on-write and fragmentation). */
  maxmemoryShareOfLimit: number;
  fragmentationRatio: number;
  bigKeyBytes: number;
  /** Retention given to `stat:*` keys that have no TTL, in seconds. */
  statKeyTtlSeconds: number;
  /** Sidekiq dead-set size above which it is trimmed. */
  sidekiqDeadMax: number;
  /** Cap on keys one cleanup action may touch (blast radius). */
  maxKeysPerAction: number;
  /** p99 of a concurrent probe, in ms, above which key cleanups pause between batches (absent: the activity's 5 ms). */
  cleanupP99TargetMs?: number;
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

export interface BackupResult {
  confirmed: boolean;
  lastSave: number;
  previousLastSave: number;
  status: string;
  dir?: string;
  dbfilename?: string;
  rdbBytes?: number;
  durationMs: number;
  error?: string;
}

export interface ActionResult {
  id: string;
  ok: boolean;
  detail: string;
  keysTouched?: number;
  bytesFreed?: number;
  /** The action stopped at its per-run cap with more left to do; going further needs its own approval. */
  capReached?: boolean;
}

export interface PodHealthSample {
  at: string;
  ready: boolean;
  restartCount: number;
  phase: string;
}

export interface Verification {
  passed: boolean;
  reasons: string[];
  before?: RedisDiagnostics;
  after?: RedisDiagnostics;
  podSamples: PodHealthSample[];
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

/** What the notifier is told. PagerDuty turns these into notes; the logging notifier prints them. */
export type RunbookEvent =
  | { type: 'started'; incidentId: string; uiUrl: string; target: RunbookTarget }
  | {
      type: 'plan-ready';
      incidentId: string;
      uiUrl: string;
      findings: Finding[];
      plan: RemediationPlan;
      needsApproval: string[];
    }
  | { type: 'approval-reminder'; incidentId: string; uiUrl: string; planId: string; deadline: string }
  | { type: 'approval-escalated'; incidentId: string; uiUrl: string; planId: string; deadline: string }
  | { type: 'decision'; incidentId: string; uiUrl: string; record: DecisionRecord }
  | { type: 'finished'; incidentId: string; uiUrl: string; report: RunbookReport };
