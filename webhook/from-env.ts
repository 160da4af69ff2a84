import { Client, Connection } from '@temporalio/client';
import { pino, type Logger } from 'pino';
import { PagerDutyClient } from '../activities/pagerduty/index.js';
import { ConfigError, loadConfig, readPagerDutySecrets, TemporalUnreachableError } from '../worker/config.js';
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
  'PORT',
] as const;

/** A receiver built from the environment, and how to let go of its Temporal connection. */
export interface WebhookFromEnv {
  handle: WebhookHandler;
  logger: Logger;
  close(): Promise<void>;
}

/**
 * Reads the configuration (the same `RUNBOOK_CONFIG` as the worker: routes under `pagerduty.services`, the approval
 * policy, `targets`), connects to Temporal and builds the receiver. Secrets go from the environment straight into
 * the HMAC check and the PagerDuty client, nowhere else.
 * @throws {ConfigError} when `PAGERDUTY_WEBHOOK_SECRET`, `PAGERDUTY_API_TOKEN` or `PAGERDUTY_FROM_EMAIL` is missing.
 */
export async function createWebhookFromEnv(
  env: NodeJS.ProcessEnv,
  opts: { logger?: Logger } = {},
): Promise<WebhookFromEnv> {
  const cfg = await loadConfig(env);
  const secrets = readPagerDutySecrets(env);
  const missing = [
    ...(secrets.webhookSecrets.length === 0
      ? ['PAGERDUTY_WEBHOOK_SECRET: required (the subscription’s signing secret)']
      : []),
    ...(!secrets.apiToken ? ['PAGERDUTY_API_TOKEN: required (alerts, users and notes)'] : []),
    ...(!cfg.pagerduty.fromEmail ? ['PAGERDUTY_FROM_EMAIL: required (PagerDuty writes need From)'] : []),
  ];
  if (missing.length > 0) throw new ConfigError(missing);
  const logger = opts.logger ?? pino({ level: cfg.logLevel, base: { service: 'redis-runbook-webhook' } });
  if (cfg.pagerduty.services.length === 0) logger.warn('pagerduty.services is empty: no incident will start a run');

  const { address, namespace, taskQueue } = cfg.temporal;
  let connection: Connection;
  try {
    connection = await Connection.connect({ address, connectTimeout: 5000 });
  } catch (err) {
    throw TemporalUnreachableError.from(address, err);
  }
  const pagerduty = new PagerDutyClient({
    token: secrets.apiToken!,
    fromEmail: cfg.pagerduty.fromEmail!,
    apiUrl: cfg.pagerduty.apiUrl,
    // A webhook delivery must be answered within seconds: retry little, PagerDuty redelivers on failure.
    retry: { maxAttempts: 2, budgetMs: 4000, maxRetryAfterMs: 2000, pdjsRetryTimeoutMs: 500, requestTimeoutMs: 4000 },
  });
  const handle = createWebhookHandler({
    secrets: secrets.webhookSecrets,
    actionSecrets: secrets.actionSecrets,
    client: new Client({ connection, namespace }),
    taskQueue,
    pagerduty,
    services: cfg.pagerduty.services,
    targets: cfg.targets,
    approval: cfg.approval,
    logger,
  });
  return { handle, logger, close: () => connection.close() };
}
