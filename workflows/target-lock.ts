/**
 * `redisTargetLock`: one per Redis target, the lock that lets one run at a time back up and change it, and the
 * target's cooldown. Runs ask with signal-with-start (`requestLease`), so the first ask starts it; it grants in order
 * of asking, tells a waiting run who holds the target and the holder who waits, and ends once idle with no
 * remediation left in the window. A holder that ends without releasing (terminated) is noticed within
 * a minute or so (backing off) and dropped. It carries its state across continue-as-new, so it never outgrows its history.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  makeContinueAsNewFunc,
  getExternalWorkflowHandle,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { RunbookActivities } from '../activities/index.js';
import {
  incidentLinkedSignal,
  leaseGrantedSignal,
  leaseQueuedSignal,
  lockStateQuery,
  releaseLeaseSignal,
  requestLeaseSignal,
  type LeaseRequest,
  type TargetLockState,
} from './definitions.js';
import { now } from './clock.js';

/**
 * How often the coordinator checks that its holder still runs (the fallback for a run terminated by hand): after a
 * minute, then backing off to every 30 minutes, so a holder waiting a week for approval costs a few hundred checks.
 */
const holderCheckMs = (checks: number) => Math.min(30 * 60_000, 60_000 * 2 ** checks);

/** History length past which the coordinator continues as new. */
const MAX_EVENTS = 2000;

const temporal = proxyActivities<Pick<RunbookActivities, 'runIsOpen'>>({
  startToCloseTimeout: '10s',
  retry: { maximumAttempts: 5, initialInterval: '1s' },
});

const same = (a: { workflowId: string; runId: string }, b: { workflowId: string; runId: string }) =>
  a.workflowId === b.workflowId && a.runId === b.runId;

/** The run of a chain to signal now: the one that asked last (a run that continued as new asks again). */
const reach = (r: LeaseRequest) => getExternalWorkflowHandle(r.workflowId, r.currentRunId ?? r.runId);

export async function redisTargetLock(state: TargetLockState): Promise<void> {
  let changed = true;
  /** Notices owed to runs (who waits, who holds), sent by the loop in order. */
  const notices: Array<() => Promise<void>> = [];
  setHandler(lockStateQuery, () => state);
  setHandler(requestLeaseSignal, (r) => {
    changed = true;
    state.cooldown = r.cooldown;
    if (state.holder && same(state.holder, r)) {
      // A retried ask, or the holder continued as new: answer again, at the run that asked.
      if (r.currentRunId) state.holder.currentRunId = r.currentRunId;
      notices.push(() => grant(r));
    } else if (!state.queue.some((q) => same(q, r))) {
      state.queue.push(r);
      const holder = state.holder;
      if (holder) notices.push(() => tellQueued(r, holder));
    }
  });
  setHandler(releaseLeaseSignal, (r) => {
    changed = true;
    if (state.holder && same(state.holder, r)) {
      if (r.remediated) state.remediations.push(now().toISOString());
      state.holder = undefined;
    }
    state.queue = state.queue.filter((q) => !same(q, r));
  });

  async function grant(r: LeaseRequest): Promise<void> {
    const windowMs = (state.cooldown ?? r.cooldown).windowSeconds * 1000;
    const since = now().getTime() - windowMs;
    const recentRemediations = state.remediations.filter((t) => Date.parse(t) >= since).length;
    try {
      await reach(r).signal(leaseGrantedSignal, {
        recentRemediations,
        cooldown: state.cooldown ?? r.cooldown,
      });
    } catch (err) {
      // The run ended while it waited: it holds nothing.
      log.info('lease holder is gone', { workflowId: r.workflowId, error: String(err) });
      if (state.holder && same(state.holder, r)) state.holder = undefined;
      changed = true;
    }
  }

  async function tellQueued(r: LeaseRequest, holder: LeaseRequest): Promise<void> {
    const link = (x: LeaseRequest) => ({ incidentId: x.incidentId, workflowId: x.workflowId });
    await Promise.allSettled([
      reach(r).signal(leaseQueuedSignal, link(holder)),
      reach(holder).signal(incidentLinkedSignal, link(r)),
    ]);
  }

  let checks = 0;
  let checked: string | undefined;
  for (;;) {
    changed = false;
    const windowMs = (state.cooldown?.windowSeconds ?? 0) * 1000;
    state.remediations = state.remediations.filter((t) => Date.parse(t) > now().getTime() - windowMs);
    while (notices.length > 0) await notices.shift()!();
    if (!state.holder && state.queue.length > 0) {
      const next = state.queue.shift()!;
      // Those already waiting learn who holds it now; those who ask from here on are told by the handler.
      const waiting = [...state.queue];
      const holder = (state.holder = { ...next, grantedAt: now().toISOString() });
      for (const w of waiting) notices.push(() => tellQueued(w, holder));
      await grant(next);
      continue;
    }
    if (!state.holder && state.queue.length === 0 && state.remediations.length === 0) break;
    const info = workflowInfo();
    // Pinned like every run of a versioned worker; a new current version takes it over at its next continue-as-new.
    const upgrade = info.targetWorkerDeploymentVersionChanged;
    if (info.historyLength > MAX_EVENTS || info.continueAsNewSuggested || upgrade) {
      await condition(allHandlersFinished);
      const next = upgrade
        ? makeContinueAsNewFunc<typeof redisTargetLock>({ initialVersioningBehavior: 'AUTO_UPGRADE' })
        : continueAsNew<typeof redisTargetLock>;
      await next(state);
    }
    const untilExpiry = state.remediations.length
      ? Math.max(1000, Date.parse(state.remediations[0]!) + windowMs - now().getTime())
      : undefined;
    if (checked !== state.holder?.runId) [checks, checked] = [0, state.holder?.runId];
    const woke = await condition(
      () => changed || notices.length > 0,
      state.holder ? holderCheckMs(checks++) : untilExpiry!,
    );
    const holder = state.holder;
    if (!woke && holder && !(await temporal.runIsOpen({ workflowId: holder.workflowId, runId: holder.runId }))) {
      log.warn('lease holder ended without releasing; counted as a remediation', { workflowId: holder.workflowId });
      state.remediations.push(now().toISOString());
      state.holder = undefined;
    }
  }
  await condition(allHandlersFinished);
}
