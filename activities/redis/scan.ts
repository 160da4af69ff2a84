/**
 * One pass of SCAN over every db with keys: the biggest keys, memory by key prefix, and the Sidekiq `stat:*` figures.
 * Memory stays flat whatever the keyspace size: only a bounded top-K and a bounded prefix table are kept, and both
 * travel in the heartbeat so a retried attempt resumes where the previous one stopped.
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { BigKey, PrefixUsage } from './types.js';
import { pageLookups, type PrefixTally } from './key-page.js';
import { keyPrefix } from './key-prefix.js';
import type { Progress } from './progress.js';

export { keyPrefix };

/** Key names are cut to this many characters wherever they are reported. */
export const MAX_KEY_NAME = 200;
/** Bucket of the prefixes beyond {@link ScanOptions.maxPrefixes}. */
export const OTHER_PREFIX = '(other)';

/** Keys whose presence (with the right type) says Sidekiq uses this db. */
const SIDEKIQ_MARKERS: Record<string, string> = {
  queues: 'set',
  processes: 'set',
  retry: 'zset',
  dead: 'zset',
  schedule: 'zset',
  'stat:processed': 'string',
  'stat:failed': 'string',
};

export interface ScanOptions {
  /** How many of the biggest keys to keep (default 20). */
  topKeys?: number;
  /** COUNT hint of each SCAN (default 1000). */
  scanCount?: number;
  /** SAMPLES of `MEMORY USAGE` for aggregates (default 5, Redis's own default; 0 = exact and slow). */
  memorySamples?: number;
  /** Distinct prefixes kept before new ones are folded into `(other)` (default 200). */
  maxPrefixes?: number;
  /** Look keys up with a read-only Lua script, one round trip a page (default true; falls back when refused). */
  useScript?: boolean;
  /** Waits between pages while Redis answers others slowly (a `LatencyPacer`); unpaced when absent. */
  pace?: () => Promise<unknown>;
}

const bigKeySchema = z.object({
  key: z.string(),
  db: z.number(),
  type: z.string(),
  bytes: z.number(),
  ttlSeconds: z.number(),
});
const prefixSchema = z.object({ prefix: z.string(), keys: z.number(), bytes: z.number(), keysWithoutTtl: z.number() });

/** What a scan heartbeats after each batch, and resumes from. Bounded: top-K, ≤ maxPrefixes + 1 prefixes, ≤ 16ish dbs. */
export const scanStateSchema = z.object({
  kind: z.literal('scan'),
  /** The db being scanned and the cursor of its next SCAN. */
  db: z.number(),
  cursor: z.string(),
  doneDbs: z.array(z.number()),
  scanned: z.number(),
  topKeys: z.array(bigKeySchema),
  prefixes: z.array(prefixSchema),
  /** `stat:*` keys per db (db number as a string key). */
  statKeys: z.record(z.string(), z.object({ keys: z.number(), withoutTtl: z.number() })),
  sidekiqDb: z.number().optional(),
});
export type ScanState = z.infer<typeof scanStateSchema>;

export interface ScanResult {
  /** Biggest keys first. */
  bigKeys: BigKey[];
  /** Most bytes first; `(other)` included where it is. */
  prefixes: PrefixUsage[];
  scannedKeys: number;
  /** First db where a Sidekiq marker key (`queues`, `retry`, `dead`, `schedule`, `stat:processed`…) was seen. */
  sidekiqDb?: number;
  /** `stat:*` keys of {@link sidekiqDb}, and how many have no TTL. */
  statKeys: number;
  statKeysWithoutTtl: number;
}

/** Sidekiq's counters (`stat:processed:2024-01-01`): {@link keyPrefix} groups them all under it. */
const STAT_PREFIX = 'stat:';

/** Cuts a key name to {@link MAX_KEY_NAME} characters. */
export function displayKey(key: string): string {
  return key.length > MAX_KEY_NAME ? key.slice(0, MAX_KEY_NAME) : key;
}

/**
 * Bigger first; among keys of the same size, by db then name: the report does not depend on the order SCAN met them
 * in (which a rehash between two scans changes).
 */
function ranksBefore(a: BigKey, b: BigKey): boolean {
  if (a.bytes !== b.bytes) return a.bytes > b.bytes;
  if (a.db !== b.db) return a.db < b.db;
  return a.key < b.key;
}

/** Inserts into a list in {@link ranksBefore} order (biggest first) and keeps at most `k`. */
export function offerTopKey(top: BigKey[], candidate: BigKey, k: number): void {
  if (k <= 0) return;
  const last = top[top.length - 1];
  if (top.length >= k && last !== undefined && !ranksBefore(candidate, last)) return;
  let i = top.length;
  while (i > 0 && ranksBefore(candidate, top[i - 1]!)) i--;
  top.splice(i, 0, candidate);
  if (top.length > k) top.length = k;
}

/**
 * SCANs `dbs` (in ascending order), each page looked up and tallied by prefix on the server where scripts run (see
 * {@link pageLookups}) while the previous page is merged, and reporting a {@link ScanState} after every page. Starts
 * from `progress.resumeFrom` when there is one. Leaves the connection on the last db scanned. Never sends `KEYS`.
 */
