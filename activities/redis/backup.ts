import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure } from '@temporalio/common';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { RunbookErrorType } from '../../workflows/definitions.js';
import type { BackupResult } from './types.js';
import { configGet, infoText } from './config.js';
import { parseInfo, rdbStateOf, type RdbState } from './info.js';
import type { Progress } from './progress.js';
import { localKey } from './topology.js';

export interface BackupOptions {
  /** How long the whole backup may take, in seconds (default 300). */
  timeoutSeconds?: number;
  /** How often `INFO persistence` is polled, in ms (default 100). */
  pollMs?: number;
  /**
   * Scope of the backup's request marker: the run (`workflowId/runId`) inside an activity, so a retried attempt finds
   * the request of the one before it. A fresh scope when absent.
   */
  markerScope?: string;
  /**
   * Where the request marker lives when the save runs on a replica (which refuses writes): its primary. The marker
   * replicates back to the replica; the save's own state is always read on the node that saves.
   */
  markerOn?: Redis;
}

/** Prefix of the backup request markers. */
export const BACKUP_MARKER_PREFIX = 'redis-runbook:backup:';
const MARKER_TTL_SECONDS = 7 * 24 * 3600;

/** What a backup recorded in Redis before its BGSAVE: the server time and the save counters at that moment. */
interface BackupRequest {
  requestedAt: number;
  previousLastSave: number;
  /** `rdb_saves` before our BGSAVE (Redis ≥ 7.0). */
  saves?: number;
}

// HSET under `allow-oom`: a few bytes of bookkeeping on a Redis that may be full, written before the fork.
const RECORD_REQUEST = `#!lua flags=allow-oom
redis.call('HSET', KEYS[1], 'requestedAt', ARGV[1], 'previousLastSave', ARGV[2], 'saves', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1`;

async function readRequest(redis: Redis, key: string): Promise<BackupRequest | undefined> {
  const h = await redis.hgetall(key);
  if (!h['requestedAt']) return undefined;
  return {
    requestedAt: Number(h['requestedAt']),
    previousLastSave: Number(h['previousLastSave'] ?? 0),
    ...(h['saves'] && h['saves'] !== '' ? { saves: Number(h['saves']) } : {}),
  };
}

/** Heartbeated while a backup waits; a retried attempt does not resume from it, it takes a fresh backup. */
export const backupProgressSchema = z.object({
  kind: z.literal('backup'),
  phase: z.enum(['waiting-for-running-save', 'waiting-for-clock', 'saving']),
  elapsedMs: z.number(),
});
export type BackupProgress = z.infer<typeof backupProgressSchema>;

/**
 * Takes an RDB snapshot with `BGSAVE SCHEDULE` and waits until it is confirmed on disk.
 *
 * - A save already running when we start began before our call: its snapshot may predate what we must protect, so
 *   we wait for it to end and then start ours.
 * - If `BGSAVE` answers "already in progress", a save began after we looked, so after our call began: we accept it.
 * - LASTSAVE has 1 s granularity: before starting we wait until the server clock (`TIME`) is past the previous
 *   LASTSAVE, so a successful save always makes it grow; `rdb_saves` (Redis ≥ 7.0) also tells that a save started.
 * - Done when our save started and `rdb_bgsave_in_progress:0`; confirmed only if `rdb_last_bgsave_status:ok` and
 *   LASTSAVE advanced (or `rdb_saves` grew).
 *
 * Throws non-retryable `BackupFailed` when Redis refuses the save, the save fails (disk full, unwritable dir) or the
 * timeout passes. The RDB size is read from `dir/dbfilename` when that file is visible to this process.
 * A retried attempt of the same backup (same `markerScope`) never forks a second time: the first attempt records its
 * request (server time, save counters) in Redis before BGSAVE, and the retry waits for the save that request started.
 */
