import type { DecisionRecord, RunbookReport, RunbookTarget } from '../../workflows/definitions.js';
import type { Finding } from '../../workflows/logic/findings.js';
import type { RemediationPlan } from '../../workflows/logic/actions.js';

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
