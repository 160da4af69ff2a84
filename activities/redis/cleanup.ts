/**
 * Key cleanups that touch many keys: SCAN MATCH in batches, a cap on keys touched, and counts that are exact whatever
 * moment the worker dies. Each batch is one Lua script that changes the keys *and* adds what it changed to a progress
 * marker (a small hash in the same Redis, one per run and action) in the same atomic step: either both happen or
 * neither, so the marker is always the truth. A retry reads the marker, not a heartbeat (which the SDK throttles and a
 * SIGKILL loses), resumes at its cursor, and checks the cap against its count. The keys themselves make a replayed
 * batch harmless: an unlinked key is gone, an expired-on-purpose key has a TTL and is skipped.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { RunbookErrorType } from '../../workflows/definitions.js';
import { patternRefusal } from '../../workflows/logic/patterns.js';
import type { Progress } from './progress.js';

/** Sorted-set members removed per `ZREMRANGEBYRANK`, so one call never blocks Redis for long. */
export const TRIM_CHUNK = 1000;
/** How long a progress marker outlives its last batch: longer than any run waits for a retry. */
export const MARKER_TTL_SECONDS = 7 * 24 * 3600;
/** Prefix of the progress markers; cleanups never touch a key of it, whatever their pattern. */
export const MARKER_PREFIX = 'redis-runbook:progress:';

/** The marker's cursor once the scan is complete. */
const DONE = 'done';

/** The progress marker of one action of one run. */
export function markerKey(run: string, actionId: string): string {
  return `${MARKER_PREFIX}${run}:${actionId}`;
}

/** Heartbeated after each batch, for progress in the UI and `runbook status`; a retry resumes from the marker. */
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
  /** Keys expired or unlinked (members removed, for a trim) by this action, all attempts together: the marker's count. */
  touched: number;
  bytesFreed: number;
  /** The cap stopped the work while more keys matched (or may match). */
  capReached: boolean;
  /** Batches that touched keys, this attempt. */
  batches: number;
}

/** Refuses a pattern {@link patternRefusal} refuses, with non-retryable `InvalidAction`. */
export function assertNarrowPattern(pattern: string): void {
  const refusal = patternRefusal(pattern);
  if (refusal) throw invalidAction(`pattern ${JSON.stringify(pattern)} is ${refusal}`);
}

function assertPositiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value <= 0) throw invalidAction(`${name} must be a positive integer, got ${value}`);
}

export interface PatternCleanup {
  actionId: string;
  /** Key of this action's progress marker ({@link markerKey}): the same for every attempt of the action. */
  marker: string;
  pattern: string;
  /** Most keys this action (all attempts together) may touch. */
  maxKeys: number;
  /**
   * Keys of this action that other markers count (a Cluster's other primaries, each with its own marker): they use up
   * the cap too, so this node may touch at most `maxKeys - countedElsewhere` (0 or less: none, only tell if any match).
   */
  countedElsewhere?: number;
  /** COUNT hint of each SCAN (default 1000). */
  scanCount?: number;
  /** Called between batches that touched keys; waits as long as the server's latency asks (see `LatencyPacer`). */
  pace?: () => Promise<unknown>;
}

// The scripts share a prologue and an epilogue. KEYS[1] is the marker; ARGV[1] the cap, ARGV[2] the cursor after
// this batch, ARGV[3] the marker's TTL, then each script's own arguments and the batch's keys. `allow-oom`: the marker
// is a few bytes, and a cleanup is what frees memory on a full Redis. The batch's keys are arguments, not KEYS, with
// `allow-cross-slot-keys`: a Cluster node runs a script over keys of many slots only so, all of them its own (a scan
// of that node finds only those; the marker is put in one of its slots). Each returns {touched so far, bytes so far,
// keys left over by the cap}.
const PROLOGUE = `#!lua flags=allow-oom,allow-cross-slot-keys
local marker = KEYS[1]
local touched = tonumber(redis.call('HGET', marker, 'touched') or '0')
local room = tonumber(ARGV[1]) - touched
local done, bytes, left = 0, 0, 0
`;
const EPILOGUE = `
redis.call('HINCRBY', marker, 'touched', done)
local total = redis.call('HINCRBY', marker, 'bytes', bytes)
if left > 0 then redis.call('HSET', marker, 'capReached', '1') else redis.call('HSET', marker, 'cursor', ARGV[2]) end
redis.call('EXPIRE', marker, ARGV[3])
return {touched + done, total, left}`;

/** EXPIRE … NX on the batch's keys (ARGV[5] on) without a TTL (ARGV[4] the TTL), up to the room under the cap. */
const EXPIRE_BATCH =
  PROLOGUE +
  `for i = 5, #ARGV do
  local key = ARGV[i]
  if string.sub(key, 1, ${MARKER_PREFIX.length}) ~= '${MARKER_PREFIX}' and redis.call('PTTL', key) == -1 then
    if done < room then done = done + redis.call('EXPIRE', key, ARGV[4], 'NX') else left = left + 1 end
  end
end` +
  EPILOGUE;

