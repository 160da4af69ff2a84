import { Context } from '@temporalio/activity';
import type { z } from 'zod';

/**
 * Where a long loop (a SCAN, a cleanup, a BGSAVE poll) reports its progress and finds the state of a previous attempt.
 * Inside an activity it is the heartbeat; in plain code (tests, scripts) it is {@link detachedProgress}.
 */
export interface Progress<T> {
  /** State heartbeated by the previous attempt of this activity, when it is valid; undefined on a first attempt. */
  readonly resumeFrom: T | undefined;
  /** Records the state (heartbeats it). Throws the cancellation reason when the activity was cancelled. */
  report(state: T): void;
}

/** Progress outside any activity: starts from `resumeFrom` and reports to `onReport` (or nowhere). */
export function detachedProgress<T>(resumeFrom?: T, onReport?: (state: T) => void): Progress<T> {
  return { resumeFrom, report: (state) => onReport?.(state) };
}

/**
 * Progress of the current activity when there is one (heartbeats; `resumeFrom` is the previous attempt's details
 * when they parse with `schema`), else {@link detachedProgress}. `schema` guards against details of another shape,
 * e.g. heartbeated by an older version of the activity.
 */
export function activityProgress<T>(schema: z.ZodType<T>): Progress<T> {
  let ctx: Context;
  try {
    ctx = Context.current();
  } catch {
    return detachedProgress<T>();
  }
  const parsed = schema.safeParse(ctx.info.heartbeatDetails);
  return {
    resumeFrom: parsed.success ? parsed.data : undefined,
    report(state) {
      ctx.heartbeat(state);
      if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
    },
  };
}

/** `workflowId/runId` of the run the current activity belongs to; undefined outside an activity. */
export function currentRun(): string | undefined {
  try {
    const run = Context.current().info.workflowExecution;
    return run && `${run.workflowId}/${run.runId}`;
  } catch {
    return undefined;
  }
}

/** Heartbeats `details` in the current activity (throwing its cancellation), and does nothing outside one. */
export function activityHeartbeat(): (details: unknown) => void {
  let ctx: Context;
  try {
    ctx = Context.current();
  } catch {
    return () => undefined;
  }
  return (details) => {
    ctx.heartbeat(details);
    if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
  };
}
