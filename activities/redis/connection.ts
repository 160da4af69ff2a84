import { ApplicationFailure } from '@temporalio/common';
import { Redis, type RedisOptions } from 'ioredis';
import { RunbookErrorType } from '../../workflows/definitions.js';
import type { RedisAddress } from '../../workflows/definitions.js';
import { protectOwnConnection } from './server-signals.js';

/**
 * Builds the client for one address. The worker supplies it (and resolves credentials from its environment); the
 * activities never read the environment. Build clients with {@link redisClientOptions} so they connect lazily, fail
 * fast and do not retry forever: {@link withRedis} opens and closes one per activity call.
 */
export type RedisConnector = (addr: RedisAddress) => Redis;

/** Credentials for an address, e.g. from `REDIS_PASSWORD`; undefined when the server needs none. */
export type RedisCredentials = (addr: RedisAddress) => { username?: string; password?: string } | undefined;

/**
 * Client options for one short-lived activity connection: lazy connect, a 3 s connect timeout, one retry per
 * command, no reconnection (Temporal's activity retry is the retry loop), and the address's db.
 */
export function redisClientOptions(addr: RedisAddress, overrides: RedisOptions = {}): RedisOptions {
  return {
    host: addr.host,
    port: addr.port,
    db: addr.db ?? 0,
    lazyConnect: true,
    connectTimeout: 3000,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
    enableReadyCheck: true,
    ...overrides,
  };
}

/** A {@link RedisConnector} built from {@link redisClientOptions} and optional credentials. */
export function createRedisConnector(credentials?: RedisCredentials, overrides: RedisOptions = {}): RedisConnector {
  return (addr) => new Redis(redisClientOptions(addr, { ...credentials?.(addr), ...overrides }));
}

/**
 * Opens a client for `addr`, runs `fn` with it and always closes it. Errors are mapped by {@link toRedisFailure}:
 * unreachable → retryable `RedisUnreachable`, refused credentials or ACL → non-retryable `RedisAuth`, others as they are.
 */
export async function withRedis<T>(
  connect: RedisConnector,
  addr: RedisAddress,
  fn: (redis: Redis) => Promise<T>,
): Promise<T> {
  let redis: Redis | undefined;
  let lastEvent: Error | undefined;
  try {
    redis = connect(addr);
    // A refused AUTH or a refused connection reaches the caller only as "Connection is closed.": the real reason
    // comes as an 'error' event (which, without a listener, ioredis would also print as unhandled).
    redis.on('error', (err: Error) => (lastEvent = err));
    if (redis.status === 'wait') await redis.connect();
    // The runbook's own connection is never evicted for client memory and never ages the keys it reads.
    await protectOwnConnection(redis);
    return await fn(redis);
  } catch (err) {
    const real = lastEvent && err instanceof Error && /Connection is closed/.test(err.message) ? lastEvent : err;
    throw toRedisFailure(real, addr);
  } finally {
    redis?.disconnect();
  }
}

const AUTH_REPLY = /^(NOAUTH|WRONGPASS|NOPERM)\b|^ERR AUTH\b|invalid password|invalid username-password/i;
const UNREACHABLE_REPLY = /^(LOADING|BUSY|MASTERDOWN|TRYAGAIN)\b/;
const UNREACHABLE_MESSAGE =
  /Connection is closed|connect ETIMEDOUT|Stream isn't writeable|Reached the max retries per request|ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|EPIPE|Command timed out/i;
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);

/** Whether a Redis error is an authentication or ACL refusal (retrying cannot help). */
export function isAuthError(err: unknown): boolean {
  return err instanceof Error && AUTH_REPLY.test(err.message);
}

/** Whether a Redis error means the server could not be reached or cannot serve yet (retrying may help). */
export function isUnreachableError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as NodeJS.ErrnoException).code;
  return (
    (code !== undefined && UNREACHABLE_CODES.has(code)) ||
    err.name === 'MaxRetriesPerRequestError' ||
    UNREACHABLE_REPLY.test(err.message) ||
    UNREACHABLE_MESSAGE.test(err.message)
  );
}

/**
 * Maps a client error to the runbook's failure types. `ApplicationFailure`s (and anything unrecognised) pass
 * through unchanged; the original error is kept as `cause`.
 */
export function toRedisFailure(err: unknown, addr: RedisAddress): unknown {
  if (err instanceof ApplicationFailure || !(err instanceof Error)) return err;
  const where = `${addr.host}:${addr.port}`;
  if (isAuthError(err)) {
    return ApplicationFailure.create({
      type: RunbookErrorType.RedisAuth,
      message: `Redis at ${where} refused the credentials or the command: ${err.message}`,
      nonRetryable: true,
      cause: err,
    });
  }
  if (isUnreachableError(err)) {
    return ApplicationFailure.create({
      type: RunbookErrorType.RedisUnreachable,
      message: `Redis at ${where} is unreachable: ${err.message}`,
      nonRetryable: false,
      cause: err,
    });
  }
  return err;
}
