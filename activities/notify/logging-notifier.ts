import type { Logger } from 'pino';
import type { RunbookEvent } from './events.js';
import { describeEvent, type Notifier } from './notifier.js';

/** Logs each event as one structured line. The default notifier when PagerDuty is not configured. */
export class LoggingNotifier implements Notifier {
  constructor(private readonly logger: Logger) {}

  notify(event: RunbookEvent): Promise<void> {
    this.logger.info({ incidentId: event.incidentId, event: event.type }, describeEvent(event));
    return Promise.resolve();
  }
}
