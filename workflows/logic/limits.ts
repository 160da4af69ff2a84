/**
 * Caps that keep one run's history far below Temporal's limits (51,200 events, 50 MB) whatever the configuration
 * says: the schema refuses values past them, and the workflow enforces them again for a hand-written settings object.
 */

/** Longest approval wait, in seconds (a week): past it a person should start a new run on fresh evidence. */
export const MAX_APPROVAL_TIMEOUT_SECONDS = 7 * 24 * 3600;

/** Reminders per approval wait; a shorter interval is stretched to `timeout / MAX_REMINDERS`. */
export const MAX_REMINDERS = 48;

/** Health samples in the verify window; a shorter interval is stretched to `window / MAX_VERIFY_ROUNDS`. */
export const MAX_VERIFY_ROUNDS = 120;

/** Longest verify window, in seconds (a day). */
export const MAX_VERIFY_WINDOW_SECONDS = 24 * 3600;

/** How many times one action may go past its cap, each with its own approval round. */
export const MAX_CONTINUATIONS = 5;

/** Refused decisions kept one by one in the status; past it only counted (a flood cannot grow the run). */
export const MAX_REFUSALS_RECORDED = 20;

/**
 * Events after which an approval wait continues as new: a flood of decisions (each refusal costs a handful of
 * events, its proof check included) ends up in a fresh history instead of growing one without end. A run that is not
 * flooded stays far below it (a week's wait with every reminder is about 300 events).
 */
export const CONTINUE_AFTER_EVENTS = 2000;

/** Cleanup patterns one run previews and may act on. */
export const MAX_CLEANUP_PATTERNS = 10;

/** Nodes of a set or Cluster whose pods a run looks up (a bound on what lands in the history). */
export const MAX_LOCATED_NODES = 64;

/** The interval between reminders, stretched so that a wait of `timeoutSeconds` sends at most MAX_REMINDERS. */
export function reminderInterval(timeoutSeconds: number, intervalSeconds: number): number {
  if (intervalSeconds <= 0) return 0;
  return Math.max(intervalSeconds, Math.ceil(timeoutSeconds / MAX_REMINDERS));
}

/** Verify rounds for a window sampled every `intervalSeconds`, at most MAX_VERIFY_ROUNDS. */
export function verifyRounds(windowSeconds: number, intervalSeconds: number): { rounds: number; everySeconds: number } {
  const window = Math.min(windowSeconds, MAX_VERIFY_WINDOW_SECONDS);
  const rounds = Math.min(MAX_VERIFY_ROUNDS, Math.max(1, Math.ceil(window / Math.max(1, intervalSeconds))));
  return { rounds, everySeconds: Math.max(Math.min(intervalSeconds, window), Math.ceil(window / rounds)) };
}
