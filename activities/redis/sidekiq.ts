import type { Redis } from 'ioredis';
import type { RedisDiagnostics } from './types.js';

/** Queues listed beyond this many are left out (a Sidekiq install has a handful). */
const MAX_QUEUES = 50;

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
  return {
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