/** UNLINK of the batch's keys (ARGV[4] on) that still exist, up to the room under the cap, adding their MEMORY USAGE. */
const UNLINK_BATCH =
  PROLOGUE +
  `for i = 4, #ARGV do
  local key = ARGV[i]
  if string.sub(key, 1, ${MARKER_PREFIX.length}) ~= '${MARKER_PREFIX}' then
    if done < room then
      -- MEMORY USAGE is nil for a key already gone (a replayed batch): it doubles as the existence check.
      local size = redis.call('MEMORY', 'USAGE', key)
      if size then
        bytes = bytes + size
        done = done + redis.call('UNLINK', key)
      end
    elseif redis.call('EXISTS', key) == 1 then left = left + 1 end
  end
end` +
  EPILOGUE;

/**
 * One chunk of a sorted-set trim (ARGV[4] how many to keep, ARGV[5] the chunk, ARGV[6] an optional age cut-off:
 * members scored at or below it go too, ARGV[7] the set), no cap. Both limits remove from the lowest scores, so the
 * members to remove are the lowest `max(ZCARD - keep, ZCOUNT -inf cutoff)`.
 */
const TRIM_BATCH =
  PROLOGUE +
  `local set = ARGV[7]
local excess = redis.call('ZCARD', set) - tonumber(ARGV[4])
if ARGV[6] ~= nil and ARGV[6] ~= '' then
  excess = math.max(excess, redis.call('ZCOUNT', set, '-inf', ARGV[6]))
end
if excess > 0 then
  local before = redis.call('MEMORY', 'USAGE', set) or 0
  done = redis.call('ZREMRANGEBYRANK', set, 0, math.min(excess, tonumber(ARGV[5])) - 1)
  bytes = math.max(0, before - (redis.call('MEMORY', 'USAGE', set) or 0))
end` +
  EPILOGUE;

type BatchScript = 'expire' | 'unlink' | 'trim';
const SCRIPTS: Record<BatchScript, string> = { expire: EXPIRE_BATCH, unlink: UNLINK_BATCH, trim: TRIM_BATCH };
const COMMANDS: Record<BatchScript, string> = {
  expire: 'runbookExpireBatch',
  unlink: 'runbookUnlinkBatch',
  trim: 'runbookTrimBatch',
};

/** Runs a batch script on `marker` (ioredis sends EVALSHA, and the script itself after a NOSCRIPT). */
async function runBatch(
  redis: Redis,
  script: BatchScript,
  marker: string,
  args: Array<string | number | Buffer>,
): Promise<{ touched: number; bytes: number; left: number }> {
  const name = COMMANDS[script];
  if (!(name in redis)) redis.defineCommand(name, { lua: SCRIPTS[script], numberOfKeys: 1 });
  const call = (redis as unknown as Record<string, (...a: unknown[]) => Promise<[number, number, number]>>)[name]!;
  const [touched, bytes, left] = await call.call(redis, marker, ...args);
  return { touched: Number(touched), bytes: Number(bytes), left: Number(left) };
}

interface Marker {
  touched: number;
  bytes: number;
  cursor: string;
  capReached: boolean;
}

export async function readMarker(redis: Redis, key: string): Promise<Marker> {
  const m = await redis.hgetall(key);
  return {
    touched: Number(m['touched'] ?? 0),
    bytes: Number(m['bytes'] ?? 0),
    cursor: m['cursor'] ?? '0',
    capReached: m['capReached'] === '1',
  };
}

/**
 * `UNLINK`s the keys matching `pattern` in the current db, at most `maxKeys` over all attempts, never `DEL`. Each
 * batch is one script: UNLINK of the keys still there, their `MEMORY USAGE` added to `bytesFreed`, the count added to
 * the marker, atomically.
 */
export function unlinkByPattern(redis: Redis, job: PatternCleanup, progress: Progress<CleanupState>) {
  return scanMatching(redis, job, progress, 'unlink', []);
}

/**
 * Gives `ttlSeconds` to the keys matching `pattern` that have no TTL, at most `maxKeys` over all attempts. Each batch
 * is one script: `EXPIRE key ttl NX` of the keys whose PTTL is -1, the count added to the marker, atomically.
 */
export function expireByPattern(
  redis: Redis,
  job: PatternCleanup & { ttlSeconds: number },
  progress: Progress<CleanupState>,
): Promise<CleanupOutcome> {
  assertPositiveInteger('ttlSeconds', job.ttlSeconds);
  return scanMatching(redis, job, progress, 'expire', [job.ttlSeconds]);
}

