/**
 * One run's state and the handlers that read or change it: what `status` returns, the settings the run loaded, the
 * evidence, and the decisions taken so far. The steps of the runbook are functions over this one object.
 */
import {
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  log,
  patched,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { RunbookEvent } from '../activities/notify/events.js';
import { runbookMetrics } from './metrics.js';
import type { RunbookSettings } from '../activities/settings/types.js';
import { identity, notifier, redisProgress } from './activities.js';
import {
  approveSignal,
  cancelSignal,
  decideUpdate,
  incidentLinkedSignal,
  incidentResolvedSignal,
  leaseGrantedSignal,
  leaseQueuedSignal,
  rejectSignal,
  SAFE_PRODUCTION_PATCH,
  searchAttributes,
  statusQuery,
  targetLabel,
  type Decision,
  type DecisionRecord,
  type LeaseGrant,
  type Outcome,
  type Phase,
  type RunbookInput,
  type RunbookResume,
  type RunbookStatus,
  type VerifiedIdentity,
} from './definitions.js';
import { now } from './clock.js';
import { renderDetails } from './details.js';
import type { PlannedAction } from './logic/actions.js';
import { checkDecision, type DecisionCheck } from './logic/approval-policy.js';
import type { Evidence } from './logic/findings.js';
import { MAX_REFUSALS_RECORDED } from './logic/limits.js';

/**
 * The message of a failed activity (its cause's, which is the activity's own error), for a step that turns a failure
 * into evidence or a failed result. Rethrows a cancellation: a cancelled run stops, it never records that as evidence.
 */
export function failureMessage(err: unknown): string {
  if (isCancellation(err)) throw err;
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    return cause instanceof Error ? cause.message : err.message;
  }
  return String(err);
}

/**
 * An event without the fields every event carries (`incidentId`, `uiUrl`, and the Slack message once posted), which
 * {@link RunbookRun.tell} adds.
 */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type EventBody = DistributiveOmit<RunbookEvent, 'incidentId' | 'uiUrl' | 'slack'>;

/** How a run ends: the outcome and one sentence for the report. */
export interface Ending {
  outcome: Outcome;
  summary: string;
}

export class RunbookRun {
  /** Whether this run runs with {@link SAFE_PRODUCTION_PATCH} (every run started on this version does). */
  readonly v2: boolean;
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
  /** The target's lock, once the coordinator granted it. */
  lease?: LeaseGrant;
  /** The cooldown is spent: every action of the plan needs a person's approval. */
  breakerOpen = false;
  /** Redis could not be reached: the plan came from the Kubernetes evidence, and Redis is diagnosed once the pod is up. */
  withoutRedis = false;
  /** The action running now, so a cancelled run can say how far it got. */
  current?: PlannedAction;
  /**
   * Set while the approval wait hands over to a fresh run (continue-as-new): decisions are turned away at once, with
   * no proof check, so the handlers in flight can finish; the sender sends again and reaches the next run.
   */
  continuing = false;
  /** The runbook's steps run in this scope: the `cancel` signal cancels it as Temporal's own cancel would. */
  readonly steps = new CancellationScope();
  private loaded?: RunbookSettings;
  /** When the current phase began (workflow time, ms): its duration goes to the metrics when the next one starts. */
  private phaseSince = now().getTime();
  /** The notifications started so far, chained so that they reach the incident in the order of the events. */
  private outbox: Promise<void> = Promise.resolve();

