import type { ApprovalPolicy } from '../../activities/settings/types.js';
import type { Decision } from '../definitions.js';
import type { RemediationPlan } from './actions.js';

/** What a decision is checked against. */
export interface DecisionContext {
  policy: ApprovalPolicy;
  startedBy: string;
  plan?: RemediationPlan;
  /** Whether the run is waiting for a decision right now. */
  waiting: boolean;
  /** Action ids that may be approved (the plan's risky actions). */
  approvable: string[];
  /** Whether the backup was confirmed; without it an approval needs an override by two people. */
  backupConfirmed: boolean;
  /** A backup override the first approver gave, waiting for a second approver. */
  pendingOverride?: { by: string; actions: string[] };
}

/** `final` is false for the first half of a backup override: the actions wait for a second approver. */
export type DecisionCheck =
  { accepted: true; actions: string[]; final: boolean } | { accepted: false; refusal: string };

const EMAIL = /^[^\s@]+@[^\s@]+$/;

function normalise(email: string): string {
  return email.trim().toLowerCase();
}

/** Whether `who` is on the policy's allow-list (`*` allows anyone). */
export function isAllowedApprover(policy: ApprovalPolicy, who: string): boolean {
  const me = normalise(who);
  return policy.approvers.some((a) => a === '*' || normalise(a) === me);
}

/**
 * Checks an approval or rejection against the policy and the current plan. Pure: the workflow calls it in the
 * update validator (to refuse at once) and again in the signal handler (where a refusal can only be recorded).
 */
export function checkDecision(decision: Decision, ctx: DecisionContext): DecisionCheck {
  const by = decision.by?.trim() ?? '';
  if (!ctx.waiting) return { accepted: false, refusal: 'no decision is pending: the run is not waiting for approval' };
  if (!EMAIL.test(by)) return { accepted: false, refusal: `"${by}" is not an email address` };
  if (!isAllowedApprover(ctx.policy, by)) return { accepted: false, refusal: `${by} is not on the approvers list` };
  if (decision.decision === 'reject') {
    if (!decision.reason?.trim()) return { accepted: false, refusal: 'a rejection needs a reason' };
    return { accepted: true, actions: [], final: true };
  }
  if (!ctx.plan) return { accepted: false, refusal: 'there is no plan to approve' };
  if (!decision.planId)
    return { accepted: false, refusal: `the approval must name the plan it approves (${ctx.plan.id})` };
  if (decision.planId !== ctx.plan.id) {
    return {
      accepted: false,
      refusal: `stale plan: the approval names ${decision.planId}, the current plan is ${ctx.plan.id}`,
    };
  }
  if (ctx.policy.requireDifferentApprover && normalise(by) === normalise(ctx.startedBy)) {
    return { accepted: false, refusal: `${by} started this run and cannot approve it (a second person must)` };
  }
  const defaults = ctx.pendingOverride?.actions ?? ctx.approvable;
  const wanted = decision.actions && decision.actions.length > 0 ? [...new Set(decision.actions)] : defaults;
  const unknown = wanted.filter((id) => !ctx.approvable.includes(id));
  if (unknown.length > 0) {
    return {
      accepted: false,
      refusal: `not approvable in plan ${ctx.plan.id}: ${unknown.join(', ')} (approvable: ${ctx.approvable.join(', ')})`,
    };
  }
  if (wanted.length === 0) return { accepted: false, refusal: 'the approval names no action' };
  if (ctx.backupConfirmed) return { accepted: true, actions: wanted, final: true };

  if (!decision.overrideBackup) {
    return {
      accepted: false,
      refusal: 'there is no confirmed backup: approving needs overrideBackup, confirmed by a second approver',
    };
  }
  const first = ctx.pendingOverride;
  if (!first) return { accepted: true, actions: wanted, final: false };
  if (normalise(by) === normalise(first.by)) {
    return { accepted: false, refusal: `the backup override needs a second approver: ${first.by} already approved it` };
  }
  const beyond = wanted.filter((id) => !first.actions.includes(id));
  if (beyond.length > 0) {
    return {
      accepted: false,
      refusal: `${first.by} did not approve ${beyond.join(', ')}: a second approver confirms, not extends`,
    };
  }
  return { accepted: true, actions: wanted, final: true };
}
