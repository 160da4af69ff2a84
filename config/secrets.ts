/**
 * Secrets, read from the environment where they are used and kept nowhere else: never in configuration objects, logs
 * or workflow history. Configuration only names the variables that hold them.
 */
import type { RedisAddress } from '../workflows/definitions.js';
import type { RunbookFile } from './runbook-file.js';

/** Secrets of the PagerDuty integration, read from the environment where they are used and kept nowhere else. */
export interface PagerDutySecrets {
  /** `PAGERDUTY_API_TOKEN`. */
  apiToken?: string;
  /** `PAGERDUTY_WEBHOOK_SECRET`, split at commas: during a rotation both the old and the new secret verify. */
  webhookSecrets: string[];
  /** `PAGERDUTY_ACTION_SECRET`, split at commas: the shared secret `/pagerduty/action` accepts instead of a signature. */
  actionSecrets: string[];
  /** `PAGERDUTY_ROUTING_KEY`: the Events API v2 integration key change events are sent with. */
  routingKey?: string;
}

function splitSecrets(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Reads {@link PagerDutySecrets}. Never log or store the result. */
export function readPagerDutySecrets(env: NodeJS.ProcessEnv = process.env): PagerDutySecrets {
  const token = env.PAGERDUTY_API_TOKEN?.trim();
  const routingKey = env.PAGERDUTY_ROUTING_KEY?.trim();
  return {
    ...(token ? { apiToken: token } : {}),
    ...(routingKey ? { routingKey } : {}),
    webhookSecrets: splitSecrets(env.PAGERDUTY_WEBHOOK_SECRET),
    actionSecrets: splitSecrets(env.PAGERDUTY_ACTION_SECRET),
  };
}

/** Secrets of the Slack app: `SLACK_BOT_TOKEN` (the worker posts, the receiver looks users up) and the receiver's
 * `SLACK_SIGNING_SECRET` (split at commas for a rotation). Never log or store the result. */
export function readSlackSecrets(env: NodeJS.ProcessEnv = process.env): {
  botToken?: string;
  signingSecrets: string[];
} {
  const botToken = env.SLACK_BOT_TOKEN?.trim();
  return { ...(botToken ? { botToken } : {}), signingSecrets: splitSecrets(env.SLACK_SIGNING_SECRET) };
}

/**
 * Name of the environment variable that holds the password for `addr`: the `passwordEnv` of the first target whose
 * host and port match (host compared case-insensitively), else the global `redis.passwordEnv`.
 */
export function passwordEnvFor(cfg: Pick<RunbookFile, 'targets' | 'redis'>, addr: RedisAddress): string {
  const host = addr.host.toLowerCase();
  const target = cfg.targets.find((t) => t.redis.host.toLowerCase() === host && t.redis.port === addr.port);
  return target?.passwordEnv ?? cfg.redis.passwordEnv;
}

/** The Redis password for `addr`, read now (so a rotated secret is picked up); undefined for no AUTH. */
export function readRedisPassword(
  cfg: Pick<RunbookFile, 'targets' | 'redis'>,
  addr: RedisAddress,
  env: NodeJS.ProcessEnv,
): string | undefined {
  return env[passwordEnvFor(cfg, addr)] || undefined;
}

/**
 * `RUNBOOK_GATEWAY_SECRET`, split at commas (rotation): the key a gateway that verified its user (the PagerDuty
 * receiver) signs decisions with, and the worker checks them with. Never log or store the result.
 */
export function readGatewaySecrets(env: NodeJS.ProcessEnv = process.env): string[] {
  return splitSecrets(env.RUNBOOK_GATEWAY_SECRET);
}