export async function takeBackup(
  redis: Redis,
  options: BackupOptions,
  progress: Progress<BackupProgress>,
): Promise<BackupResult> {
  const started = Date.now();
  const timeoutMs = (options.timeoutSeconds ?? 300) * 1000;
  const pollMs = options.pollMs ?? 100;
  const readState = async () => rdbStateOf(parseInfo(await infoText(redis, 'persistence')));
  const tick = async (phase: BackupProgress['phase']) => {
    const elapsedMs = Date.now() - started;
    if (elapsedMs > timeoutMs) {
      throw backupFailed(`the RDB save did not finish within ${Math.round(timeoutMs / 1000)} s (${phase})`);
    }
    progress.report({ kind: 'backup', phase, elapsedMs });
    await sleep(pollMs);
  };

  // On a Cluster node, a key of one of its own slots (the same on every attempt).
  const marker = options.markerOn ?? redis;
  const markerKey = await localKey(marker, `${BACKUP_MARKER_PREFIX}${options.markerScope ?? `local-${randomUUID()}`}`);
  // One fork per backup: an earlier attempt of this backup that recorded its request may have forked already.
  const request = await readRequest(marker, markerKey);
  let before: Pick<RdbState, 'lastSaveTime' | 'saves'>;
  let ours = false;
  if (request) {
    before = { lastSaveTime: request.previousLastSave, saves: request.saves };
    const state = await readState();
    // Ours if a save is running now or one started since the request (rdb_saves grew; LASTSAVE moved on older servers).
    ours =
      state.inProgress ||
      (request.saves !== undefined && (state.saves ?? 0) > request.saves) ||
      (request.saves === undefined && state.lastSaveTime >= request.requestedAt);
  } else {
    let current = await readState();
    while (current.inProgress) {
      await tick('waiting-for-running-save');
      current = await readState();
    }
    while ((await serverSeconds(redis)) <= current.lastSaveTime) await tick('waiting-for-clock');
    before = current;
    await marker.eval(
      RECORD_REQUEST,
      1,
      markerKey,
      await serverSeconds(redis),
      current.lastSaveTime,
      current.saves ?? '',
      MARKER_TTL_SECONDS,
    );
  }

  if (!ours) {
    try {
      const reply: unknown = await redis.bgsave('SCHEDULE');
      ours = /started/i.test(String(reply));
    } catch (err) {
      if (!(err instanceof Error) || err.name !== 'ReplyError') throw err;
      if (!/already in progress/i.test(err.message)) throw backupFailed(`Redis refused BGSAVE: ${err.message}`, err);
      ours = true;
    }
  }

  const hasStarted = (s: RdbState) =>
    ours || s.inProgress || s.lastSaveTime > before.lastSaveTime || (s.saves ?? 0) > (before.saves ?? Infinity);
  let now = await readState();
  while (!hasStarted(now) || now.inProgress) {
    if (hasStarted(now)) ours = true;
    await tick('saving');
    now = await readState();
  }

  const advanced = now.lastSaveTime > before.lastSaveTime || (now.saves ?? 0) > (before.saves ?? Infinity);
  if (now.lastBgsaveStatus !== 'ok' || !advanced) {
    const { dir } = await configGet(redis, 'dir');
    throw backupFailed(
      `BGSAVE failed (rdb_last_bgsave_status:${now.lastBgsaveStatus}, LASTSAVE ${now.lastSaveTime} vs ${before.lastSaveTime} before)` +
        `: see the Redis log; check free space and permissions of ${dir ?? 'its dir'}. While saves fail, Redis may refuse writes with MISCONF.`,
    );
  }

  const config = await configGet(redis, 'dir', 'dbfilename');
  const dir = config['dir'];
  const dbfilename = config['dbfilename'];
  return {
    confirmed: true,
    lastSave: now.lastSaveTime,
    previousLastSave: before.lastSaveTime,
    status: now.lastBgsaveStatus,
    dir,
    dbfilename,
    rdbBytes: dir && dbfilename ? await fileSize(join(dir, dbfilename)) : undefined,
    durationMs: Date.now() - started,
  };
}

async function serverSeconds(redis: Redis): Promise<number> {
  const [seconds] = await redis.time();
  return Number(seconds);
}

/** Size of a local file, or undefined when it is not visible here (Redis usually runs in another pod). */
async function fileSize(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch {
    return undefined;
  }
}

function backupFailed(message: string, cause?: Error): ApplicationFailure {
  return ApplicationFailure.create({ type: RunbookErrorType.BackupFailed, message, nonRetryable: true, cause });
}
