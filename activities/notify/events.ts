import type { DecisionRecord, LinkedRun, RunbookReport, RunbookTarget } from '../../workflows/definitions.js';
import type { Finding } from '../../workflows/logic/findings.js';
import type { BackupCopy } from '../redis/types.js';
import type { RemediationPlan } from '../../workflows/logic/actions.js';
import type { SlackCard } from '../slack/card.js';

/**
 * What the notifier is told. PagerDuty turns these into notes, Slack into one message it keeps up to date; the logging
 * notifier prints them. `slack` is that message as the last notification left it (the run keeps it, workers don't).
 */
export type RunbookEvent = RunbookEventBody & { slack?: SlackCard };

/** What a notification returned that the run keeps for the next one. */
export interface NotifyResult {
  /** The run's Slack message, once posted, as it now reads. */
  slack?: SlackCard;
  /** Channels that failed while another one returned something to keep (else the call fails instead). */
  failed?: string[];
}

type RunbookEventBody =
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
  /** Another incident's run holds the target: this one waits, then diagnoses again. */
  | { type: 'target-busy'; incidentId: string; uiUrl: string; holder: LinkedRun }
  /** Another incident for this target waits for this run. */
  | { type: 'incident-linked'; incidentId: string; uiUrl: string; other: LinkedRun }
  | {
      type: 'breaker-open';
      incidentId: string;
      uiUrl: string;
      recentRemediations: number;
      maxRemediations: number;
      windowSeconds: number;
      planId: string;
    }
  /** The snapshot was copied off the server and restore-tested (or could not be). */
  | { type: 'backup-copied'; incidentId: string; uiUrl: string; copy?: BackupCopy; error?: string }
  | { type: 'finished'; incidentId: string; uiUrl: string; report: RunbookReport };
