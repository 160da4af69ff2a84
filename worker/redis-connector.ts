import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { redisClientOptions, type RedisConnector } from '../activities/redis/connection.js';
import type { RunbookConfig } from '../config/runbook-config.js';
import { readRedisPassword } from '../config/secrets.js';

/**
 * The worker's {@link RedisConnector}: lazily connecting ioredis clients with a short connect timeout and no
 * reconnection (see `redisClientOptions`), TLS when `redis.tls` is set (the CA, and a client certificate for mutual
 * TLS, read from their files at each connection, so rotated certificates are picked up), the ACL user named by
 * `redis.usernameEnv`, and the password read from the environment variable `passwordEnvFor` names, at the moment each
 * client is built, so a rotated secret is picked up without a restart and the password never passes through
 * configuration, logs or workflow history. An unset or empty variable means no AUTH (or the default user).
 */
export function redisConnectorFromConfig(
  cfg: Pick<RunbookConfig, 'targets' | 'redis'>,
  env: NodeJS.ProcessEnv,
): RedisConnector {
  const { tls, tlsCaFile, tlsCertFile, tlsKeyFile, usernameEnv } = cfg.redis;
  return (addr) => {
    const password = readRedisPassword(cfg, addr, env);
    const username = usernameEnv ? env[usernameEnv] || undefined : undefined;
    return new Redis(
      redisClientOptions(addr, {
        ...(password ? { password } : {}),
        ...(password && username ? { username } : {}),
        ...(tls
          ? {
              tls: {
                servername: addr.host,
                ...(tlsCaFile && { ca: readFileSync(tlsCaFile) }),
                ...(tlsCertFile && { cert: readFileSync(tlsCertFile) }),
                ...(tlsKeyFile && { key: readFileSync(tlsKeyFile) }),
              },
            }
          : {}),
      }),
    );
  };
}
