/**
 * One SCAN page and, for each of its keys, `TYPE`, `MEMORY USAGE … SAMPLES n` and `PTTL`. Two ways to get it:
 *
 * - a read-only Lua script (`#!lua flags=no-writes`, Redis ≥ 7.0), one round trip per page: the server does the same
 *   work as the pipeline, and the client decodes one reply instead of 3 per key (with ioredis, building, encoding
 *   and collecting a command per key costs far more than Redis's ~1 µs per lookup: 3.5× faster over 1M keys, see docs/benchmarks.md). The script
 *   blocks Redis for the page only (~3 µs a key: a few ms for COUNT 1000); `no-writes` lets it run under OOM and
 *   on replicas.
 * - a SCAN then one pipeline of 3 commands per key, where scripts are refused (ACL, older servers).
 */
import type { Redis } from 'ioredis';

/** A page of keys with their lookups, index by index. */
export interface KeyPage {
  cursor: string;
  keys: Buffer[];
  /** `none` (or absent) when the key vanished before its lookups; `''` when not asked (see {@link PageQuery}). */
  types: Array<string | undefined>;
  /** `MEMORY USAGE`, 0 when unknown. */
  bytes: number[];
  /** `PTTL`: -1 no TTL, -2 gone. */
  pttls: number[];
}

/** What a page is looked up with. */
export interface PageQuery {
  cursor: string;
  count: number;
  /** `MEMORY USAGE … SAMPLES`. */
  samples: number;
  /**
   * The script asks `TYPE` only of keys of at least this many bytes or named in `typed`: only those can enter the
   * top-K or mark Sidekiq, and TYPE is a third of the server's work. Others get type `''`. The pipeline types all.
   */
  minBytesForType: number;
  typed: readonly string[];
}

/** Fetches a page of the connection's current db. */
export type PageLookups = (query: PageQuery) => Promise<KeyPage>;

const PAGE_SCRIPT = `#!lua flags=no-writes
local page = redis.call('SCAN', ARGV[1], 'COUNT', ARGV[2])
local keys = page[2]
local minBytes = tonumber(ARGV[4])
local named = {}
for i = 5, #ARGV do named[ARGV[i]] = true end
local types, bytes, pttls = {}, {}, {}
for i = 1, #keys do
  local key = keys[i]
  local size = redis.call('MEMORY', 'USAGE', key, 'SAMPLES', ARGV[3]) or 0
  bytes[i] = size
  pttls[i] = redis.call('PTTL', key)
  if size >= minBytes or named[key] then types[i] = redis.call('TYPE', key)['ok'] else types[i] = '' end
end
return {page[1], keys, types, bytes, pttls}`;

/**
 * The fastest {@link PageLookups} this connection allows: the script when `useScript` and `SCRIPT LOAD` accepts it,
 * else the pipeline. A script evicted later (`NOSCRIPT`, e.g. after `SCRIPT FLUSH`) is loaded again.
 */
export async function pageLookups(redis: Redis, useScript: boolean): Promise<PageLookups> {
  if (!useScript) return (q) => pipelinedPage(redis, q);
  let sha: string;
  try {
    sha = String(await redis.script('LOAD', PAGE_SCRIPT));
  } catch (err) {
    if (!(err instanceof Error) || err.name !== 'ReplyError') throw err;
    return (q) => pipelinedPage(redis, q);
  }
  return async (q) => {
    const args = (): Array<string | number> => [
      sha,
      0,
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
    const [next, keys, types, bytes, pttls] = reply as [Buffer, Buffer[], Buffer[], number[], number[]];
    return { cursor: next.toString(), keys, types: types.map(String), bytes, pttls };
  };
}

async function pipelinedPage(redis: Redis, { cursor, count, samples }: PageQuery): Promise<KeyPage> {
  const [next, keys] = await redis.scanBuffer(cursor, 'COUNT', count);
  const page: KeyPage = { cursor: next.toString(), keys, types: [], bytes: [], pttls: [] };
  if (keys.length === 0) return page;
  const pipeline = redis.pipeline();
  for (const key of keys) pipeline.type(key).memory('USAGE', key, 'SAMPLES', samples).pttl(key);
  const replies = (await pipeline.exec()) ?? [];
  keys.forEach((_, i) => {
    const [typeErr, type] = replies[i * 3] ?? [];
    const [, bytes] = replies[i * 3 + 1] ?? [];
    const [pttlErr, pttl] = replies[i * 3 + 2] ?? [];
    page.types.push(typeErr ? undefined : String(type));
    page.bytes.push(typeof bytes === 'number' ? bytes : 0);
    page.pttls.push(pttlErr ? -2 : Number(pttl));
  });
  return page;
}