  constructor(readonly input: RunbookInput) {
    this.v2 = patched(SAFE_PRODUCTION_PATCH);
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
    setHandler(incidentResolvedSignal, (r) => {
      this.incidentResolved = r;
    });
    if (this.v2) this.handleDecisions();
    else this.handleDecisionsUnproven();
    if (this.v2) this.handleLockAndCancel();
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

  /** The state a run waiting for approval carries into its next run (see {@link restore}). */
  snapshot(escalated: boolean): RunbookResume {
    return {
      settings: this.settings,
      status: this.status,
      evidence: this.evidence,
      needsApproval: this.needsApproval,
      ...(this.pendingOverride ? { pendingOverride: this.pendingOverride } : {}),
      ...(this.lease ? { lease: this.lease } : {}),
      breakerOpen: this.breakerOpen,
      escalated,
      ...(this.withoutRedis ? { withoutRedis: true } : {}),
    };
  }

  /** Takes the state of the run it continues; the UI link becomes this run's. */
  restore(r: RunbookResume): void {
    Object.assign(this.status, r.status);
    Object.assign(this.evidence, r.evidence);
    this.needsApproval = r.needsApproval;
    this.pendingOverride = r.pendingOverride;
    this.lease = r.lease;
    this.breakerOpen = r.breakerOpen;
    this.withoutRedis = r.withoutRedis ?? false;
    this.load(r.settings);
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

  /** Moves to `phase` once every notification told so far went out (the incident reads the story in order). */
  async enter(phase: Phase, outcome?: Outcome): Promise<void> {
    if (this.v2) await this.outbox;
    const at = now().getTime();
    runbookMetrics.phaseDone(this.status.phase, at - this.phaseSince);
    this.phaseSince = at;
    this.status.phase = phase;
    if (outcome) this.status.outcome = outcome;
    upsertSearchAttributes([
      { key: searchAttributes.phase, value: phase },
      { key: searchAttributes.outcome, value: this.status.outcome },
    ]);
    this.showDetails();
  }

  /** Resolves once every notification told so far went out. */
  async delivered(): Promise<void> {
    await this.outbox;
  }

  showDetails(): void {
    setCurrentDetails(renderDetails(this.status));
  }

  /**
   * Tells the incident. Notifications never fail or stall the runbook: a failure is logged and kept in the status,
   * and the run goes on. They are sent one after another in the order they were told (a decision's note, told by a
   * handler, waits for the note before it), and {@link enter} waits for all of them before the next phase.
   */
  tell(body: EventBody): Promise<void> {
    if (!this.v2) return this.send(body);
    const next = this.outbox.then(() => this.send(body));
    this.outbox = next.catch(() => undefined);
    return next;
  }

  private async send(body: EventBody): Promise<void> {
    const slack = this.status.slack;
    const event = { ...body, incidentId: this.input.incidentId, uiUrl: this.status.uiUrl, ...(slack ? { slack } : {}) };
    try {
      const result = await notifier.notify.executeWithOptions({ summary: `notify: ${event.type}` }, [event]);
      // Kept in the run (and across continue-as-new), so any worker updates the same Slack message next time.
      if (result?.slack) this.status.slack = result.slack;
      for (const failure of result?.failed ?? []) this.notificationFailed(event.type, failure);
    } catch (err) {
      this.notificationFailed(event.type, failureMessage(err));
    }
  }

  private notificationFailed(event: RunbookEvent['type'], message: string): void {
    log.warn('notification failed', { event, error: message });
    runbookMetrics.notificationFailed(event);
    (this.status.notificationErrors ??= []).push(`${event}: ${message}`.slice(0, 300));
  }

  /** Runs the runbook's steps; a cancellation (signal or Temporal's) ends them with a `cancelled` ending. */
  async untilCancelled(walk: (run: RunbookRun) => Promise<Ending>): Promise<Ending> {
    if (!this.v2) return walk(this);
    try {
      return await this.steps.run(() => walk(this));
    } catch (err) {
      if (!isCancellation(err)) throw err;
      return CancellationScope.nonCancellable(() => this.cancelledEnding());
    }
  }

  private async cancelledEnding(): Promise<Ending> {
    const c = (this.status.cancelled ??= {
      by: 'Temporal',
      reason: 'cancel requested through Temporal (UI, CLI or API)',
      at: now().toISOString(),
    });
    const planned = this.current;
    let stopped = '';
    if (planned && ['expire-keys', 'unlink-keys', 'trim-sorted-set'].includes(planned.action.kind)) {
      // The cleanup stopped at a batch boundary; its marker holds exactly what it changed.
      const done = await redisProgress.actionProgress
        .executeWithOptions({ summary: `what ${planned.id} did before the cancel` }, [
          { redis: this.input.target.redis, actionId: planned.id },
        ])
        .catch(() => undefined);
      const detail = `cancelled mid-way${done ? `: ${done.touched} keys touched before it stopped` : ''}`;
      this.status.results.push({ id: planned.id, ok: false, detail, ...(done ? { keysTouched: done.touched } : {}) });
      stopped = ` ${planned.id} was ${detail}.`;
    }
    const ran = this.status.results.filter((r) => r.ok).map((r) => r.id);
    return {
      outcome: 'cancelled',
      summary: `Cancelled by ${c.by}: ${c.reason}. ${ran.length ? `Ran before it: ${ran.join(', ')}.` : 'Nothing was changed.'}${stopped}`,
    };
  }

  private handleLockAndCancel(): void {
    setHandler(leaseGrantedSignal, (grant) => {
      this.lease = grant;
    });
    setHandler(leaseQueuedSignal, (holder) => {
      const lock = this.status.lock;
      if (!lock || this.lease || lock.behind?.workflowId === holder.workflowId) return;
      Object.assign(lock, { state: 'queued', behind: holder });
      this.showDetails();
      void this.tell({ type: 'target-busy', holder });
    });
    setHandler(incidentLinkedSignal, (other) => {
      const lock = this.status.lock;
      if (!lock || lock.linked.some((l) => l.workflowId === other.workflowId)) return;
      lock.linked.push(other);
      this.showDetails();
      void this.tell({ type: 'incident-linked', other });
    });
    setHandler(cancelSignal, ({ by, reason }) => {
      if (this.status.cancelled || this.status.phase === 'reporting' || this.status.phase === 'done') return;
      this.status.cancelled = { by: String(by), reason: String(reason), at: now().toISOString() };
      this.steps.cancel();
    });
  }

  /** Decisions as this version takes them: proven (when the policy says so), refusals recorded. */
  private handleDecisions(): void {
    setHandler(approveSignal, (d) => this.submit({ ...d, decision: 'approve' }).then(() => undefined));
    setHandler(rejectSignal, (d) => this.submit({ ...d, decision: 'reject' }).then(() => undefined));
    const CONTINUING = 'the run is moving to a fresh history (continue-as-new): send the decision again';
    setHandler(
      decideUpdate,
      async (d) => {
        const record = await this.submit(d);
        if (!record.accepted)
          throw ApplicationFailure.create({ type: 'DecisionRefused', message: record.refusal, nonRetryable: true });
        return record;
      },
      {
        // Only malformed input is refused here (unrecorded); every real refusal is recorded by the handler.
        validator: (d: Decision) => {
          if (!d || (d.decision !== 'approve' && d.decision !== 'reject') || typeof d.by !== 'string')
            throw ApplicationFailure.create({ type: 'DecisionRefused', message: 'malformed decision' });
          if (this.continuing) throw ApplicationFailure.create({ type: 'RunContinuing', message: CONTINUING });
        },
      },
    );
  }

  /** Decisions as runs recorded before {@link SAFE_PRODUCTION_PATCH} took them (replay only). */
  private handleDecisionsUnproven(): void {
    setHandler(approveSignal, (d) => void this.decide({ ...d, decision: 'approve' }));
    setHandler(rejectSignal, (d) => void this.decide({ ...d, decision: 'reject' }));
    setHandler(decideUpdate, (d) => this.decide(d), {
      validator: (d: Decision) => {
        const check = this.check(d);
        if (!check.accepted) throw ApplicationFailure.create({ type: 'DecisionRefused', message: check.refusal });
      },
    });
  }

  /** Verifies the decision's proof (an activity), then checks it against the policy and records it. */
  private async submit(d: Decision): Promise<DecisionRecord> {
    const at = now().toISOString();
    if (this.continuing)
      // Recorded, not told: the hand-over waits for the notes in flight, and must not wait on new ones.
      return this.take(d, { accepted: false, refusal: 'the run was moving to a fresh history: send it again' }, at, {
        quiet: true,
      });
    let verified: VerifiedIdentity | undefined;
    let refusal: string | undefined;
    if (this.loaded && (this.loaded.approval.requireProof || d.proof)) {
      const info = workflowInfo();
      const verdict = await identity.verifyDecisionProof.executeWithOptions(
        { summary: `verify the proof of a ${d.decision} by ${String(d.by).slice(0, 80)}` },
        // The chain's first run: a signature stays good when the wait continues as new.
        [{ decision: d, scope: { workflowId: info.workflowId, runId: info.firstExecutionRunId }, at }],
      );
      if (verdict.ok) verified = verdict.verified;
      else refusal = verdict.reason;
    }
    const check: DecisionCheck = refusal ? { accepted: false, refusal } : this.check(d);
    return this.take(d, check, at, verified ? { verified } : {});
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

  /** Checks and records a decision (runs recorded before proofs). */
  private decide(d: Decision): DecisionRecord {
    return this.take(d, this.check(d), now().toISOString());
  }

  /**
   * Records a checked decision; it takes effect only if accepted. A refusal is kept in `status.refusals` (the first
   * MAX_REFUSALS_RECORDED, then only counted) and told to the incident while under that bound.
   */
  private take(
    d: Decision,
    check: DecisionCheck,
    at: string,
    { verified, quiet = false }: { verified?: VerifiedIdentity; quiet?: boolean } = {},
  ): DecisionRecord {
    // The proof was checked by submit(); the signature itself is not kept in the status.
    const record: DecisionRecord = { ...d, at, accepted: check.accepted, ...(verified ? { verified } : {}) };
    delete (record as Decision).proof;
    const ends = check.accepted && (d.decision === 'reject' || check.final);
    const waited = ends && this.status.phase === 'awaiting-approval' ? now().getTime() - this.phaseSince : undefined;
    runbookMetrics.decided(d.decision, check.accepted, d.via ?? 'unknown', waited);
    if (!check.accepted) {
      record.refusal = check.refusal;
      log.warn('decision refused', { by: d.by, refusal: check.refusal });
      if (this.v2) {
        const refusals = (this.status.refusals ??= []);
        if (refusals.length >= MAX_REFUSALS_RECORDED) {
          this.status.refusalsNotKept = (this.status.refusalsNotKept ?? 0) + 1;
          return record;
        }
        refusals.push(record);
        this.showDetails();
        if (!quiet) void this.tell({ type: 'decision', record });
        return record;
      }
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
