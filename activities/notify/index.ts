import type { NotifyResult, RunbookEvent } from './events.js';
import type { Notifier } from './notifier.js';

export type { Notifier } from './notifier.js';
export { LoggingNotifier } from './logging-notifier.js';
export { FanOutNotifier } from './fan-out.js';

/** Activities that tell people what the run does. */
export function createNotifyActivities(notifier: Notifier) {
  return {
    /** Hands one event to the notifier. The workflow never fails because of it: it catches and records. */
    async notify(event: RunbookEvent): Promise<NotifyResult> {
      return (await notifier.notify(event)) ?? {};
    },
  };
}
