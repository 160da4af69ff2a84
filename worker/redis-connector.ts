import { Redis } from 'ioredis';
import { redisClientOptions, type RedisConnector } from '../activities/redis/connection.js';
import type { RunbookConfig } from '../config/runbook-config.js';
import { readRedisPassword } from '../config/secrets.js';

/**
 * The worker's {@link RedisConnector}: lazily connecting ioredis clients with a short connect timeout and no
 * reconnection (see `redisClientOptions`), TLS when `redis.tls` is set, and the password read from the environment
 * variable `passwordEnvFor` names, at the moment each client is built, so a rotated secret is picked up
 * without a restart and the password never passes through configuration, logs or workflow history. An unset or
 * empty variable means no AUTH.
 */
export function redisConnectorFromConfig(
  cfg: Pick<RunbookConfig, 'targets' | 'redis'>,
  env: NodeJS.ProcessEnv,
): RedisConnector {
  return (addr) => {
    const password = readRedisPassword(cfg, addr, env);
    return new Redis(
      redisClientOptions(addr, {
        ...(password ? { password } : {}),
        ...(cfg.redis.tls ? { tls: { servername: addr.host } } : {}),
      }),
    );
  };
}
