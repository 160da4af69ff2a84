/**
 * Workflow time, deterministic on purpose: the Temporal workflow sandbox replaces `Date`, so `Date.now()` here is the
 * time of the current workflow task, the same value on every replay (the SDK offers no other clock to workflow code;
 * `sleep` and `condition` are for waiting, not for reading the time). Deadlines, decision times and the lock's
 * cooldown window are derived from it.
 */
export function now(): Date {
  // eslint-disable-next-line no-restricted-syntax -- the sandbox's Date.now() is the workflow task's time, replay-safe
  return new Date(Date.now());
}
