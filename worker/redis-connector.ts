import { Redis } from 'ioredis';
import { redisClientOptions, type RedisConnector } from '../activities/redis/connection.js';
import type { RedisAddress } from '../workflows/definitions.js';
import type { RunbookConfig } from './config.js';

/**
 * Name of the environment variable that holds the password for `addr`: the `passwordEnv` of the first target whose
 * host and port match (host compared case-insensitively), else the global `redis.passwordEnv`.
 */
export function passwordEnvFor(cfg: Pick<RunbookConfig, 'targets' | 'redis'>, addr: RedisAddress): string {
  const host = addr.host.toLowerCase();
  const target = cfg.targets.find((t) => t.redis.host.toLowerCase() === host && t.redis.port === addr.port);
  return target?.passwordEnv ?? cfg.redis.passwordEnv;
}

/**
 * The worker's {@link RedisConnector}: lazily connecting ioredis clients with a short connect timeout and no
 * reconnection (see `redisClientOptions`), TLS when `redis.tls` is set, and the password read from the environment
 * variable {@link passwordEnvFor} names, at the moment each client is built, so a rotated secret is picked up
 * without a restart and the password never passes through configuration, logs or workflow history. An unset or
 * empty variable means no AUTH.
 */
export function redisConnectorFromConfig(
  cfg: Pick<RunbookConfig, 'targets' | 'redis'>,
  env: NodeJS.ProcessEnv,
): RedisConnector {
  return (addr) => {
    const password = env[passwordEnvFor(cfg, addr)];
    return new Redis(
      redisClientOptions(addr, {
        ...(password ? { password } : {}),
        ...(cfg.redis.tls ? { tls: { servername: addr.host } } : {}),
      }),
    );
  };
}
