/**
 * `redisIncidentRunbook`: the on-call runbook for a crashing Redis in Kubernetes, as durable steps. It reads like the
 * runbook: diagnose, plan, back up, wait for a human, remediate what was approved, verify, report. Deterministic
 * orchestration only; everything that touches a system is an activity.
 */
import type { ActivityOptions } from '@temporalio/workflow';
import {
  ApplicationFailure,
  condition,
  log,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { RunbookActivities } from '../activities/index.js';
import {
  approveSignal,
  decideUpdate,
  incidentResolvedSignal,
  NON_RETRYABLE_ERRORS,
  rejectSignal,
  searchAttributes,
  statusQuery,
  targetLabel,
} from './definitions.js';
import { checkDecision } from './logic/approval-policy.js';
import { deriveFindings } from './logic/findings.js';
import { actionsNeedingApproval, buildPlan } from './logic/plan.js';
import { contentId } from './logic/plan-id.js';
import { evaluateVerification, keyFigures } from './logic/verify.js';
import { renderDetails } from './details.js';
import type { PodHealthSample } from '../activities/kubernetes/types.js';
import type { RunbookEvent } from '../activities/notify/events.js';
import type { BackupResult } from '../activities/redis/types.js';
import type { RunbookSettings } from '../activities/settings/types.js';
import type {
  Decision,
  DecisionRecord,
  Outcome,
  Phase,
  RunbookInput,
  RunbookReport,
  RunbookStatus,
} from './definitions.js';
import type { ActionResult, PlannedAction, RemediationPlan } from './logic/actions.js';
import type { Evidence } from './logic/findings.js';

const retry = (maximumAttempts: number): ActivityOptions['retry'] => ({
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '30s',
  maximumAttempts,
  nonRetryableErrorTypes: NON_RETRYABLE_ERRORS,
});

const settingsActivities = proxyActivities<RunbookActivities>({ startToCloseTimeout: '10s', retry: retry(5) });
const kubernetes = proxyActivities<RunbookActivities>({ startToCloseTimeout: '30s', retry: retry(5) });
const redisScan = proxyActivities<RunbookActivities>({
  startToCloseTimeout: '15m',
  heartbeatTimeout: '30s',
  retry: retry(5),
});
const redisBackup = proxyActivities<RunbookActivities>({
  startToCloseTimeout: '15m',
  heartbeatTimeout: '30s',
  retry: retry(3),
});
const redisChange = proxyActivities<RunbookActivities>({
  startToCloseTimeout: '30m',
  heartbeatTimeout: '30s',
  retry: retry(5),
});
/** How many times one action may go past its cap, each with its own approval. */
const MAX_CONTINUATIONS = 5;

const notifier = proxyActivities<RunbookActivities>({ startToCloseTimeout: '30s', retry: retry(5) });

/** Deterministic time: inside the workflow sandbox `Date` is the time of the current workflow task, replayed as such. */
function now(): Date {
  // eslint-disable-next-line no-restricted-syntax -- the sandbox's now().getTime() is the workflow task's time, replay-safe
  return new Date(Date.now());
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    return cause instanceof Error ? cause.message : err.message;
  }
  return String(err);
}

