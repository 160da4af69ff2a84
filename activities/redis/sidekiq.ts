import type { Redis } from 'ioredis';
import type { RedisDiagnostics } from './types.js';

/** Queues listed beyond this many are left out (a Sidekiq install has a handful). */
const MAX_QUEUES = 50;
/** Newest jobs of the dead and retry sets read to tell which job classes fail. */
const CLASS_SAMPLE = 200;
/** Classes reported, most failing first. */
const MAX_CLASSES = 10;

/** A job's class (ActiveJob wraps it: `wrapped` names the real one) and when it failed, from its JSON payload. */
function jobOf(payload: unknown): { name?: string; failedAt?: number } {
  try {
    const job = JSON.parse(String(payload)) as { class?: unknown; wrapped?: unknown; failed_at?: unknown };
    const name = typeof job.wrapped === 'string' ? job.wrapped : typeof job.class === 'string' ? job.class : undefined;
    return {
      ...(name ? { name: name.slice(0, 100) } : {}),
      ...(typeof job.failed_at === 'number' ? { failedAt: job.failed_at } : {}),
    };
  } catch {
    return {};
  }
}

type SidekiqFigures = NonNullable<RedisDiagnostics['sidekiq']>;

/**
 * Sizes of Sidekiq's sets and queues in the current db: `ZCARD retry|dead|schedule`, the oldest dead job's age (its
 * score against the server's `TIME`), then `LLEN queue:<name>` for each
 * member of `queues`, in two pipelines. A key of another type counts as 0. The `stat:*` figures come from the scan.
 */
export async function readSidekiqFigures(
  redis: Redis,
  stat: { statKeys: number; statKeysWithoutTtl: number },
): Promise<SidekiqFigures> {
  const replies =
    (await redis
      .pipeline()
      .zcard('retry')
      .zcard('dead')
      .zcard('schedule')
      .smembers('queues')
      .zrange('dead', '0', '0', 'WITHSCORES')
      .time()
      .zrange('dead', String(-CLASS_SAMPLE), '-1')
      .zrange('retry', String(-CLASS_SAMPLE), '-1')
      .exec()) ?? [];
  const num = (i: number) => {
    const [err, value] = replies[i] ?? [];
    return !err && typeof value === 'number' ? value : 0;
  };
  const [queuesErr, members] = replies[3] ?? [];
  const names = (!queuesErr && Array.isArray(members) ? members.map(String) : []).sort().slice(0, MAX_QUEUES);
  const lengths =
    names.length > 0 ? ((await names.reduce((p, name) => p.llen(`queue:${name}`), redis.pipeline()).exec()) ?? []) : [];
  const [, oldest] = replies[4] ?? [];
  const [, time] = replies[5] ?? [];
  const diedAt = Array.isArray(oldest) && oldest.length === 2 ? Number(oldest[1]) : NaN;
  const now = Array.isArray(time) ? Number(time[0]) : NaN;
  const sample = (i: number) => {
    const [err, members] = replies[i] ?? [];
    return !err && Array.isArray(members) ? members.map(jobOf) : [];
  };
  const dead = sample(6);
  const retry = sample(7);
  const classes = new Map<string, { name: string; dead: number; retry: number }>();
  for (const [set, jobs] of [
    ['dead', dead],
    ['retry', retry],
  ] as const)
    for (const job of jobs) {
      if (!job.name) continue;
      const c = classes.get(job.name) ?? { name: job.name, dead: 0, retry: 0 };
      c[set]++;
      classes.set(job.name, c);
    }
  const retryFailures = retry.map((j) => j.failedAt).filter((t): t is number => t !== undefined);
  return {
    ...(Number.isFinite(now) ? { serverTime: now } : {}),
    ...(retryFailures.length > 0 && Number.isFinite(now)
      ? { oldestRetryAgeSeconds: Math.max(0, Math.round(now - Math.min(...retryFailures))) }
      : {}),
    ...(classes.size > 0
      ? {
          failingClasses: [...classes.values()]
            .sort((a, b) => b.dead + b.retry - (a.dead + a.retry) || a.name.localeCompare(b.name))
            .slice(0, MAX_CLASSES),
        }
      : {}),
    // Sidekiq scores a dead job by the time it died, in (fractional) epoch seconds.
    ...(Number.isFinite(diedAt) && Number.isFinite(now)
      ? { oldestDeadAgeSeconds: Math.max(0, Math.round(now - diedAt)) }
      : {}),
    retry: num(0),
    dead: num(1),
    schedule: num(2),
    queues: names.map((name, i) => {
      const [err, length] = lengths[i] ?? [];
      return { name, length: !err && typeof length === 'number' ? length : 0 };
    }),
    statKeys: stat.statKeys,
    statKeysWithoutTtl: stat.statKeysWithoutTtl,
  };
}
