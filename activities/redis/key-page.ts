/**
 * One SCAN page, tallied: per key `MEMORY USAGE … SAMPLES n` and, where INFO keyspace shows the db holds volatile
 * keys, `PTTL`, summed by key prefix; `TYPE` only for the keys that can enter the top-K or mark Sidekiq. Two ways:
 *
 * - a read-only Lua script (`#!lua flags=no-writes`, Redis ≥ 7.0), one round trip per page that returns the page's
 *   tallies and its few candidates, not one entry per key: decoding a reply entry per key, not Redis, was what
 *   bounded the scan (docs/benchmarks.md). The script blocks Redis for the page only (~3 µs a key: a few ms for
 *   COUNT 1000); `no-writes` lets it run under OOM and on replicas.
 * - a SCAN, then pipelines of the same lookups, where scripts are refused (ACL, older servers).
 */
import type { Redis } from 'ioredis';
import { keyPrefix } from './key-prefix.js';

/** Keys of one prefix in a page. */
export interface PrefixTally {
  prefix: string;
  keys: number;
  bytes: number;
  keysWithoutTtl: number;
}

/** A key that may enter the top-K or is named in {@link PageQuery.typed}, with its lookups. */
export interface Candidate {
  key: Buffer;
  /** `none` when the key vanished before `TYPE`. */
  type: string;
  bytes: number;
  /** `PTTL`: -1 no TTL. */
  pttl: number;
}

/** What a page adds to a scan. Keys that vanished between SCAN and their lookups are not in it. */
export interface PageTally {
  cursor: string;
  scanned: number;
  /** In the order each prefix was first seen in the page, so folding into `(other)` does not depend on the path. */
  prefixes: PrefixTally[];
  candidates: Candidate[];
}

/** What a page is looked up with. */
export interface PageQuery {
  /** The connection's current db: where INFO keyspace says it holds no volatile key, `PTTL` is not asked. */
  db: number;
  cursor: string;
  count: number;
  /** `MEMORY USAGE … SAMPLES`. */
  samples: number;
  /** Keys of at least this many bytes are candidates (typed and returned): only they can enter the top-K. */
  minBytesForType: number;
  /** Keys that are candidates whatever their size (Sidekiq's markers). */
  typed: readonly string[];
}

/** Fetches a page of the connection's current db. */
export type PageLookups = (query: PageQuery) => Promise<PageTally>;

// The prefix group is exact where bytes and characters agree (a delimiter in the first 64 bytes, or an ASCII head);
// otherwise the key's first 256 bytes (≥ 64 characters) go back and keyPrefix decides, so both paths agree.
const PAGE_SCRIPT = `#!lua flags=no-writes
local page = redis.call('SCAN', ARGV[2], 'COUNT', ARGV[3])
local samples, minBytes = ARGV[4], tonumber(ARGV[5])
local named = {}
for i = 6, #ARGV do named[ARGV[i]] = true end
local volatile = string.match(redis.call('INFO', 'keyspace'), 'db' .. ARGV[1] .. ':keys=%d+,expires=(%d+)')
volatile = volatile ~= '0'
local order, groups, candidates = {}, {}, {}
local scanned = 0
for _, key in ipairs(page[2]) do
  local pttl = -1
  if volatile then pttl = redis.call('PTTL', key) end
  if pttl ~= -2 then
    local size
    if samples == '5' then size = redis.call('MEMORY', 'USAGE', key)
    else size = redis.call('MEMORY', 'USAGE', key, 'SAMPLES', samples) end
    size = size or 0
    scanned = scanned + 1
    local head = key
    if #key > 64 then head = string.sub(key, 1, 64) end
    local d = string.find(head, '[:#]')
    local name
    if d then name = string.sub(key, 1, d)
    elseif not string.find(head, '[\\128-\\255]') then
      if #key > 40 then name = string.sub(key, 1, 40) .. '\\226\\128\\166' else name = key end
    else name = string.sub(key, 1, 256) end
    local g = groups[name]
    if not g then
      g = {name, 0, 0, 0}
      groups[name] = g
      order[#order + 1] = g
    end
    g[2] = g[2] + 1
    g[3] = g[3] + size
    if pttl == -1 then g[4] = g[4] + 1 end
    if size >= minBytes or named[key] then
      local n = #candidates
      candidates[n + 1] = key
      candidates[n + 2] = redis.call('TYPE', key)['ok']
      candidates[n + 3] = size
      candidates[n + 4] = pttl
    end
  end
end
local flat = {}
for i, g in ipairs(order) do
  flat[i * 4 - 3], flat[i * 4 - 2], flat[i * 4 - 1], flat[i * 4] = g[1], g[2], g[3], g[4]
end
return {page[1], scanned, flat, candidates}`;

/**
 * The fastest {@link PageLookups} this connection allows: the script when `useScript` and `SCRIPT LOAD` accepts it,
 * else the pipelines. A script evicted later (`NOSCRIPT`, e.g. after `SCRIPT FLUSH`) is loaded again.
 */