export async function scanKeyspace(
  redis: Redis,
  dbs: number[],
  options: ScanOptions,
  progress: Progress<ScanState>,
): Promise<ScanResult> {
  const k = options.topKeys ?? 20;
  const count = options.scanCount ?? 1000;
  const samples = options.memorySamples ?? 5;
  const maxPrefixes = options.maxPrefixes ?? 200;

  const resume = progress.resumeFrom;
  const state: ScanState = resume
    ? structuredClone(resume)
    : { kind: 'scan', db: -1, cursor: '0', doneDbs: [], scanned: 0, topKeys: [], prefixes: [], statKeys: {} };
  const prefixes = new Map(state.prefixes.map((p) => [p.prefix, p]));
  // Captured once: state.db moves on, and a db that appeared below the resumed one must not reset its cursor.
  const resumeAt = resume && !resume.doneDbs.includes(resume.db) ? { db: resume.db, cursor: resume.cursor } : undefined;

  const lookups = await pageLookups(redis, options.useScript ?? true);
  const typed = Object.keys(SIDEKIQ_MARKERS);
  const fetchPage = (cursor: string) => {
    // Once the top-K is full, only a bigger key enters it (offerTopKey keeps the first of equals).
    const full = state.topKeys.length >= k;
    const bigger = full ? (state.topKeys[state.topKeys.length - 1]?.bytes ?? 0) + 1 : 0;
    const minBytesForType = k > 0 ? bigger : Number.MAX_SAFE_INTEGER;
    return lookups({ db: state.db, cursor, count, samples, minBytesForType, typed });
  };

  for (const db of [...dbs].sort((a, b) => a - b)) {
    if (state.doneDbs.includes(db)) continue;
    let cursor = db === resumeAt?.db ? resumeAt.cursor : '0';
    state.db = db;
    await redis.select(db);
    const stat = (state.statKeys[String(db)] ??= { keys: 0, withoutTtl: 0 });
    // Double buffering: the next page is requested before this one is tallied, so Redis works while we count.
    let pending = fetchPage(cursor);
    for (;;) {
      const page = await pending;
      cursor = page.cursor;
      if (cursor !== '0') {
        // Before the next page, not after it: a Redis already answering others slowly gets the pause, not one more page.
        await options.pace?.();
        pending = fetchPage(cursor);
        // If this batch throws (a cancelled heartbeat), the page in flight is abandoned: not an unhandled rejection.
        pending.catch(() => undefined);
      }
      state.scanned += page.scanned;
      for (const tally of page.prefixes) addToPrefix(prefixes, tally, maxPrefixes);
      const statTally = page.prefixes.find((p) => p.prefix === STAT_PREFIX);
      stat.keys += statTally?.keys ?? 0;
      stat.withoutTtl += statTally?.keysWithoutTtl ?? 0;
      for (const { key: keyBuffer, type, bytes, pttl } of page.candidates) {
        // Gone between its first lookups and TYPE (the pipelines only: the script is atomic).
        if (type === 'none') continue;
        const key = keyBuffer.toString('utf8');
        const ttlSeconds = pttl === -1 ? -1 : Math.ceil(pttl / 1000);
        offerTopKey(state.topKeys, { key: displayKey(key), db, type, bytes, ttlSeconds }, k);
        if (state.sidekiqDb === undefined && SIDEKIQ_MARKERS[key] === type) state.sidekiqDb = db;
      }
      if (cursor === '0') state.doneDbs.push(db);
      state.cursor = cursor;
      state.prefixes = [...prefixes.values()];
      // A snapshot: the heartbeat may be sent later (throttled), after this state has moved on.
      progress.report(structuredClone(state));
      if (cursor === '0') break;
    }
  }

  const sidekiqStats = state.sidekiqDb === undefined ? undefined : state.statKeys[String(state.sidekiqDb)];
  return {
    bigKeys: state.topKeys,
    prefixes: [...prefixes.values()].sort((a, b) => b.bytes - a.bytes),
    scannedKeys: state.scanned,
    sidekiqDb: state.sidekiqDb,
    statKeys: sidekiqStats?.keys ?? 0,
    statKeysWithoutTtl: sidekiqStats?.withoutTtl ?? 0,
  };
}

function addToPrefix(prefixes: Map<string, PrefixUsage>, tally: PrefixTally, maxPrefixes: number): void {
  let usage = prefixes.get(tally.prefix);
  if (!usage) {
    const distinct = prefixes.size - (prefixes.has(OTHER_PREFIX) ? 1 : 0);
    const name = distinct < maxPrefixes ? tally.prefix : OTHER_PREFIX;
    usage = prefixes.get(name) ?? { prefix: name, keys: 0, bytes: 0, keysWithoutTtl: 0 };
    prefixes.set(name, usage);
  }
  usage.keys += tally.keys;
  usage.bytes += tally.bytes;
  usage.keysWithoutTtl += tally.keysWithoutTtl;
}
