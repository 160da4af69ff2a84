/**
 * One run's state and the handlers that read or change it: what `status` returns, the settings the run loaded, the
 * evidence, and the decisions taken so far. The steps of the runbook are functions over this one object.
 */
import {
  ApplicationFailure,
  log,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { RunbookEvent } from '../activities/notify/events.js';
import type { RunbookSettings } from '../activities/settings/types.js';
import { notifier } from './activities.js';
import {
  approveSignal,
  decideUpdate,
  incidentResolvedSignal,
  rejectSignal,
  searchAttributes,
  statusQuery,
  targetLabel,
  type Decision,
  type DecisionRecord,
  type Outcome,
  type Phase,
  type RunbookInput,
  type RunbookStatus,
} from './definitions.js';
import { renderDetails } from './details.js';
import { checkDecision } from './logic/approval-policy.js';
import type { Evidence } from './logic/findings.js';

/**
 * Deterministic time, on purpose: the Temporal workflow sandbox replaces `Date`, so `Date.now()` here is the time of
 * the current workflow task, the same value on every replay (the SDK has no other clock for workflow code). Deadlines
 * and decision timestamps are derived from it.
 */
export function now(): Date {
  // eslint-disable-next-line no-restricted-syntax -- the sandbox's now().getTime() is the workflow task's time, replay-safe
  return new Date(Date.now());
}

/** The message of a failed activity (its cause's, which is the activity's own error). */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    return cause instanceof Error ? cause.message : err.message;
  }
  return String(err);
}

/** An event without the fields every event carries (`incidentId`, `uiUrl`), which {@link RunbookRun.tell} adds. */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type EventBody = DistributiveOmit<RunbookEvent, 'incidentId' | 'uiUrl'>;

/** How a run ends: the outcome and one sentence for the report. */
export interface Ending {
  outcome: Outcome;
  summary: string;
}

export class RunbookRun {
  readonly status: RunbookStatus;
  readonly evidence: Evidence = {};
  /** Ids of the risky actions that need a decision, from the plan. */
  needsApproval: string[] = [];
  /** Set when a final approval was accepted: the action ids it approved (a continuation resets it). */
  approvedActions?: string[];
  /** The risky actions the plan's approval let run. */
  approved: string[] = [];
  rejected = false;
  /** A backup override held from its first approver until a second one confirms it. */
  pendingOverride?: { by: string; actions: string[] };
  incidentResolved?: { by?: string; reason?: string };
  private loaded?: RunbookSettings;

  constructor(readonly input: RunbookInput) {
    this.status = {
      incidentId: input.incidentId,
      phase: 'starting',
      outcome: 'running',
      target: input.target,
      startedBy: input.startedBy,
      findings: [],
      awaitingApproval: [],
      decisions: [],
      results: [],
      uiUrl: '',
    };
    setHandler(statusQuery, () => this.status);
    setHandler(approveSignal, (d) => void this.decide({ ...d, decision: 'approve' }));
    setHandler(rejectSignal, (d) => void this.decide({ ...d, decision: 'reject' }));
    setHandler(decideUpdate, (d) => this.decide(d), {
      validator: (d: Decision) => {
        const check = this.check(d);
        if (!check.accepted) throw ApplicationFailure.create({ type: 'DecisionRefused', message: check.refusal });
      },
    });
    setHandler(incidentResolvedSignal, (r) => {
      this.incidentResolved = r;
    });
    upsertSearchAttributes([
      { key: searchAttributes.incidentId, value: input.incidentId },
      { key: searchAttributes.target, value: targetLabel(input.target) },
    ]);
  }

  /** The settings the run loaded; the steps run only after {@link load}. */
  get settings(): RunbookSettings {
    if (!this.loaded) throw new Error('the run has not loaded its settings yet');
    return this.loaded;
  }

  /** Takes the loaded settings and derives the run's link in the Temporal UI from them. */
  load(settings: RunbookSettings): void {
    this.loaded = settings;
    const info = workflowInfo();
    const path = [info.namespace, info.workflowId, info.runId].map(encodeURIComponent);
    this.status.uiUrl = `${settings.temporalUiUrl.replace(/\/$/, '')}/namespaces/${path[0]}/workflows/${path[1]}/${path[2]}/history`;
  }

  /** A decision, an incident resolved elsewhere: something that ends the wait for approval. */
  decided(): boolean {
    return this.approvedActions !== undefined || this.rejected || this.incidentResolved !== undefined;
  }

  /** ` (by someone)` when PagerDuty said who resolved the incident. */
  resolvedBy(): string {
    const by = this.incidentResolved?.by;
    return by ? ` (by ${by})` : '';
  }

  enter(phase: Phase, outcome?: Outcome): void {
    this.status.phase = phase;
    if (outcome) this.status.outcome = outcome;
    upsertSearchAttributes([
      { key: searchAttributes.phase, value: phase },
      { key: searchAttributes.outcome, value: this.status.outcome },
    ]);
    this.showDetails();
  }

  showDetails(): void {
    setCurrentDetails(renderDetails(this.status));
  }

  /** Notifications never fail or stall the runbook: a failure is logged and kept in the status, and the run goes on. */
  async tell(body: EventBody): Promise<void> {
    const event = { ...body, incidentId: this.input.incidentId, uiUrl: this.status.uiUrl };
    try {
      await notifier.notify.executeWithOptions({ summary: `notify: ${event.type}` }, [event]);
    } catch (err) {
      log.warn('notification failed', { event: event.type, error: errorMessage(err) });
      (this.status.notificationErrors ??= []).push(`${event.type}: ${errorMessage(err)}`.slice(0, 300));
    }
  }

  private check(d: Decision) {
    if (!this.loaded) return { accepted: false, refusal: 'the run has not loaded its approval policy yet' } as const;
    return checkDecision(d, {
      policy: this.loaded.approval,
      startedBy: this.input.startedBy,
      plan: this.status.plan,
      waiting: this.status.phase === 'awaiting-approval' && this.approvedActions === undefined && !this.rejected,
      approvable: this.status.awaitingApproval,
      backupConfirmed: this.status.backup?.confirmed ?? true,
      pendingOverride: this.pendingOverride,
    });
  }

  /** Records a decision; it takes effect only if accepted. Shared by the signals and the update. */
  private decide(d: Decision): DecisionRecord {
    const check = this.check(d);
    const record: DecisionRecord = { ...d, at: now().toISOString(), accepted: check.accepted };
    if (!check.accepted) {
      record.refusal = check.refusal;
      log.warn('decision refused', { by: d.by, refusal: check.refusal });
    } else if (d.decision === 'reject') {
      this.rejected = true;
    } else {
      record.actions = check.actions;
      if (check.final) this.approvedActions = check.actions;
      else {
        this.pendingOverride = { by: d.by, actions: check.actions };
        record.awaitingSecondApprover = true;
      }
    }
    this.status.decisions.push(record);
    void this.tell({ type: 'decision', record });
    return record;
  }
}
