import { mib, MiB, pct, unavailable } from './model.js';
import type { Evidence, Finding, Rule } from './model.js';

/** Keys a prefix must have before its TTL share is worth a finding. */
const PREFIX_MIN_KEYS = 100;
/** Share of a prefix's keys without TTL above which they "dominate" it. */
const PREFIX_NO_TTL_SHARE = 0.9;
/** RSS above used memory that is worth a fragmentation finding (smaller gaps are allocator noise). */
const FRAGMENTATION_MIN_GAP = 64 * MiB;
/** Peak this many times the live memory: the RSS is the high-water mark of a past burst, not live fragmentation. */
const PEAK_OVER_USED = 1.5;
/** Mean µs per DEL above which DELs free big keys synchronously (UNLINK frees them in a background thread). */
const SLOW_DEL_USEC = 1000;

/** `; failing most: A (12 dead, 3 retrying), B (…)`, from the sampled jobs' classes. */
function failing(sk: NonNullable<NonNullable<Evidence['redis']>['sidekiq']>): string {
  const top = (sk.failingClasses ?? []).slice(0, 3);
  if (top.length === 0) return '';
  return `; failing most (newest jobs): ${top.map((c) => `${c.name} (${c.dead} dead, ${c.retry} retrying)`).join(', ')}`;
}

