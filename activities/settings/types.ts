/** The settings a run loads once (from the worker's RUNBOOK_CONFIG) and records in its history. */

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
  /**
   * Count a decision only with a verified proof of who sent it (an SSH signature or a gateway's signature). Absent in
   * histories recorded before proofs existed, which replay as they ran (unproven).
   */
  requireProof?: boolean;
}

/** How often one Redis target may be remediated: past the limit every action needs a person's approval. */
export interface CooldownPolicy {
  /** Remediations allowed per window before the circuit breaker opens. */
  maxRemediations: number;
  windowSeconds: number;
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
  /** Absent in histories recorded before the per-target lock. */
  cooldown?: CooldownPolicy;
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
  /** Age in days past which dead jobs are trimmed (Sidekiq's `dead_timeout_in_seconds`); absent in runs before it. */
  sidekiqDeadMaxAgeDays?: number;
  /** Cap on keys one cleanup action may touch (blast radius). */
  maxKeysPerAction: number;
  /** p99 of a concurrent probe, in ms, above which key cleanups pause between batches (absent: the activity's 5 ms). */
  cleanupP99TargetMs?: number;
  /** The same for the diagnosis scan (absent: the activity's 5 ms). */
  scanP99TargetMs?: number;
}
