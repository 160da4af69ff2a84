import { pino, type Logger } from 'pino';
import { PagerDutyClient } from '../activities/pagerduty/index.js';
import { connectTemporal } from '../client/index.js';
import { ConfigError } from '../config/errors.js';
import { loadConfig } from '../config/runbook-config.js';
import { readGatewaySecrets, readPagerDutySecrets, readSlackSecrets } from '../config/secrets.js';
import { createSlackClient } from '../activities/slack/index.js';
import { createSlackInteractions } from './slack.js';
import { ReceiverMetrics } from './metrics.js';
import { startTracing, TRACING_ENV_VARS } from '../tracing/index.js';
import { createWebhookHandler, type WebhookHandler } from './handler.js';

/** Environment variables the receiver reads (`docker-compose.yml` and the Kubernetes manifests set these names). */
export const WEBHOOK_ENV_VARS = [
  'TEMPORAL_ADDRESS',
  'TEMPORAL_NAMESPACE',
  'RUNBOOK_TASK_QUEUE',
  'RUNBOOK_CONFIG',
  'LOG_LEVEL',
  'PAGERDUTY_API_TOKEN',
  'PAGERDUTY_FROM_EMAIL',
  'PAGERDUTY_WEBHOOK_SECRET',
  'PAGERDUTY_ACTION_SECRET',
  'PAGERDUTY_API_URL',
  'RUNBOOK_GATEWAY_SECRET',
  'SLACK_BOT_TOKEN',
  'SLACK_SIGNING_SECRET',
  'SLACK_API_URL',
  'RUNBOOK_METRICS_ADDRESS',
  ...TRACING_ENV_VARS,
  'PORT',
  'HOST',
] as const;

/** A receiver built from the environment, and how to let go of its Temporal connection. */
export interface WebhookFromEnv {
  handle: WebhookHandler;
  logger: Logger;
  metrics: ReceiverMetrics;
  /** `RUNBOOK_METRICS_ADDRESS`: where `runbook webhook` serves `GET /metrics`; none when unset. */
  metricsAddress?: string;
  close(): Promise<void>;
}

/**
 * Reads the configuration (the same `RUNBOOK_CONFIG` as the worker: the services under `pagerduty.services`, the
 * approval policy), connects to Temporal and builds the receiver. Secrets go from the environment straight into
 * the HMAC check and the PagerDuty client, nowhere else.
 * Without `PAGERDUTY_API_TOKEN` and `PAGERDUTY_FROM_EMAIL` it still verifies and starts intakes, and warns once.
 * @throws {ConfigError} when `PAGERDUTY_WEBHOOK_SECRET` is missing; `TemporalUnreachableError` from `client/`.
 */
export async function createWebhookFromEnv(
  env: NodeJS.ProcessEnv,
  opts: { logger?: Logger } = {},
): Promise<WebhookFromEnv> {
  const cfg = await loadConfig(env);
  const secrets = readPagerDutySecrets(env);
  if (secrets.webhookSecrets.length === 0) {
    throw new ConfigError([
      'PAGERDUTY_WEBHOOK_SECRET: required (the subscription’s signing secret verifies every request)',
    ]);
  }
  const logger = opts.logger ?? pino({ level: cfg.logLevel, base: { service: 'redis-runbook-webhook' } });
  if (cfg.pagerduty.services.length === 0) logger.warn('pagerduty.services is empty: no incident will start a run');
  const lacking = [
    ...(!secrets.apiToken ? ['PAGERDUTY_API_TOKEN'] : []),
    ...(!cfg.pagerduty.fromEmail ? ['PAGERDUTY_FROM_EMAIL'] : []),
  ];
  if (lacking.length > 0) {
    logger.warn(
      { missing: lacking },
      `${lacking.join(' and ')} not set: signed webhooks still start intakes (the worker routes them); set both ` +
        'to take approvals from /pagerduty/action (the user look-up) and note refusals on the incident',
    );
  }
  const temporal = await connectTemporal(env);
  const pagerduty =
    secrets.apiToken && cfg.pagerduty.fromEmail
      ? new PagerDutyClient({
          token: secrets.apiToken,
          fromEmail: cfg.pagerduty.fromEmail,
          apiUrl: cfg.pagerduty.apiUrl,
          // A webhook delivery must be answered within seconds: retry little, PagerDuty redelivers on failure.
          retry: {
            maxAttempts: 2,
            budgetMs: 4000,
            maxRetryAfterMs: 2000,
            pdjsRetryTimeoutMs: 500,
            requestTimeoutMs: 4000,
          },
        })
      : undefined;
  const gateway = readGatewaySecrets(env);
  if (cfg.approval.requireProof && gateway.length === 0)
    logger.warn(
      'RUNBOOK_GATEWAY_SECRET is not set: approvals from PagerDuty go unsigned and runs requiring proof refuse them',
    );
  const tracing = startTracing(env, 'redis-runbook-webhook');
  const metrics = new ReceiverMetrics();
  const slackSecrets = readSlackSecrets(env);
  const slack =
    slackSecrets.botToken && slackSecrets.signingSecrets.length > 0
      ? createSlackInteractions({
          signingSecrets: slackSecrets.signingSecrets,
          // Slack waits 3 s for the answer: one retry at most.
          slack: createSlackClient({ token: slackSecrets.botToken, apiUrl: cfg.slack.apiUrl, logger, retries: 1 }),
          client: temporal.client,
          ...(gateway[0] ? { gatewaySecret: gateway[0] } : {}),
          logger,
          metrics,
        })
      : undefined;
  if (!slack && (slackSecrets.botToken || slackSecrets.signingSecrets.length > 0))
    logger.warn('Slack needs both SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET: /slack/interactions answers 503');
  const handle = createWebhookHandler({
    secrets: secrets.webhookSecrets,
    actionSecrets: secrets.actionSecrets,
    client: temporal.client,
    taskQueue: temporal.settings.taskQueue,
    ...(pagerduty ? { pagerduty } : {}),
    services: cfg.pagerduty.services,
    approval: cfg.approval,
    logger,
    ...(gateway[0] ? { gatewaySecret: gateway[0] } : {}),
    ...(slack ? { slack } : {}),
    metrics,
  });
  return {
    handle,
    logger,
    metrics,
    ...(cfg.metricsAddress ? { metricsAddress: cfg.metricsAddress } : {}),
    close: async () => {
      await tracing.shutdown();
      await temporal.close();
    },
  };
}
