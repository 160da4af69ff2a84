/**
 * Key cleanups that touch many keys: SCAN MATCH in batches, one pipeline per batch, a cap on keys touched, and a
 * heartbeated `{ cursor, touched }` so a retried attempt resumes without counting twice. Idempotent by construction:
 * an unlinked key is gone, an expired-on-purpose key has a TTL and is skipped (`EXPIRE … NX`).
 */
import { ApplicationFailure } from '@temporalio/common';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { RunbookErrorType } from '../../workflows/definitions.js';
import type { Progress } from './progress.js';

/** Literal characters a pattern must start with before its first glob character. */
export const MIN_PATTERN_PREFIX = 3;
/** Sorted-set members removed per `ZREMRANGEBYRANK`, so one call never blocks Redis for long. */
export const TRIM_CHUNK = 1000;

/** Heartbeat of a cleanup; `actionId` ties it to its action so another action's details are never resumed. */
export const cleanupStateSchema = z.object({
  kind: z.literal('cleanup'),
  actionId: z.string(),
  /** Cursor of the next SCAN (`0` with `done: false` = not started). */
  cursor: z.string(),
  touched: z.number(),
  bytesFreed: z.number(),
  done: z.boolean(),
});
export type CleanupState = z.infer<typeof cleanupStateSchema>;

export interface CleanupOutcome {
  /** Keys expired or unlinked (members removed, for a trim), this attempt and the ones it resumed. */
  touched: number;
  bytesFreed: number;
  /** The cap stopped the work while more keys matched (or may match). */
  capReached: boolean;
  /** Batches that touched keys, this attempt. */
  batches: number;
}

/**
 * Refuses patterns too broad for a cleanup: fewer than {@link MIN_PATTERN_PREFIX} literal characters before the first
 * glob character (`*`, `*:foo`, `?a*`, `st*`). Throws non-retryable `InvalidAction`.
 */
export function assertNarrowPattern(pattern: string): void {
  const firstGlob = pattern.search(/[*?[\\]/);
  const literal = firstGlob === -1 ? pattern.length : firstGlob;
  if (literal < MIN_PATTERN_PREFIX) {
    throw invalidAction(
      `pattern ${JSON.stringify(pattern)} is too broad: it needs at least ${MIN_PATTERN_PREFIX} literal characters before any glob character`,
    );
  }
}

function assertPositiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value <= 0) throw invalidAction(`${name} must be a positive integer, got ${value}`);
}

export interface PatternCleanup {
  actionId: string;
  pattern: string;
  /** Most keys this action (all attempts together) may touch. */
  maxKeys: number;
  /** COUNT hint of each SCAN (default 1000). */
  scanCount?: number;
  /** Called between batches that touched keys; waits as long as the server's latency asks (see `LatencyPacer`). */
  pace?: () => Promise<unknown>;
}

/**
 * `UNLINK`s the keys matching `pattern` in the current db, at most `maxKeys`, never `DEL`. Each batch sends the
 * `MEMORY USAGE` of its keys and one `UNLINK` of them all in one pipeline; `touched` is what UNLINK says it removed
 * (so a batch replayed after a crash counts only keys still there), `bytesFreed` the usage of the keys that existed.
 */
export function unlinkByPattern(
  redis: Redis,
  job: PatternCleanup,
  progress: Progress<CleanupState>,
): Promise<CleanupOutcome> {
  return scanMatching(redis, job, progress, async (keys, remaining) => {
    const chosen = keys.slice(0, remaining);
    if (chosen.length === 0) return { touched: 0, bytes: 0, leftOver: keys.length > 0 };
    const pipeline = redis.pipeline();
    for (const key of chosen) pipeline.memory('USAGE', key);
    pipeline.unlink(...chosen);
    const replies = (await pipeline.exec()) ?? [];
    const [unlinkErr, removed] = replies[chosen.length] ?? [];
    if (unlinkErr) throw unlinkErr;
    let bytes = 0;
    for (let i = 0; i < chosen.length; i++) {
      const [, usage] = replies[i] ?? [];
      if (typeof usage === 'number') bytes += usage;
    }
    return { touched: Number(removed), bytes, leftOver: keys.length > chosen.length };
  });
}

/**
 * Gives `ttlSeconds` to the keys matching `pattern` that have no TTL, at most `maxKeys`. Each batch sends `PTTL` in
 * one pipeline, then `EXPIRE key ttl NX` for the keys without TTL in another (NX: a TTL set meanwhile is kept).
 */
