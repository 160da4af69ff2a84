import type { PlannedAction, RemediationAction } from '../../workflows/logic/actions.js';

/** A risky, non-destructive plan step named `id`: what the Redis suites hand `applyRedisAction`. */
export function planned(id: string, action: RemediationAction): PlannedAction {
  return { id, risk: 'risky', destructive: false, summary: id, action };
}
