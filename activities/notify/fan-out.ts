import { ApplicationFailure } from '@temporalio/common';
import type { NotifyResult, RunbookEvent } from './events.js';
import type { Notifier } from './notifier.js';

/**
 * Tells every channel (PagerDuty, Slack), each whatever the others did: a Slack outage does not keep the note off the
 * incident. A failure fails the call, naming each channel that failed, without retry (each channel retried itself);
 * unless another channel returned something the run must keep (the Slack message just posted): then the failures are
 * returned with it, and the run records them as it records a failed call.
 */
export class FanOutNotifier implements Notifier {
  constructor(private readonly channels: Array<{ name: string; notifier: Notifier }>) {}

  async notify(event: RunbookEvent): Promise<NotifyResult> {
    const result: NotifyResult = {};
    const failed: string[] = [];
    for (const { name, notifier } of this.channels) {
      try {
        Object.assign(result, await notifier.notify(event));
      } catch (err) {
        failed.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    if (failed.length > 0 && !result.slack) {
      throw ApplicationFailure.create({ type: 'NotificationFailed', message: failed.join('; '), nonRetryable: true });
    }
    return failed.length > 0 ? { ...result, failed } : result;
  }
}
