import { createHash } from 'node:crypto';
import { Context } from '@temporalio/activity';
import type { RunbookEvent } from './events.js';

/**
 * The key of one notify call: the workflow run and the activity id, which a retry keeps and every other call of
 * the run differs in (two reminders have the same content, not the same activity id). Outside an activity (tests,
 * scripts) a digest of the event stands in. Channels mark what they post with it, so a retry finds its first try.
 */
export function callKey(event: RunbookEvent): string {
  try {
    const info = Context.current().info;
    return `${info.workflowExecution?.runId ?? info.workflowType}#${info.activityId}`;
  } catch {
    return createHash('sha256').update(JSON.stringify(event)).digest('hex').slice(0, 16);
  }
}

/** Whether this call may have posted before (a retry of the activity, or of a worker that died in it). */
export function isRetry(): boolean {
  try {
    return Context.current().info.attempt > 1;
  } catch {
    return false;
  }
}
