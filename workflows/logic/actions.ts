/**
 * The remediation vocabulary: what a plan may ask for, how risky each step is, and what running one reports. The plan
 * builds these, the approval names them, the Redis and Kubernetes activities carry them out.
 */
import type { WorkloadRef } from '../../activities/kubernetes/types.js';

export type RemediationAction =
  | { kind: 'set-maxmemory'; bytes: number }
  | { kind: 'set-maxmemory-policy'; policy: string }
  | { kind: 'expire-keys'; pattern: string; ttlSeconds: number; maxKeys: number }
  | { kind: 'unlink-keys'; pattern: string; maxKeys: number }
  /** Keeps the newest `keep` members, and none scored at or below `maxScore` (an age cut-off) when given. */
  | { kind: 'trim-sorted-set'; key: string; keep: number; maxScore?: number }
  | { kind: 'memory-purge' }
  | { kind: 'config-rewrite' }
  | { kind: 'rolling-restart'; workload: WorkloadRef }
  | {
      kind: 'set-memory-limit';
      workload: WorkloadRef;
      container: string;
      /** The new `resources.limits.memory`, in bytes; the pods roll to take it. */
      bytes: number;
    }
  | {
      kind: 'set-liveness-delay';
      workload: WorkloadRef;
      container: string;
      /** The new `livenessProbe.initialDelaySeconds`: long enough for Redis to load its data. */
      initialDelaySeconds: number;
    };

/** Every kind of step a plan can hold: a misspelt kind fails to compile. */
export type ActionKind = RemediationAction['kind'];

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
  /** Settings for the applications that fill this Redis (Sidekiq's `sidekiq.rb`), for the report. */
  appAdvice?: string[];
  /** What is wrong outside Redis and no action here fixes (a node under pressure), for the report. */
  outsideAdvice?: string[];
}

export interface ActionResult {
  id: string;
  ok: boolean;
  detail: string;
  keysTouched?: number;
  bytesFreed?: number;
  /** The action stopped at its per-run cap with more left to do; going further needs its own approval. */
  capReached?: boolean;
  /** The values the action replaced, read just before it changed them: what a rollback puts back. */
  previous?: Record<string, number | string>;
}
