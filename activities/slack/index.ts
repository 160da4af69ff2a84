import { LogLevel, WebClient, type Logger as SlackLogger } from '@slack/web-api';
import type { Logger } from 'pino';

export { SlackNotifier } from './notifier.js';
export { SLACK_ACTIONS, type SlackButtonValue, type SlackCard } from './card.js';

/** What a Slack Web API client is built from: the bot token (`SLACK_BOT_TOKEN`) and where the API is. */
export interface SlackClientOptions {
  token: string;
  /** `SLACK_API_URL`, default `https://slack.com/api/`. */
  apiUrl?: string;
  logger?: Logger;
  /** Retries of a failed or rate-limited call (Slack's `Retry-After` is honoured); default 3. */
  retries?: number;
}

/** The SDK's log lines through pino, so they are structured like the rest (and never printed raw to stdout). */
function slackLogger(logger: Logger | undefined): SlackLogger {
  let level = LogLevel.WARN;
  const at =
    (method: 'debug' | 'info' | 'warn' | 'error') =>
    (...msg: unknown[]) =>
      logger?.[method]({ component: 'slack' }, msg.map(String).join(' '));
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    setLevel: (l) => (level = l),
    getLevel: () => level,
    setName: () => undefined,
  };
}

/** Slack's maintained Web API client, with retries that fit in a notification's 30 s. */
export function createSlackClient(opts: SlackClientOptions): WebClient {
  return new WebClient(opts.token, {
    slackApiUrl: opts.apiUrl ?? 'https://slack.com/api/',
    logger: slackLogger(opts.logger),
    logLevel: LogLevel.WARN,
    timeout: 8000,
    retryConfig: { retries: opts.retries ?? 3, factor: 2, minTimeout: 300, maxTimeout: 3000 },
  });
}