export async function redisIncidentRunbook(input: RunbookInput): Promise<RunbookReport> {
  const info = workflowInfo();
  const state: RunbookStatus = {
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
  const loaded: { settings?: RunbookSettings } = {};
  let approvedActions: string[] | undefined;
  let rejected = false;
  let pendingOverride: { by: string; actions: string[] } | undefined;
  const external: { incidentResolved?: { by?: string; reason?: string } } = {};

  const decisionContext = () => ({
    policy: loaded.settings!.approval,
    startedBy: input.startedBy,
    plan: state.plan,
    waiting: state.phase === 'awaiting-approval' && approvedActions === undefined && !rejected,
    approvable: state.awaitingApproval,
    backupConfirmed: state.backup?.confirmed ?? true,
    pendingOverride,
  });

  /** Records a decision; takes effect only if accepted. Shared by the signals and the update. */
  const decide = (d: Decision): DecisionRecord => {
    const check = loaded.settings
      ? checkDecision(d, decisionContext())
      : ({ accepted: false, refusal: 'the run has not loaded its approval policy yet' } as const);
    const record: DecisionRecord = { ...d, at: now().toISOString(), accepted: check.accepted };
    if (check.accepted) {
      if (d.decision === 'reject') rejected = true;
      else {
        record.actions = check.actions;
        if (check.final) approvedActions = check.actions;
        else {
          pendingOverride = { by: d.by, actions: check.actions };
          record.awaitingSecondApprover = true;
        }
      }
    } else {
      record.refusal = check.refusal;
      log.warn('decision refused', { by: d.by, refusal: check.refusal });
    }
    state.decisions.push(record);
    void tell({ type: 'decision', incidentId: input.incidentId, uiUrl: state.uiUrl, record });
    return record;
  };

  const resolvedBy = (): string => {
    const by = external.incidentResolved?.by;
    return by ? ` (by ${by})` : '';
  };

  setHandler(statusQuery, () => state);
  setHandler(approveSignal, (d) => void decide({ ...d, decision: 'approve' }));
  setHandler(rejectSignal, (d) => void decide({ ...d, decision: 'reject' }));
  setHandler(decideUpdate, (d) => decide(d), {
    validator: (d: Decision) => {
      if (!loaded.settings)
        throw ApplicationFailure.create({
          type: 'DecisionRefused',
          message: 'the run has not loaded its approval policy yet',
        });
      const check = checkDecision(d, decisionContext());
      if (!check.accepted) throw ApplicationFailure.create({ type: 'DecisionRefused', message: check.refusal });
    },
  });
  setHandler(incidentResolvedSignal, (r) => {
    external.incidentResolved = r;
  });

  /** Notifications never fail or stall the runbook: a failure is logged and the run goes on. */
  async function tell(event: RunbookEvent): Promise<void> {
    try {
      await notifier.notify.executeWithOptions({ summary: `notify: ${event.type}` }, [event]);
    } catch (err) {
      log.warn('notification failed', { event: event.type, error: errorMessage(err) });
      (state.notificationErrors ??= []).push(`${event.type}: ${errorMessage(err)}`.slice(0, 300));
    }
  }

  function enter(phase: Phase, outcome?: Outcome): void {
    state.phase = phase;
    if (outcome) state.outcome = outcome;
    upsertSearchAttributes([
      { key: searchAttributes.phase, value: phase },
      { key: searchAttributes.outcome, value: state.outcome },
    ]);
    setCurrentDetails(renderDetails(state));
  }

  function finish(outcome: Outcome, summary: string): Promise<RunbookReport> {
    return (async () => {
      state.outcome = outcome;
      enter('reporting');
      const approval = [...state.decisions].reverse().find((d) => d.accepted && d.decision === 'approve');
      const report: RunbookReport = {
        incidentId: input.incidentId,
        outcome,
        summary,
        findings: state.findings,
        plan: state.plan,
        approvedBy: approval?.by,
        decisions: state.decisions,
        backup: state.backup,
        results: state.results,
        before: keyFigures(state.verification?.before ?? evidence.redis),
        after: keyFigures(state.verification?.after),
        verification: state.verification && { passed: state.verification.passed, reasons: state.verification.reasons },
        uiUrl: state.uiUrl,
      };
      await tell({ type: 'finished', incidentId: input.incidentId, uiUrl: state.uiUrl, report });
      enter('done');
      return report;
    })();
  }

  upsertSearchAttributes([
    { key: searchAttributes.incidentId, value: input.incidentId },
    { key: searchAttributes.target, value: targetLabel(input.target) },
  ]);

  // --- settings, recorded in history so the run replays under the policy it started with
  const cfg = await settingsActivities.loadSettings.executeWithOptions(
    { summary: 'load approval policy and thresholds' },
    [],
  );
  loaded.settings = cfg;
  state.uiUrl = `${cfg.temporalUiUrl.replace(/\/$/, '')}/namespaces/${encodeURIComponent(info.namespace)}/workflows/${encodeURIComponent(info.workflowId)}/${encodeURIComponent(info.runId)}/history`;
  await tell({ type: 'started', incidentId: input.incidentId, uiUrl: state.uiUrl, target: input.target });

  // --- 1-4: evidence. A failed step leaves its error as evidence instead of stopping the runbook.
  enter('diagnosing');
  const { namespace, pod, container, redis } = input.target;
  const evidence: Evidence = {};
  try {
    evidence.pod = await kubernetes.describePod.executeWithOptions({ summary: `describe pod ${namespace}/${pod}` }, [
      { namespace, pod },
    ]);
  } catch (err) {
    evidence.podError = errorMessage(err);
  }
  try {
    evidence.logs = await kubernetes.fetchPreviousLogs.executeWithOptions(
      { summary: 'previous container logs, classified' },
      [{ namespace, pod, container }],
    );
  } catch (err) {
    evidence.logs = {
      available: false,
      unavailableReason: errorMessage(err),
      bytesRead: 0,
      signals: [],
      lastLines: [],
    };
  }
  try {
    evidence.limits = await kubernetes.checkLimits.executeWithOptions(
      { summary: 'requests, limits and owner workload' },
      [{ namespace, pod, container }],
    );
  } catch (err) {
    evidence.limitsError = errorMessage(err);
  }
  try {
    evidence.redis = await redisScan.diagnoseRedis.executeWithOptions(
      { summary: `Redis diagnostics ${redis.host}:${redis.port}` },
      [{ redis }],
    );
  } catch (err) {
    evidence.redisError = errorMessage(err);
  }

  // --- 5: findings and plan, a pure function of the evidence
  enter('planning');
  state.findings = deriveFindings(evidence, cfg.thresholds);
  const plan = buildPlan(evidence, state.findings, cfg.thresholds);
  state.plan = plan;
  const needsApproval = actionsNeedingApproval(plan);
  await tell({
    type: 'plan-ready',
    incidentId: input.incidentId,
    uiUrl: state.uiUrl,
    findings: state.findings,
    plan,
    needsApproval,
  });

  if (input.dryRun)
    return finish(
      'dry-run',
      `Dry run: ${state.findings.length} finding(s), plan ${plan.id} with ${plan.actions.length} action(s); nothing was changed.`,
    );
  if (plan.actions.length === 0)
    return finish('nothing-to-do', `${state.findings.length} finding(s) and no remediation to run.`);
  if (external.incidentResolved)
    return finish('incident-resolved', `The incident was resolved before any action ran${resolvedBy()}.`);

  // --- 6: backup, confirmed, before anything risky
  if (needsApproval.length > 0 || plan.actions.some((a) => a.destructive)) {
    enter('backing-up');
    let backup: BackupResult;
    try {
      backup = await redisBackup.backupRedis.executeWithOptions({ summary: 'BGSAVE and confirm LASTSAVE advanced' }, [
        { redis },
      ]);
    } catch (err) {
      backup = {
        confirmed: false,
        lastSave: 0,
        previousLastSave: 0,
        status: 'err',
        durationMs: 0,
        error: errorMessage(err),
      };
    }
    state.backup = backup;
    // Without a confirmed backup the run still asks, but only an override by two approvers lets anything risky run.
    if (!backup.confirmed && needsApproval.length === 0) {
      return finish('backup-failed', `No confirmed backup (${backup.error ?? backup.status}): nothing was run.`);
    }
  }

  // --- 7: approval, with a deadline, reminders, and reject (or escalate once) at the deadline
  /** Waits for a decision on `forPlan` until the policy's deadline, reminding, and escalating once if so configured. */
  async function waitForDecision(forPlan: RemediationPlan, approvable: string[]): Promise<void> {
    state.plan = forPlan;
    state.awaitingApproval = approvable;
    const policy = cfg.approval;
    let deadlineMs = now().getTime() + policy.timeoutSeconds * 1000;
    let escalated = false;
    state.approvalDeadline = new Date(deadlineMs).toISOString();
    enter('awaiting-approval');
    const decided = () => approvedActions !== undefined || rejected || external.incidentResolved !== undefined;
    for (;;) {
      const left = deadlineMs - now().getTime();
      if (left <= 0) {
        if (policy.onTimeout === 'escalate' && !escalated) {
          escalated = true;
          deadlineMs = now().getTime() + policy.timeoutSeconds * 1000;
          state.approvalDeadline = new Date(deadlineMs).toISOString();
          setCurrentDetails(renderDetails(state));
          await tell({
            type: 'approval-escalated',
            incidentId: input.incidentId,
            uiUrl: state.uiUrl,
            planId: forPlan.id,
            deadline: state.approvalDeadline,
          });
          continue;
        }
        break;
      }
      const slice = policy.reminderIntervalSeconds > 0 ? Math.min(left, policy.reminderIntervalSeconds * 1000) : left;
      if (await condition(decided, slice, { summary: `waiting for approval of ${forPlan.id}` })) break;
      if (now().getTime() < deadlineMs) {
        await tell({
          type: 'approval-reminder',
          incidentId: input.incidentId,
          uiUrl: state.uiUrl,
          planId: forPlan.id,
          deadline: state.approvalDeadline,
        });
      }
    }
    state.awaitingApproval = [];
  }

  let approved: string[] = [];
  if (needsApproval.length > 0) {
    await waitForDecision(plan, needsApproval);
    if (external.incidentResolved && approvedActions === undefined && !rejected) {
      return finish(
        'incident-resolved',
        `The incident was resolved while the plan waited for approval${resolvedBy()}; nothing was changed.`,
      );
    }
    if (rejected) {
      const r = state.decisions.filter((d) => d.accepted && d.decision === 'reject').pop();
      return finish('rejected', `Rejected by ${r?.by ?? 'unknown'}: ${r?.reason ?? ''}. Nothing was changed.`);
    }
    if (approvedActions === undefined && state.backup && !state.backup.confirmed) {
      return finish(
        'backup-failed',
        `No confirmed backup (${state.backup.error ?? state.backup.status}) and no backup override by two approvers by ${state.approvalDeadline}: nothing was changed. A human must take over.`,
      );
    }
    if (approvedActions === undefined) {
      return finish('timed-out', `No decision by ${state.approvalDeadline}: rejected by policy. Nothing was changed.`);
    }
    approved = approvedActions;
  }

  // --- 8: remediate the approved actions (and the safe ones), in plan order, stopping at the first failure
  async function runAction(planned: PlannedAction): Promise<ActionResult> {
    try {
      const summary = planned.summary.slice(0, 120);
      if (planned.action.kind === 'rolling-restart') {
        return await kubernetes.rollingRestart.executeWithOptions({ summary }, [
          { workload: planned.action.workload, restartedAt: `${info.runId}:${planned.id}` },
        ]);
      }
      if (planned.action.kind === 'set-memory-limit') {
        const { workload, container, bytes } = planned.action;
        return await kubernetes.setMemoryLimit.executeWithOptions({ summary }, [
          { workload, container, bytes, actionId: planned.id },
        ]);
      }
      const p99TargetMs = cfg.thresholds.cleanupP99TargetMs;
      return await redisChange.applyRedisAction.executeWithOptions({ summary }, [
        { redis, action: planned, ...(p99TargetMs ? { pacing: { p99TargetMs } } : {}) },
      ]);
    } catch (err) {
      return { id: planned.id, ok: false, detail: errorMessage(err) };
    }
  }

  /** An action stopped at its cap: going further is a plan of its own, approved on its own. */
  async function continuePastCap(planned: PlannedAction, round: number): Promise<ActionResult | undefined> {
    const more: PlannedAction = {
      ...planned,
      id: `${planned.id}+${round}`,
      summary: `Continue past the cap: ${planned.summary}`,
    };
    const continuation: RemediationPlan = {
      id: contentId('plan', { after: plan.id, action: more.id }),
      actions: [more],
      persistAdvice: [],
    };
    approvedActions = undefined;
    pendingOverride = undefined;
    await tell({
      type: 'plan-ready',
      incidentId: input.incidentId,
      uiUrl: state.uiUrl,
      findings: state.findings,
      plan: continuation,
      needsApproval: [more.id],
    });
    await waitForDecision(continuation, [more.id]);
    state.plan = plan;
    enter('remediating');
    if (approvedActions === undefined) return undefined;
    return runAction(more);
  }

  enter('remediating');
  const toRun = plan.actions.filter((a) => a.risk === 'safe' || approved.includes(a.id));
  for (const planned of toRun) {
    let result = await runAction(planned);
    state.results.push(result);
    setCurrentDetails(renderDetails(state));
    for (let round = 1; result.ok && result.capReached && round <= MAX_CONTINUATIONS && !rejected; round++) {
      const next = await continuePastCap(planned, round);
      if (!next) {
        state.results.push({ id: `${planned.id}+${round}`, ok: true, detail: 'not approved: stopped at the cap' });
        break;
      }
      result = next;
      state.results.push(result);
      setCurrentDetails(renderDetails(state));
    }
    if (!result.ok && planned.action.kind !== 'config-rewrite') {
      return finish(
        'remediation-failed',
        `Action ${planned.id} failed: ${result.detail}. The remaining actions were not run; a human must take over.`,
      );
    }
  }

  // --- 9: verify: Redis again, and the pod over a durable watch window. Failure escalates; the run never loops.
  enter('verifying');
  let after;
  let afterError: string | undefined;
  try {
    after = await redisScan.diagnoseRedis.executeWithOptions({ summary: 'Redis diagnostics after remediation' }, [
      { redis },
    ]);
  } catch (err) {
    afterError = errorMessage(err);
  }
  const samples: PodHealthSample[] = [];
  let podError: string | undefined;
  const { windowSeconds, intervalSeconds } = cfg.verify;
  const rounds = Math.max(1, Math.ceil(windowSeconds / Math.max(1, intervalSeconds)));
  for (let i = 0; i <= rounds && !podError; i++) {
    if (i > 0) await sleep(Math.min(intervalSeconds, windowSeconds) * 1000, { summary: 'verify window' });
    try {
      samples.push(
        await kubernetes.podHealth.executeWithOptions({ summary: `pod health ${i}/${rounds}` }, [{ namespace, pod }]),
      );
    } catch (err) {
      podError = errorMessage(err);
    }
  }
  const findingsAfter = after
    ? deriveFindings({ ...evidence, redis: after, redisError: undefined }, cfg.thresholds)
    : [];
  state.verification = evaluateVerification({
    before: evidence.redis,
    after,
    afterError,
    findingsBefore: state.findings,
    findingsAfter,
    podSamples: samples,
    podError,
  });

  // --- 10: report
  const ran = state.results.map((r) => r.id).join(', ');
  return state.verification.passed
    ? finish('resolved', `Ran ${ran}; verified: Redis accepts writes and the pod stayed up for ${windowSeconds}s.`)
    : finish(
        'verification-failed',
        `Ran ${ran}; verification failed: ${state.verification.reasons.join('; ')}. Escalated to a human.`,
      );
}
