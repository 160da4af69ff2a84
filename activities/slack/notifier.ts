import type { WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import { callKey, isRetry } from '../notify/call-key.js';
import type { NotifyResult, RunbookEvent } from '../notify/events.js';
import { describeEvent, type Notifier } from '../notify/notifier.js';
import { advanceCard, cardBlocks, cardForPlan, cardText, escapeMrkdwn, type SlackCard } from './card.js';

/** The `metadata.event_type` of what the runbook posts; `event_payload.key` is the notify call's key. */
const EVENT_TYPE = 'redis_runbook_notification';
/** How far back a retried post looks for its first try. */
const LOOK_BACK_SECONDS = 3600;

type Message = { ts?: string; metadata?: { event_type?: string; event_payload?: Record<string, unknown> } };

/**
 * The run in one Slack message: posted with the plan (findings, what needs approval, approve and reject buttons, the
 * UI link), updated in place as the run moves, each event told in its thread. Buttons go once the plan is decided.
 *
 * Safe to retry: every post carries its call's key in its metadata, and a retried call first looks for it (channel
 * history for the card, the thread for a reply). Updates rewrite the whole message from the card, so they repeat
 * harmlessly. The card itself lives in the run, not here: any worker carries on with it.
 */
export class SlackNotifier implements Notifier {
  constructor(
    private readonly slack: WebClient,
    private readonly channel: string,
    private readonly logger?: Logger,
  ) {}

  async notify(event: RunbookEvent): Promise<NotifyResult> {
    const key = callKey(event);
    if (!event.slack) {
      if (event.type !== 'plan-ready') return {};
      const card = cardForPlan(event, this.channel);
      const ts = (await this.findPosted(key)) ?? (await this.post(card, key));
      this.logger?.info({ incidentId: event.incidentId, channel: this.channel, ts }, 'Slack message posted');
      return { slack: { ...card, ts } };
    }
    const card = advanceCard(event.slack, event);
    await this.slack.chat.update({
      channel: card.channel,
      ts: card.ts,
      text: cardText(card),
      blocks: cardBlocks(card),
    });
    await this.reply(card, event, key);
    return { slack: card };
  }

  private async post(card: SlackCard, key: string): Promise<string> {
    const posted = await this.slack.chat.postMessage({
      channel: card.channel,
      text: cardText(card),
      blocks: cardBlocks(card),
      metadata: { event_type: EVENT_TYPE, event_payload: { key, incident_id: card.incidentId } },
    });
    if (!posted.ts) throw new Error('chat.postMessage answered without a ts');
    return posted.ts;
  }

  /** The message an earlier try of this call posted, if it got that far. */
  private async findPosted(key: string): Promise<string | undefined> {
    if (!isRetry()) return undefined;
    const history = await this.slack.conversations.history({
      channel: this.channel,
      oldest: String(Math.floor(Date.now() / 1000) - LOOK_BACK_SECONDS),
      include_all_metadata: true,
      limit: 200,
    });
    return ((history.messages ?? []) as Message[]).find((m) => isOurs(m, key))?.ts;
  }

  /** The event, one line in the card's thread, once per call. */
  private async reply(card: SlackCard, event: RunbookEvent, key: string): Promise<void> {
    if (isRetry()) {
      const thread = await this.slack.conversations.replies({
        channel: card.channel,
        ts: card.ts,
        include_all_metadata: true,
        limit: 200,
      });
      if (((thread.messages ?? []) as Message[]).some((m) => isOurs(m, key))) return;
    }
    await this.slack.chat.postMessage({
      channel: card.channel,
      thread_ts: card.ts,
      text: escapeMrkdwn(describeEvent(event)),
      metadata: { event_type: EVENT_TYPE, event_payload: { key, incident_id: card.incidentId } },
    });
  }
}

function isOurs(message: Message, key: string): boolean {
  return message.metadata?.event_type === EVENT_TYPE && message.metadata.event_payload?.key === key;
}
