import type { ApprovalPolicy, Decision, RemediationPlan } from '../types.js';

/** What a decision is checked against. */
export interface DecisionContext {
  policy: ApprovalPolicy;
  startedBy: string;
  plan?: RemediationPlan;
  /** Whether the run is waiting for a decision right now. */
  waiting: boolean;
  /** Action ids that may be approved (the plan's risky actions). */
  approvable: string[];
}

export type DecisionCheck = { accepted: true; actions: string[] } | { accepted: false; refusal: string };

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
    return { accepted: true, actions: [] };
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
  const wanted = decision.actions && decision.actions.length > 0 ? [...new Set(decision.actions)] : ctx.approvable;
  const unknown = wanted.filter((id) => !ctx.approvable.includes(id));
  if (unknown.length > 0) {
    return {
      accepted: false,
      refusal: `not approvable in plan ${ctx.plan.id}: ${unknown.join(', ')} (approvable: ${ctx.approvable.join(', ')})`,
    };
  }
  if (wanted.length === 0) return { accepted: false, refusal: 'the approval names no action' };
  return { accepted: true, actions: wanted };
}