export const memoryRules: Rule = (e, t) => {
  const r = e.redis;
  if (!r) return unavailable('redis-unreachable', 'critical', 'Redis could not be diagnosed', e.redisError);
  const out: Finding[] = [];
  const { usedMemory, maxmemory, maxmemoryPolicy, usedMemoryRss, fragmentationRatio } = r.memory;
  const limit = e.limits?.limits.memoryBytes;
  if (maxmemory > 0 && usedMemory / maxmemory >= t.memoryNearLimitRatio && maxmemoryPolicy === 'noeviction') {
    out.push({
      id: 'noeviction-near-limit',
      severity: 'critical',
      message: `maxmemory-policy is noeviction and used memory is ${pct(usedMemory / maxmemory)} of maxmemory (${mib(usedMemory)} of ${mib(maxmemory)}): writes fail with "OOM command not allowed".`,
      evidence: { usedMemory, maxmemory, maxmemoryPolicy },
    });
  }
  const share = t.maxmemoryShareOfLimit;
  // What to leave free: a BGSAVE or AOF rewrite forks, and copy-on-write can duplicate every page written meanwhile.
  const room = (l: number) =>
    `set maxmemory to at most ${pct(share)} of the limit (${mib(l * share)}), leaving ${mib(l * (1 - share))} for fork copy-on-write during BGSAVE/AOF rewrite, client buffers and fragmentation`;
  if (maxmemory === 0) {
    out.push({
      id: 'maxmemory-unbounded',
      severity: limit ? 'critical' : 'warning',
      message: limit
        ? `maxmemory is 0 (unbounded): Redis grows until the kernel kills it at the ${mib(limit)} container limit; ${room(limit)}.`
        : 'maxmemory is 0 (unbounded) and no container memory limit is known: Redis grows until the node runs out of memory.',
      evidence: { maxmemory, ...(limit ? { memoryLimit: limit, suggestedMaxmemory: Math.floor(limit * share) } : {}) },
    });
  } else if (limit && maxmemory > limit * share) {
    out.push({
      id: 'maxmemory-above-limit-share',
      severity: maxmemory >= limit ? 'critical' : 'warning',
      message: `maxmemory ${mib(maxmemory)} leaves ${mib(Math.max(limit - maxmemory, 0))} of the ${mib(limit)} container limit${maxmemory >= limit ? ' (none: the kernel kills Redis before maxmemory is reached)' : ''}; ${room(limit)}.`,
      evidence: { maxmemory, memoryLimit: limit, suggestedMaxmemory: Math.floor(limit * share) },
    });
  }
  if (fragmentationRatio >= t.fragmentationRatio && usedMemoryRss - usedMemory > FRAGMENTATION_MIN_GAP) {
    const peak = r.memory.usedMemoryPeak;
    const allocator = r.memory.allocatorFragRatio;
    const historical = peak >= usedMemory * PEAK_OVER_USED;
    out.push({
      id: 'fragmentation-high',
      severity: 'warning',
      message:
        `Fragmentation ratio ${fragmentationRatio.toFixed(2)}: RSS ${mib(usedMemoryRss)} against ${mib(usedMemory)} used. ` +
        (historical
          ? `Used memory peaked at ${mib(peak)}: the RSS is mostly pages kept since that peak, not live data; MEMORY PURGE returns what the allocator can, a restart the rest.`
          : `The peak (${mib(peak)}) is close to the live memory, so this is live fragmentation${allocator !== undefined ? ` (allocator_frag_ratio ${allocator.toFixed(2)})` : ''}: MEMORY PURGE, or activedefrag yes.`),
      evidence: {
        fragmentationRatio,
        usedMemoryRss,
        usedMemory,
        usedMemoryPeak: peak,
        historicalPeak: historical,
        ...(allocator !== undefined ? { allocatorFragRatio: allocator } : {}),
      },
    });
  }
  if (!r.writable) {
    out.push({
      id: 'writes-rejected',
      severity: 'critical',
      message: `A probe write failed: ${(r.writeError ?? 'unknown error').replace(/\.+$/, '')}.`,
      evidence: { error: r.writeError ?? '' },
    });
  }
  if (r.stats.rejectedConnections > 0) {
    out.push({
      id: 'connections-rejected',
      severity: 'warning',
      message: `${r.stats.rejectedConnections} connections were refused since start (maxclients reached).`,
      evidence: { rejectedConnections: r.stats.rejectedConnections, connectedClients: r.clients.connectedClients },
    });
  }
  if (r.stats.evictedKeys > 0) {
    out.push({
      id: 'evictions',
      severity: 'info',
      message: `${r.stats.evictedKeys} keys were evicted since start.`,
      evidence: { evictedKeys: r.stats.evictedKeys },
    });
  }
  if (r.persistence.rdbLastBgsaveStatus !== 'ok') {
    out.push({
      id: 'bgsave-failing',
      severity: 'critical',
      message: `The last BGSAVE failed (rdb_last_bgsave_status:${r.persistence.rdbLastBgsaveStatus}): with stop-writes-on-bgsave-error Redis refuses writes with MISCONF.`,
      evidence: { rdbLastBgsaveStatus: r.persistence.rdbLastBgsaveStatus },
    });
  }
  const aof = r.persistence.aofLastWriteStatus;
  if (r.persistence.aofEnabled && aof !== undefined && aof !== 'ok') {
    out.push({
      id: 'aof-write-failing',
      severity: 'critical',
      message: `The last AOF write failed (aof_last_write_status:${aof}): Redis refuses writes until it succeeds.`,
      evidence: { aofLastWriteStatus: aof },
    });
  }
  return out;
};

