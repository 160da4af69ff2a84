import type { RunbookEvent } from './events.js';
import type { Notifier } from './notifier.js';

export type { Notifier } from './notifier.js';
export { LoggingNotifier } from './logging-notifier.js';

/** Activities that tell people what the run does. */
export function createNotifyActivities(notifier: Notifier) {
  return {
    /** Hands one event to the notifier. The workflow never fails because of it: it catches and records. */
    async notify(event: RunbookEvent): Promise<void> {
      await notifier.notify(event);
    },
  };
}
