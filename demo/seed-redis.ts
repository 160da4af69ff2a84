import type { ChainableCommander, Redis } from 'ioredis';
import { configGet } from '../activities/redis/config.js';

/** What {@link seedCrashScenario} built. */
export interface SeedSummary {
  /** Keys in the db after seeding (`DBSIZE`). */
  keys: number;
  usedMemory: number;
  maxmemory: number;
  /** Whether a 100 KB `SET` is refused with `OOM command not allowed`, as in the incident. */
  writeFailsWithOom: boolean;
  /** The refusal, as Redis worded it. */
  oomError?: string;
}

export interface SeedOptions {
  /** Multiplies the key counts (default 1: ~5,000 stat keys, ~5,000 dead jobs, ~500 sessions). */
  scale?: number;
  /**
   * This many more keys first, as the rest of a big production keyspace: `cache:item:<i>` strings of 64 to 1,024 bytes,
   * a tenth with a TTL (default 0).
   */
  bulkKeys?: number;
}

/** `count` `cache:item:<i>` strings of 64 to 1,024 bytes, every tenth with a day's TTL. */
function seedBulk(redis: Redis, count: number): Promise<void> {
  return inBatches(
    count,
    (p, i) => {
      const key = `cache:item:${i}`;
      const value = 'v'.repeat(64 + ((i * 37) % 961));
      if (i % 10 === 0) p.set(key, value, 'EX', 86_400);
      else p.set(key, value);
    },
    redis,
  );
}

const DAY_MS = 86_400_000;
const PIPELINE_BATCH = 1000;
/** How far below the memory in use `maxmemory` is set. */
const OOM_MARGIN = 384 * 1024;

/**
 * Reproduces the seed crash in the current db of a fresh server, in pipelines of {@link PIPELINE_BATCH} commands:
 * Sidekiq `stat:processed:<date>`/`stat:failed:<date>` keys without TTL (~5,000), a `dead` set of ~5,000 JSON jobs (most from
 * the last 60 days, a fifth 200-400 days old: past Sidekiq's six-month retention), a `retry` set of ~200, `queues` with `default` and `mailers` and their lists, a few 200–500 KB
 * `Course#<id>:cache` JSON strings, `session:<id>` keys with a TTL. Then `maxmemory-policy noeviction` and a
 * `maxmemory` 384 KB below the memory in use, so writes fail with `OOM command not allowed`, and checks that a 100 KB
 * write is refused. Deterministic for a given scale. Meant for a fresh server: it adds to whatever is there.
 */
export async function seedCrashScenario(redis: Redis, opts: SeedOptions = {}): Promise<SeedSummary> {
  const scale = opts.scale ?? 1;
  const n = (count: number) => Math.max(1, Math.round(count * scale));
  const random = mulberry32(42);
  const now = Date.UTC(2026, 10, 20, 12, 0, 0);
  if (opts.bulkKeys) await seedBulk(redis, opts.bulkKeys);

  await inBatches(
    n(2500),
    (p, i) => {
      const date = new Date(now - i * DAY_MS).toISOString().slice(0, 10);
      p.set(`stat:processed:${date}`, Math.floor(random() * 50_000));
      p.set(`stat:failed:${date}`, Math.floor(random() * 500));
    },
    redis,
  );
  await redis.mset('stat:processed', 98_765_432, 'stat:failed', 1_234_567);

  const deadJobs = n(5000);
  await inBatches(
    deadJobs,
    (p, i) => {
      // Most died in the last two months; one in five long ago, past Sidekiq's six-month retention.
      const failedAt = now - (i % 5 === 0 ? 200 + random() * 200 : random() * 60) * DAY_MS;
      p.zadd('dead', Math.floor(failedAt / 1000), sidekiqJob(i, failedAt, random, 'dead'));
    },
    redis,
  );
  await inBatches(
    n(200),
    (p, i) => {
      const retryAt = now + random() * DAY_MS;
      p.zadd('retry', Math.floor(retryAt / 1000), sidekiqJob(deadJobs + i, now, random, 'retry'));
    },
    redis,
  );
  await redis.sadd('queues', 'default', 'mailers');
  await inBatches(n(50), (p, i) => p.rpush('queue:default', sidekiqJob(i, now, random, 'default')), redis);
  await inBatches(n(20), (p, i) => p.rpush('queue:mailers', sidekiqJob(i, now, random, 'mailers')), redis);

  const courses = n(4);
  for (let i = 0; i < courses; i++) {
    const kb = 200 + Math.round((300 * i) / Math.max(1, courses - 1));
    await redis.set(`Course#${1000 + i}:cache`, courseCache(1000 + i, kb * 1024));
  }
  await inBatches(
    n(500),
    (p, i) => {
      p.set(`session:${hex(random, 16)}`, JSON.stringify({ user_id: i, csrf: hex(random, 32) }), 'EX', 3600 + i);
    },
    redis,
  );

  // Below the memory in use, not just above it, and not counting client buffers: those shrink once the seeding
  // connection is idle, and a limit a few KB above usage would let small writes through again. This way every write
  // is refused, whatever its size and whoever sends it, until the runbook frees memory or raises the limit.
  await redis.config('SET', 'maxmemory-policy', 'noeviction');
  const info = await redis.info('memory');
  const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);
  const withoutClients = field('used_memory') - field('mem_clients_normal');
  await redis.config('SET', 'maxmemory', String(Math.max(1, withoutClients - OOM_MARGIN)));

  const oomError = await tryWrite(redis, 'runbook:seed:oom-check', 'x'.repeat(100 * 1024));
  const maxmemory = Number((await configGet(redis, 'maxmemory'))['maxmemory']);
  return {
    keys: await redis.dbsize(),
    usedMemory: await usedMemory(redis),
    maxmemory,
    writeFailsWithOom: oomError?.startsWith('OOM') ?? false,
    oomError,
  };
}

