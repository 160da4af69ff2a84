/**
 * Compensation, offered and never automatic: when an action fails after earlier ones changed Redis, the values they
 * replaced (recorded by each action before its change) become a plan of their own, approved on its own.
 */
import type { ActionResult, PlannedAction, RemediationPlan } from './actions.js';
import { contentId } from './plan-id.js';

/** The rollback of the changes in `results` (newest first), or undefined when nothing can be put back. */
export function rollbackPlan(planId: string, results: ActionResult[]): RemediationPlan | undefined {
  const actions: PlannedAction[] = [];
  for (const r of results) {
    if (!r.ok || !r.previous) continue;
    const bytes = Number(r.previous['maxmemory']);
    // maxmemory 0 (no limit) is not a value the runbook sets: that one is a person's call, said in the advice.
    if (Number.isInteger(bytes) && bytes > 0)
      actions.push({
        id: `rollback-${r.id}`,
        risk: 'risky',
        destructive: false,
        summary: `Put maxmemory back to ${bytes} bytes (changed by ${r.id})`,
        action: { kind: 'set-maxmemory', bytes },
      });
    const policy = r.previous['maxmemory-policy'];
    if (typeof policy === 'string')
      actions.push({
        id: `rollback-${r.id}`,
        risk: 'risky',
        destructive: false,
        summary: `Put maxmemory-policy back to ${policy} (changed by ${r.id})`,
        action: { kind: 'set-maxmemory-policy', policy },
      });
  }
  if (actions.length === 0) return undefined;
  actions.reverse();
  return {
    id: contentId('plan', { rollback: planId, actions: actions.map((a) => a.action) }),
    actions,
    persistAdvice: [
      'Keys a cleanup expired or removed come back only from the backup taken before the change (see the report).',
    ],
  };
}
