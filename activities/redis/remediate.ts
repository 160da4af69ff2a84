import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { ActionResult, PlannedAction, RemediationAction } from '../../workflows/logic/actions.js';
import {
  assertNarrowPattern,
  expireByPattern,
  invalidAction,
  markerKey,
  trimSortedSet,
  unlinkByPattern,
  type CleanupOutcome,
  type CleanupState,
} from './cleanup.js';
import { configGet, infoText } from './config.js';
import { infoNumber, parseInfo } from './info.js';
import { LatencyPacer, type LatencySource, type PacingOptions, type PacingReport } from './pacing.js';
import type { Progress } from './progress.js';

/** Policies `maxmemory-policy` accepts (Redis 7). */
export const MAXMEMORY_POLICIES = [
  'noeviction',
  'allkeys-lru',
  'allkeys-lfu',
  'allkeys-random',
  'volatile-lru',
  'volatile-lfu',
  'volatile-random',
  'volatile-ttl',
] as const;

const PERSIST_HINT = 'runtime only: persist it in redis.conf / the Helm values';

export interface ApplyOptions {
  /** Db of the key actions (default 0). */
  db?: number;
  /** COUNT hint of cleanup SCANs (default 1000). */
  scanCount?: number;
  /** The latency probe that paces key cleanups (see `threadLatency`); without it cleanups run unpaced. */
  latency?: () => LatencySource;
  pacing?: PacingOptions;
  /**
   * Scope of the actions' progress markers: the run (`workflowId/runId`) inside an activity, so every attempt of one
   * action finds the same marker. A fresh scope when absent: outside a run nothing resumes.
   */
  markerScope?: string;
  /** Where the marker is when its place matters (a Cluster node's own slot): overrides `markerScope`'s key. */
  marker?: string;
  /** Keys of this action other nodes' markers count against its cap (see `PatternCleanup.countedElsewhere`). */
  countedElsewhere?: number;
}

/**
 * Applies one planned action to Redis and says what it did. Every action is idempotent: applied twice, the second
 * run changes nothing and says so. Throws non-retryable `InvalidAction` for an action that is not Redis's
 * (`rolling-restart`) or whose arguments are unsafe (a pattern without a literal prefix, maxmemory 0 or below
 * the memory in use, an unknown policy). `CONFIG REWRITE` on a server without a config file returns `ok: false`.
 */
export async function applyAction(
  redis: Redis,
  planned: PlannedAction,
  options: ApplyOptions,
  progress: Progress<CleanupState>,
): Promise<ActionResult> {
  const { id, action } = planned;
  const marker = options.marker ?? markerKey(options.markerScope ?? `local-${randomUUID()}`, id);
  const job = { actionId: id, marker, scanCount: options.scanCount, countedElsewhere: options.countedElsewhere };
  switch (action.kind) {
    case 'set-maxmemory':
      return { id, ...(await setMaxmemory(redis, action.bytes)) };
    case 'set-maxmemory-policy':
      return { id, ...(await setMaxmemoryPolicy(redis, action.policy)) };
    case 'expire-keys': {
      assertNarrowPattern(action.pattern);
      await redis.select(options.db ?? 0);
      const { outcome, pacing } = await paced(options, (pace) =>
        expireByPattern(redis, { ...job, ...action, pace }, progress),
      );
      return cleanupResult(id, outcome, `gave a TTL of ${action.ttlSeconds} s to`, action, pacing);
    }
    case 'unlink-keys': {
      assertNarrowPattern(action.pattern);
      await redis.select(options.db ?? 0);
      const { outcome, pacing } = await paced(options, (pace) =>
        unlinkByPattern(redis, { ...job, ...action, pace }, progress),
      );
      return cleanupResult(id, outcome, 'unlinked', action, pacing);
    }
    case 'trim-sorted-set': {
      await redis.select(options.db ?? 0);
      const outcome = await trimSortedSet(
        redis,
        {
          actionId: id,
          marker,
          key: action.key,
          keep: action.keep,
          ...(action.maxScore !== undefined ? { maxScore: action.maxScore } : {}),
        },
        progress,
      );
      return {
        id,
        ok: true,
        detail:
          outcome.touched > 0
            ? `removed the ${outcome.touched} oldest members of ${action.key}; ${outcome.remaining} remain`
            : `${action.key} already has at most ${action.keep} members (${outcome.remaining})`,
        keysTouched: outcome.touched,
        bytesFreed: outcome.bytesFreed,
      };
    }
    case 'memory-purge':
      return { id, ...(await memoryPurge(redis)) };
    case 'config-rewrite':
      return { id, ...(await configRewrite(redis)) };
    case 'rolling-restart':
    case 'set-memory-limit':
    case 'set-liveness-delay':
      throw invalidAction(`${id}: ${action.kind} is a Kubernetes action, not a Redis one`);
    default:
      throw invalidAction(`${id}: unknown action kind ${(action as { kind: string }).kind}`);
  }
}