export function expireByPattern(
  redis: Redis,
  job: PatternCleanup & { ttlSeconds: number },
  progress: Progress<CleanupState>,
): Promise<CleanupOutcome> {
  assertPositiveInteger('ttlSeconds', job.ttlSeconds);
  return scanMatching(redis, job, progress, async (keys, remaining) => {
    const ttls = (await keys.reduce((p, key) => p.pttl(key), redis.pipeline()).exec()) ?? [];
    const withoutTtl = keys.filter((_, i) => {
      const [err, pttl] = ttls[i] ?? [];
      return !err && pttl === -1;
    });
    const chosen = withoutTtl.slice(0, remaining);
    if (chosen.length === 0) return { touched: 0, bytes: 0, leftOver: false };
    const replies =
      (await chosen.reduce((p, key) => p.expire(key, job.ttlSeconds, 'NX'), redis.pipeline()).exec()) ?? [];
    const touched = replies.filter(([err, set]) => !err && set === 1).length;
    return { touched, bytes: 0, leftOver: withoutTtl.length > chosen.length };
  });
}

type BatchHandler = (
  keys: Buffer[],
  remaining: number,
) => Promise<{ touched: number; bytes: number; leftOver: boolean }>;

async function scanMatching(
  redis: Redis,
  job: PatternCleanup,
  progress: Progress<CleanupState>,
  handle: BatchHandler,
): Promise<CleanupOutcome> {
  assertNarrowPattern(job.pattern);
  assertPositiveInteger('maxKeys', job.maxKeys);
  const previous = progress.resumeFrom?.actionId === job.actionId ? progress.resumeFrom : undefined;
  const state: CleanupState = previous
    ? { ...previous }
    : { kind: 'cleanup', actionId: job.actionId, cursor: '0', touched: 0, bytesFreed: 0, done: false };
  if (state.done) return { touched: state.touched, bytesFreed: state.bytesFreed, capReached: false, batches: 0 };

  let capReached = false;
  let batches = 0;
  do {
    // Past the cap the scan goes on touching nothing, only to tell whether more keys match.
    const [next, keys] = await redis.scanBuffer(state.cursor, 'MATCH', job.pattern, 'COUNT', job.scanCount ?? 1000);
    const batch = keys.length > 0 ? await handle(keys, job.maxKeys - state.touched) : undefined;
    state.touched += batch?.touched ?? 0;
    state.bytesFreed += batch?.bytes ?? 0;
    state.cursor = next.toString();
    if (batch?.leftOver) {
      capReached = true;
      break;
    }
    state.done = state.cursor === '0';
    progress.report({ ...state });
    if (batch && batch.touched > 0) {
      batches++;
      if (!state.done) await job.pace?.();
    }
  } while (!state.done);
  if (capReached) progress.report({ ...state });
  return { touched: state.touched, bytesFreed: state.bytesFreed, capReached, batches };
}

/**
 * Trims a sorted set so that only its `keep` members with the highest scores (the newest, for Sidekiq's timestamped
 * sets) remain: the equivalent of `ZREMRANGEBYRANK key 0 -(keep+1)`, done in chunks of {@link TRIM_CHUNK} members.
 * A missing key is already trimmed; a key of another type is refused (`InvalidAction`).
 */
export async function trimSortedSet(
  redis: Redis,
  job: { actionId: string; key: string; keep: number },
  progress: Progress<CleanupState>,
): Promise<CleanupOutcome & { remaining: number }> {
  if (!Number.isInteger(job.keep) || job.keep < 0) throw invalidAction(`keep must be an integer ≥ 0, got ${job.keep}`);
  const previous = progress.resumeFrom?.actionId === job.actionId ? progress.resumeFrom : undefined;
  const state: CleanupState = previous
    ? { ...previous }
    : { kind: 'cleanup', actionId: job.actionId, cursor: '0', touched: 0, bytesFreed: 0, done: false };
  for (;;) {
    const [[, type] = [], [, card] = []] = (await redis.pipeline().type(job.key).zcard(job.key).exec()) ?? [];
    if (type === 'none')
      return { touched: state.touched, bytesFreed: state.bytesFreed, capReached: false, batches: 0, remaining: 0 };
    if (type !== 'zset') throw invalidAction(`${job.key} is a ${String(type)}, not a sorted set`);
    const excess = Number(card) - job.keep;
    if (excess <= 0) {
      state.done = true;
      progress.report({ ...state });
      return {
        touched: state.touched,
        bytesFreed: state.bytesFreed,
        capReached: false,
        batches: 0,
        remaining: Number(card),
      };
    }
    const [[, before] = [], [err, removed] = [], [, after] = []] =
      (await redis
        .pipeline()
        .memory('USAGE', job.key)
        .zremrangebyrank(job.key, 0, Math.min(excess, TRIM_CHUNK) - 1)
        .memory('USAGE', job.key)
        .exec()) ?? [];
    if (err) throw err;
    state.touched += Number(removed);
    state.bytesFreed += Math.max(0, Number(before ?? 0) - Number(after ?? 0));
    progress.report({ ...state });
  }
}

/** Non-retryable `InvalidAction` failure. */
export function invalidAction(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: RunbookErrorType.InvalidAction, message, nonRetryable: true });
}