export const keyRules: Rule = (e, t) => {
  const r = e.redis;
  if (!r) return [];
  const out: Finding[] = [];
  for (const p of r.prefixes) {
    if (p.keys >= PREFIX_MIN_KEYS && p.keysWithoutTtl / p.keys >= PREFIX_NO_TTL_SHARE) {
      out.push({
        id: `no-ttl-prefix:${p.prefix}`,
        severity: 'warning',
        message: `${p.keysWithoutTtl} of ${p.keys} keys under "${p.prefix}*" have no TTL (${mib(p.bytes)}): they only grow.`,
        evidence: { prefix: p.prefix, keys: p.keys, keysWithoutTtl: p.keysWithoutTtl, bytes: p.bytes },
      });
    }
  }
  const sk = r.sidekiq;
  if (sk && sk.statKeysWithoutTtl > 0) {
    out.push({
      id: 'sidekiq-stat-no-ttl',
      severity: 'warning',
      message: `${sk.statKeysWithoutTtl} of ${sk.statKeys} Sidekiq stat:* keys have no TTL.`,
      evidence: { statKeys: sk.statKeys, statKeysWithoutTtl: sk.statKeysWithoutTtl },
    });
  }
  const maxAgeDays = t.sidekiqDeadMaxAgeDays;
  const age = sk?.oldestDeadAgeSeconds;
  // Runs whose settings predate the age threshold never raise it, so they replay as they ran.
  if (sk && maxAgeDays !== undefined && age !== undefined && age > maxAgeDays * 86400) {
    out.push({
      id: 'sidekiq-dead-old',
      severity: 'warning',
      message: `The Sidekiq dead set keeps jobs for ${Math.floor(age / 86400)} days, past the ${maxAgeDays}-day retention (dead_timeout): ${sk.dead} dead jobs take memory nobody reads${failing(sk)}.`,
      evidence: { dead: sk.dead, oldestDeadAgeSeconds: age, maxAgeDays },
    });
  }
  if (sk && sk.dead > t.sidekiqDeadMax) {
    out.push({
      id: 'sidekiq-dead-large',
      severity: 'warning',
      message: `The Sidekiq dead set holds ${sk.dead} jobs (above ${t.sidekiqDeadMax})${age !== undefined ? `, the oldest dead for ${Math.floor(age / 86400)} days` : ''}${maxAgeDays !== undefined ? failing(sk) : ''}.`,
      evidence: { dead: sk.dead, retry: sk.retry, ...(age !== undefined ? { oldestDeadAgeSeconds: age } : {}) },
    });
  }
  if (sk && sk.retry > t.sidekiqDeadMax) {
    out.push({
      id: 'sidekiq-retry-large',
      severity: 'warning',
      message: `The Sidekiq retry set holds ${sk.retry} jobs (above ${t.sidekiqDeadMax}): jobs keep failing; find why before they die${maxAgeDays !== undefined ? failing(sk) : ''}.`,
      evidence: { retry: sk.retry, dead: sk.dead },
    });
  }
  for (const k of r.bigKeys.filter((b) => b.bytes >= t.bigKeyBytes)) {
    out.push({
      id: `big-key:${k.db}:${k.key}`,
      severity: 'warning',
      message: `Key "${k.key}" (db ${k.db}, ${k.type}) takes ${mib(k.bytes)}: reading, deleting or migrating it blocks Redis.`,
      evidence: { key: k.key, db: k.db, type: k.type, bytes: k.bytes },
    });
  }
  return out;
};

export const commandRules: Rule = (e) => {
  const c = e.redis?.commands;
  if (!c) return [];
  const out: Finding[] = [];
  const seen = (command: 'keys' | 'monitor' | 'flushall' | 'flushdb', calls: number, why: string) => {
    if (calls > 0) {
      out.push({
        id: `command-${command}`,
        severity: 'warning',
        message: `${command.toUpperCase()} was called ${calls} time(s) since the stats were reset: ${why}.`,
        evidence: { command, calls },
      });
    }
  };
  seen('keys', c.keys, 'it walks the whole keyspace in one blocking call; use SCAN');
  seen(
    'monitor',
    c.monitor,
    'it streams every command and can double the load; use it briefly, never in production scripts',
  );
  seen('flushall', c.flushall, 'something erased every db');
  seen('flushdb', c.flushdb, 'something erased a whole db');
  if (c.del > 0 && c.delUsecPerCall >= SLOW_DEL_USEC) {
    out.push({
      id: 'command-del-slow',
      severity: 'warning',
      message: `DEL takes ${Math.round(c.delUsecPerCall)} µs per call on average (${c.del} calls): big keys are freed synchronously, blocking Redis; use UNLINK.`,
      evidence: { command: 'del', calls: c.del, usecPerCall: c.delUsecPerCall },
    });
  }
  return out;
};