type Outcome = Omit<ActionResult, 'id'>;

/** Runs a cleanup with a {@link LatencyPacer} when `options.latency` is given. */
async function paced(
  options: ApplyOptions,
  run: (pace?: () => Promise<unknown>) => Promise<CleanupOutcome>,
): Promise<{ outcome: CleanupOutcome; pacing?: PacingReport }> {
  if (!options.latency) return { outcome: await run() };
  const pacer = new LatencyPacer(options.latency(), options.pacing);
  try {
    await pacer.ready();
    const outcome = await run(() => pacer.afterBatch());
    return { outcome, pacing: await pacer.stop() };
  } finally {
    await pacer.stop();
  }
}

async function setMaxmemory(redis: Redis, bytes: number): Promise<Outcome> {
  if (!Number.isInteger(bytes) || bytes <= 0) {
    throw invalidAction(`maxmemory must be a positive number of bytes, got ${bytes} (0 would remove the limit)`);
  }
  const used = infoNumber(parseInfo(await infoText(redis, 'memory')), 'memory', 'used_memory') ?? 0;
  if (bytes < used) {
    throw invalidAction(
      `maxmemory ${bytes} is below the ${used} bytes in use: Redis would evict or refuse writes at once`,
    );
  }
  const current = Number((await configGet(redis, 'maxmemory'))['maxmemory']);
  if (current === bytes) return { ok: true, detail: `maxmemory already ${bytes} bytes (${PERSIST_HINT})` };
  await redis.config('SET', 'maxmemory', String(bytes));
  return {
    ok: true,
    detail: `maxmemory ${current} → ${bytes} bytes (${PERSIST_HINT})`,
    previous: { maxmemory: current },
  };
}

async function setMaxmemoryPolicy(redis: Redis, policy: string): Promise<Outcome> {
  if (!(MAXMEMORY_POLICIES as readonly string[]).includes(policy)) {
    throw invalidAction(`unknown maxmemory-policy ${JSON.stringify(policy)}; one of ${MAXMEMORY_POLICIES.join(', ')}`);
  }
  const current = (await configGet(redis, 'maxmemory-policy'))['maxmemory-policy'];
  if (current === policy) return { ok: true, detail: `maxmemory-policy already ${policy} (${PERSIST_HINT})` };
  await redis.config('SET', 'maxmemory-policy', policy);
  return {
    ok: true,
    detail: `maxmemory-policy ${current ?? '?'} → ${policy} (${PERSIST_HINT})`,
    ...(current ? { previous: { 'maxmemory-policy': current } } : {}),
  };
}

async function memoryPurge(redis: Redis): Promise<Outcome> {
  const rss = async () => infoNumber(parseInfo(await infoText(redis, 'memory')), 'memory', 'used_memory_rss') ?? 0;
  const before = await rss();
  await redis.memory('PURGE');
  const after = await rss();
  return {
    ok: true,
    detail: `MEMORY PURGE: RSS ${before} → ${after} bytes`,
    bytesFreed: Math.max(0, before - after),
  };
}

async function configRewrite(redis: Redis): Promise<Outcome> {
  try {
    await redis.config('REWRITE');
    return { ok: true, detail: 'CONFIG REWRITE saved the running configuration to the config file' };
  } catch (err) {
    if (!(err instanceof Error) || err.name !== 'ReplyError') throw err;
    return {
      ok: false,
      detail:
        `CONFIG REWRITE failed (${err.message}): the runtime values are lost at the next restart; ` +
        'persist them in redis.conf / the Helm values (ConfigMap) instead',
    };
  }
}

function cleanupResult(
  id: string,
  outcome: CleanupOutcome,
  verb: string,
  action: Extract<RemediationAction, { kind: 'expire-keys' | 'unlink-keys' }>,
  pacing: PacingReport | undefined,
): ActionResult {
  const freed = action.kind === 'unlink-keys' ? ` (${(outcome.bytesFreed / 1024 / 1024).toFixed(1)} MiB)` : '';
  const paced = pacing
    ? `; ${outcome.batches} batch(es), ${pacing.pauses} pause(s) (${pacing.pausedMs} ms) to keep the probe p99 ≤ ${pacing.p99TargetMs} ms (p99 seen ${pacing.p99Ms} ms)`
    : '';
  // The workflow reads `capReached` and asks for another approval to go past the cap.
  const cap = outcome.capReached
    ? `; capReached: stopped at the cap of ${action.maxKeys} keys and more keys match; going on needs another approval`
    : '';
  return {
    id,
    ok: true,
    detail: `${verb} ${outcome.touched} keys matching ${action.pattern}${freed}${paced}${cap}`,
    keysTouched: outcome.touched,
    ...(action.kind === 'unlink-keys' ? { bytesFreed: outcome.bytesFreed } : {}),
    ...(outcome.capReached ? { capReached: true } : {}),
  };
}