async function scanMatching(
  redis: Redis,
  job: PatternCleanup,
  progress: Progress<CleanupState>,
  script: 'expire' | 'unlink',
  extra: Array<string | number>,
): Promise<CleanupOutcome> {
  assertNarrowPattern(job.pattern);
  assertPositiveInteger('maxKeys', job.maxKeys);
  // The marker, not a heartbeat: it holds exactly what every earlier attempt changed, up to its last batch.
  const marker = await readMarker(redis, job.marker);
  const state: CleanupState = {
    kind: 'cleanup',
    actionId: job.actionId,
    cursor: marker.cursor,
    touched: marker.touched,
    bytesFreed: marker.bytes,
    done: false,
  };
  const outcome = (capReached: boolean, batches: number) => ({
    touched: state.touched,
    bytesFreed: state.bytesFreed,
    capReached,
    batches,
  });
  if (marker.capReached) return outcome(true, 0);
  let batches = 0;
  // The marker's cursor is where the next batch starts; `done` once a batch ended the scan (SCAN said 0).
  while (state.cursor !== DONE) {
    const [next, keys] = await redis.scanBuffer(state.cursor, 'MATCH', job.pattern, 'COUNT', job.scanCount ?? 1000);
    const cursor = next.toString() === '0' ? DONE : next.toString();
    let added = 0;
    if (keys.length > 0) {
      // Past the cap the scripts go on touching nothing, only to tell whether more keys match.
      const args = [job.maxKeys - (job.countedElsewhere ?? 0), cursor, MARKER_TTL_SECONDS, ...extra, ...keys];
      const batch = await runBatch(redis, script, job.marker, args);
      added = batch.touched - state.touched;
      state.touched = batch.touched;
      state.bytesFreed = batch.bytes;
      if (added > 0) batches++;
      if (batch.left > 0) {
        progress.report({ ...state });
        return outcome(true, batches);
      }
    } else {
      // An empty page still moves the cursor: keep it so that a retry need not scan it again. Best effort (a full
      // Redis refuses HSET outside a script): a retry that rescans the page only finds nothing to do there.
      await redis
        .pipeline()
        .hset(job.marker, 'cursor', cursor)
        .expire(job.marker, MARKER_TTL_SECONDS)
        .exec()
        .catch(() => undefined);
    }
    state.cursor = cursor;
    state.done = cursor === DONE;
    progress.report({ ...state });
    if (added > 0 && !state.done) await job.pace?.();
  }
  state.done = true;
  return outcome(false, batches);
}

/**
 * Trims a sorted set so that only its `keep` members with the highest scores (the newest, for Sidekiq's timestamped
 * sets) remain, and none scored at or below `maxScore` when given (an age cut-off, fixed at plan time so a retry
 * removes the same members): the equivalent of `ZREMRANGEBYRANK key 0 -(keep+1)` then `ZREMRANGEBYSCORE`, done in chunks of {@link TRIM_CHUNK} members,
 * each chunk and its count one script. A missing key is already trimmed; a key of another type is refused
 * (`InvalidAction`).
 */
export async function trimSortedSet(
  redis: Redis,
  job: { actionId: string; marker: string; key: string; keep: number; maxScore?: number },
  progress: Progress<CleanupState>,
): Promise<CleanupOutcome & { remaining: number }> {
  if (!Number.isInteger(job.keep) || job.keep < 0) throw invalidAction(`keep must be an integer ≥ 0, got ${job.keep}`);
  const marker = await readMarker(redis, job.marker);
  const state: CleanupState = {
    kind: 'cleanup',
    actionId: job.actionId,
    cursor: '0',
    touched: marker.touched,
    bytesFreed: marker.bytes,
    done: false,
  };
  const type = await redis.type(job.key);
  if (type === 'none')
    return { touched: state.touched, bytesFreed: state.bytesFreed, capReached: false, batches: 0, remaining: 0 };
  if (type !== 'zset') throw invalidAction(`${job.key} is a ${type}, not a sorted set`);
  let batches = 0;
  for (;;) {
    const batch = await runBatch(redis, 'trim', job.marker, [
      Number.MAX_SAFE_INTEGER,
      '0',
      MARKER_TTL_SECONDS,
      job.keep,
      TRIM_CHUNK,
      job.maxScore ?? '',
      job.key,
    ]);
    const added = batch.touched - state.touched;
    state.touched = batch.touched;
    state.bytesFreed = batch.bytes;
    if (added === 0) break;
    batches++;
    progress.report({ ...state });
  }
  state.done = true;
  progress.report({ ...state });
  const remaining = await redis.zcard(job.key);
  return { touched: state.touched, bytesFreed: state.bytesFreed, capReached: false, batches, remaining };
}

/** Non-retryable `InvalidAction` failure. */
export function invalidAction(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: RunbookErrorType.InvalidAction, message, nonRetryable: true });
}