export async function pageLookups(redis: Redis, useScript: boolean): Promise<PageLookups> {
  if (!useScript) return pipelinedPages(redis);
  let sha: string;
  try {
    sha = String(await redis.script('LOAD', PAGE_SCRIPT));
  } catch (err) {
    if (!(err instanceof Error) || err.name !== 'ReplyError') throw err;
    return pipelinedPages(redis);
  }
  return async (q) => {
    const args = (): Array<string | number> => [
      sha,
      0,
      q.db,
      q.cursor,
      q.count,
      q.samples,
      Math.floor(q.minBytesForType),
      ...q.typed,
    ];
    let reply: unknown;
    try {
      reply = await redis.callBuffer('EVALSHA', ...args());
    } catch (err) {
      if (!(err instanceof Error) || !/^NOSCRIPT/.test(err.message)) throw err;
      sha = String(await redis.script('LOAD', PAGE_SCRIPT));
      reply = await redis.callBuffer('EVALSHA', ...args());
    }
    const [next, scanned, groups, flat] = reply as [Buffer, number, Array<Buffer | number>, Array<Buffer | number>];
    const tally: PageTally = { cursor: next.toString(), scanned, prefixes: [], candidates: [] };
    for (let i = 0; i < groups.length; i += 4) {
      const [name, keys, bytes, keysWithoutTtl] = groups.slice(i, i + 4) as [Buffer, number, number, number];
      tally.prefixes.push({ prefix: keyPrefix(name.toString('utf8')), keys, bytes, keysWithoutTtl });
    }
    for (let i = 0; i < flat.length; i += 4) {
      const [key, type, bytes, pttl] = flat.slice(i, i + 4) as [Buffer, Buffer, number, number];
      tally.candidates.push({ key, type: type.toString(), bytes, pttl });
    }
    return tally;
  };
}

interface ScanPage {
  next: string;
  keys: Buffer[];
  /** INFO keyspace, read with the page. */
  info: string;
}

async function scanPage(redis: Redis, cursor: string, count: number): Promise<ScanPage> {
  const [[next, keys], info] = await Promise.all([redis.scanBuffer(cursor, 'COUNT', count), redis.info('keyspace')]);
  return { next: next.toString(), keys, info };
}

/**
 * The script's work in pipelines: SCAN with INFO keyspace, then `PTTL` (only where the db holds volatile keys) and
 * `MEMORY USAGE` of every key, then `TYPE` of the candidates. Not atomic as the script is: a TTL set between INFO and
 * the lookups is missed, as a key written behind the cursor is by any SCAN. (Sending the next page's SCAN behind this
 * page's lookups measured no faster: the client's command encoding, not the round trips, bounds this path.)
 */
function pipelinedPages(redis: Redis): PageLookups {
  return async (q) => {
    const { next, keys, info } = await scanPage(redis, q.cursor, q.count);
    return pipelinedLookups(redis, q, next, keys, info);
  };
}

async function pipelinedLookups(
  redis: Redis,
  q: PageQuery,
  next: string,
  keys: Buffer[],
  info: string,
): Promise<PageTally> {
  const tally: PageTally = { cursor: next, scanned: 0, prefixes: [], candidates: [] };
  if (keys.length === 0) return tally;
  const volatile = hasVolatileKeys(info, q.db);
  const perKey = volatile ? 2 : 1;
  const lookups = redis.pipeline();
  for (const key of keys) {
    if (volatile) lookups.pttl(key);
    if (q.samples === DEFAULT_SAMPLES) lookups.memory('USAGE', key);
    else lookups.memory('USAGE', key, 'SAMPLES', q.samples);
  }
  const replies = (await lookups.exec()) ?? [];
  const named = new Set(q.typed);
  const groups = new Map<string, PrefixTally>();
  const candidates: Candidate[] = [];
  keys.forEach((keyBuffer, i) => {
    const [pttlErr, pttlReply] = volatile ? (replies[i * 2] ?? []) : [null, -1];
    const [bytesErr, bytesReply] = replies[i * perKey + perKey - 1] ?? [];
    // Gone between SCAN and the lookups: PTTL -2, or MEMORY USAGE nil.
    if (pttlErr || bytesErr || pttlReply === -2 || typeof bytesReply !== 'number') return;
    const pttl = Number(pttlReply);
    const bytes = bytesReply;
    tally.scanned++;
    const key = keyBuffer.toString('utf8');
    const prefix = keyPrefix(key);
    let group = groups.get(prefix);
    if (!group) {
      group = { prefix, keys: 0, bytes: 0, keysWithoutTtl: 0 };
      groups.set(prefix, group);
      tally.prefixes.push(group);
    }
    group.keys++;
    group.bytes += bytes;
    if (pttl === -1) group.keysWithoutTtl++;
    if (bytes >= q.minBytesForType || named.has(key)) {
      candidates.push({ key: keyBuffer, type: '', bytes, pttl });
    }
  });
  if (candidates.length === 0) return tally;
  const types = redis.pipeline();
  for (const c of candidates) types.type(c.key);
  const typeReplies = (await types.exec()) ?? [];
  candidates.forEach((c, i) => {
    const [err, type] = typeReplies[i] ?? [];
    c.type = err ? 'none' : String(type);
  });
  tally.candidates = candidates;
  return tally;
}

/** Redis's own default of `MEMORY USAGE … SAMPLES`: the argument is left out for it. */
const DEFAULT_SAMPLES = 5;

/** Whether INFO keyspace may show volatile keys in `db`: true unless its line says `expires=0`. */
export function hasVolatileKeys(info: string, db: number): boolean {
  const match = new RegExp(`^db${db}:keys=\\d+,expires=(\\d+)`, 'm').exec(info);
  return match?.[1] !== '0';
}