/** Runs a write; returns Redis's refusal text, or undefined when it was accepted. */
async function tryWrite(redis: Redis, key: string, value: string): Promise<string | undefined> {
  try {
    await redis.set(key, value);
    await redis.unlink(key);
    return undefined;
  } catch (err) {
    if (err instanceof Error && err.name === 'ReplyError') return err.message;
    throw err;
  }
}

async function inBatches(
  count: number,
  add: (pipeline: ChainableCommander, index: number) => void,
  redis: Redis,
): Promise<void> {
  for (let start = 0; start < count; start += PIPELINE_BATCH) {
    const pipeline = redis.pipeline();
    for (let i = start; i < Math.min(count, start + PIPELINE_BATCH); i++) add(pipeline, i);
    const replies = (await pipeline.exec()) ?? [];
    const failed = replies.find(([err]) => err);
    if (failed?.[0]) throw failed[0];
  }
}

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
}

function sidekiqJob(id: number, at: number, random: () => number, queue: string): string {
  const classes = ['HardWorker', 'MailerJob', 'ReportExportJob', 'WebhookDeliveryJob'];
  return JSON.stringify({
    retry: true,
    queue: queue === 'dead' || queue === 'retry' ? 'default' : queue,
    class: classes[id % classes.length],
    args: [id, `course-${id % 97}`, { attempt: Math.floor(random() * 25) }],
    jid: hex(random, 24),
    created_at: (at - 3_600_000) / 1000,
    enqueued_at: at / 1000,
    ...(queue === 'dead' || queue === 'retry'
      ? {
          failed_at: at / 1000,
          retry_count: 25,
          error_class: 'Net::ReadTimeout',
          error_message: `Net::ReadTimeout with #<TCPSocket:(closed)> after ${Math.floor(random() * 60)}s`,
        }
      : {}),
  });
}

function courseCache(id: number, bytes: number): string {
  const lesson = (i: number) => ({
    id: i,
    title: `Lesson ${i} of course ${id}`,
    body: 'Lorem ipsum dolor sit amet. '.repeat(8),
  });
  const lessons = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const l = lesson(i);
    size += JSON.stringify(l).length + 1;
    lessons.push(l);
  }
  return JSON.stringify({ id, cached_at: '2026-11-20T12:00:00Z', lessons });
}

function hex(random: () => number, length: number): string {
  let out = '';
  while (out.length < length) out += Math.floor(random() * 16).toString(16);
  return out;
}

/** Small seeded PRNG, so a seed at a given scale is the same every time. */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
