import type { Evidence, Finding, Thresholds } from '../types.js';

const MiB = 1024 * 1024;

function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}

function pct(ratio: number): string {
  return `${(ratio * 100).toFixed(1)}%`;
}

/** Keys a prefix must have before its TTL share is worth a finding. */
const PREFIX_MIN_KEYS = 100;
/** Share of a prefix's keys without TTL above which they "dominate" it. */
const PREFIX_NO_TTL_SHARE = 0.9;

type Rule = (e: Evidence, t: Thresholds) => Finding[];

const podRules: Rule = (e) => {
  const pod = e.pod;
  if (!pod)
    return e.podError
      ? [
          {
            id: 'pod-unavailable',
            severity: 'warning',
            message: `Could not describe the pod: ${e.podError}`,
            evidence: {},
          },
        ]
      : [];
  const out: Finding[] = [];
  for (const c of pod.containers) {
    const last = c.lastState;
    if (last?.reason === 'OOMKilled' || last?.exitCode === 137) {
      out.push({
        id: 'pod-oomkilled',
        severity: 'critical',
        message: `Container ${c.name} was killed for memory (${last.reason ?? 'exit 137'}) and has restarted ${c.restartCount} times: Redis outgrew the container's memory limit.`,
        evidence: {
          container: c.name,
          restartCount: c.restartCount,
          reason: last.reason ?? '',
          exitCode: last.exitCode ?? 0,
        },
      });
    }
    if (c.state.reason === 'CrashLoopBackOff') {
      out.push({
        id: 'pod-crashloop',
        severity: 'critical',
        message: `Container ${c.name} is in CrashLoopBackOff after ${c.restartCount} restarts.`,
        evidence: { container: c.name, restartCount: c.restartCount },
      });
    }
  }
  if (pod.failedProbes > 0) {
    out.push({
      id: 'probes-failing',
      severity: 'warning',
      message: `${pod.failedProbes} probe failure event(s) on the pod.`,
      evidence: { failedProbes: pod.failedProbes },
    });
  }
  return out;
};

const logRules: Rule = (e) => {
  const signals = e.logs?.signals ?? [];
  const severity: Record<string, Finding['severity']> = {
    'oom-command-not-allowed': 'critical',
    misconf: 'critical',
    'disk-full': 'critical',
    'fork-cannot-allocate-memory': 'warning',
    'permission-denied': 'warning',
    'oom-killed-by-kernel': 'critical',
    'aof-error': 'warning',
  };
  return signals.map((s) => ({
    id: `log-${s.signal}`,
    severity: severity[s.signal] ?? 'warning',
    message: `The previous container's log shows ${s.signal} (${s.count}×), e.g. "${s.example}".`,
    evidence: { signal: s.signal, count: s.count },
  }));
};

const memoryRules: Rule = (e, t) => {
  const r = e.redis;
  if (!r)
    return e.redisError
      ? [
          {
            id: 'redis-unreachable',
            severity: 'critical',
            message: `Redis could not be diagnosed: ${e.redisError}`,
            evidence: {},
          },
        ]
      : [];
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
  if (maxmemory === 0) {
    out.push({
      id: 'maxmemory-unbounded',
      severity: limit ? 'critical' : 'warning',
      message: limit
        ? `maxmemory is 0 (unbounded): Redis grows until the kernel kills it at the ${mib(limit)} container limit.`
        : 'maxmemory is 0 (unbounded) and no container memory limit is known.',
      evidence: { maxmemory, ...(limit ? { memoryLimit: limit } : {}) },
    });
  } else if (limit && maxmemory > limit * t.maxmemoryShareOfLimit) {
    const room = limit - maxmemory;
    out.push({
      id: 'maxmemory-above-limit-share',
      severity: maxmemory >= limit ? 'critical' : 'warning',
      message: `maxmemory ${mib(maxmemory)} leaves ${mib(Math.max(room, 0))} of the ${mib(limit)} container limit for fork copy-on-write, buffers and fragmentation; keep it at or below ${pct(t.maxmemoryShareOfLimit)} of the limit (${mib(limit * t.maxmemoryShareOfLimit)}).`,
      evidence: { maxmemory, memoryLimit: limit },
    });
  }
  if (fragmentationRatio >= t.fragmentationRatio && usedMemoryRss - usedMemory > 64 * MiB) {
    out.push({
      id: 'fragmentation-high',
      severity: 'warning',
      message: `Fragmentation ratio ${fragmentationRatio.toFixed(2)}: RSS ${mib(usedMemoryRss)} against ${mib(usedMemory)} used (peak ${mib(r.memory.usedMemoryPeak)}).`,
      evidence: { fragmentationRatio, usedMemoryRss, usedMemory, usedMemoryPeak: r.memory.usedMemoryPeak },
    });
  }
  if (!r.writable) {
    out.push({
      id: 'writes-rejected',
      severity: 'critical',
      message: `A probe write failed: ${r.writeError ?? 'unknown error'}.`,
      evidence: { error: r.writeError ?? '' },
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
  return out;
};

const keyRules: Rule = (e, t) => {
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
  if (sk && sk.dead > t.sidekiqDeadMax) {
    out.push({
      id: 'sidekiq-dead-large',
      severity: 'warning',
      message: `The Sidekiq dead set holds ${sk.dead} jobs (above ${t.sidekiqDeadMax}).`,
      evidence: { dead: sk.dead, retry: sk.retry },
    });
  }
  for (const k of r.bigKeys.filter((b) => b.bytes >= t.bigKeyBytes)) {
    out.push({
      id: `big-key:${k.db}:${k.key}`,
      severity: 'info',
      message: `Key "${k.key}" (db ${k.db}, ${k.type}) takes ${mib(k.bytes)}.`,
      evidence: { key: k.key, db: k.db, type: k.type, bytes: k.bytes },
    });
  }
  return out;
};

const rules: Rule[] = [podRules, logRules, memoryRules, keyRules];
const order: Record<Finding['severity'], number> = { critical: 0, warning: 1, info: 2 };

/** Findings from the evidence, most severe first. Pure: the same evidence always gives the same findings. */
export function deriveFindings(evidence: Evidence, thresholds: Thresholds): Finding[] {
  return rules.flatMap((rule) => rule(evidence, thresholds)).sort((a, b) => order[a.severity] - order[b.severity]);
}
