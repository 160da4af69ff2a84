import type {
  LogClassification,
  LogSignal,
  PodDescription,
  ResourceLimits,
} from '../../activities/kubernetes/types.js';
import type { CleanupPreview, RedisDiagnostics } from '../../activities/redis/types.js';
import type { Thresholds } from '../../activities/settings/types.js';

/** Everything the diagnose steps gathered. A step that failed leaves its error instead of its evidence. */
export interface Evidence {
  pod?: PodDescription;
  podError?: string;
  logs?: LogClassification;
  limits?: ResourceLimits;
  limitsError?: string;
  redis?: RedisDiagnostics;
  redisError?: string;
  /** Previews of the cleanups the run was asked for, in the order asked. */
  cleanup?: CleanupPreview[];
}

export type Severity = 'critical' | 'warning' | 'info';

/** Every rule id a finding can carry: the plan and verification match on these, so a misspelt id fails to compile. */
export type FindingId =
  | 'pod-unavailable'
  | 'pod-oomkilled'
  | 'pod-crashloop'
  | 'probes-failing'
  | 'redis-unreachable'
  | 'noeviction-near-limit'
  | 'maxmemory-unbounded'
  | 'maxmemory-above-limit-share'
  | 'fragmentation-high'
  | 'writes-rejected'
  | 'connections-rejected'
  | 'evictions'
  | 'bgsave-failing'
  | 'aof-write-failing'
  | 'sidekiq-stat-no-ttl'
  | 'sidekiq-dead-large'
  | 'sidekiq-dead-old'
  | 'sidekiq-retry-large'
  | 'command-del-slow'
  | 'client-buffers-large'
  | 'memory-not-counted-for-evict'
  | 'clients-evicted'
  | 'latency-spikes'
  | 'liveness-kills-loading'
  | 'memory-request-below-limit'
  | 'image-latest'
  | 'sidecar-without-memory-limit'
  | 'data-dir-not-on-volume'
  | 'cleanup-pattern-refused'
  | 'cleanup-pattern-unmatched'
  | 'command-keys'
  | 'command-monitor'
  | 'command-flushall'
  | 'command-flushdb'
  | `log-${LogSignal}`
  | `big-key:${number}:${string}`
  | `no-ttl-prefix:${string}`;

export interface Finding {
  /** Stable rule id, e.g. `noeviction-near-limit`. */
  id: FindingId;
  severity: Severity;
  message: string;
  /** The figures the finding rests on. */
  evidence: Record<string, string | number | boolean>;
}

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
/** RSS above used memory that is worth a fragmentation finding (smaller gaps are allocator noise). */
const FRAGMENTATION_MIN_GAP = 64 * MiB;
/** Peak this many times the live memory: the RSS is the high-water mark of a past burst, not live fragmentation. */
const PEAK_OVER_USED = 1.5;
/** Mean µs per DEL above which DELs free big keys synchronously (UNLINK frees them in a background thread). */
const SLOW_DEL_USEC = 1000;

type Rule = (e: Evidence, t: Thresholds) => Finding[];

/** The one finding of a step that gathered no evidence, when it failed (rather than was skipped). */
function unavailable(id: FindingId, severity: Severity, what: string, error: string | undefined): Finding[] {
  return error ? [{ id, severity, message: `${what}: ${error}`, evidence: {} }] : [];
}

const podRules: Rule = (e) => {
  const pod = e.pod;
  if (!pod) return unavailable('pod-unavailable', 'warning', 'Could not describe the pod', e.podError);
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

/** `; failing most: A (12 dead, 3 retrying), B (…)`, from the sampled jobs' classes. */
function failing(sk: NonNullable<NonNullable<Evidence['redis']>['sidekiq']>): string {
  const top = (sk.failingClasses ?? []).slice(0, 3);
  if (top.length === 0) return '';
  return `; failing most (newest jobs): ${top.map((c) => `${c.name} (${c.dead} dead, ${c.retry} retrying)`).join(', ')}`;
}

const memoryRules: Rule = (e, t) => {
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

const cleanupRules: Rule = (e) =>
  (e.cleanup ?? []).flatMap((p): Finding[] => {
    if (p.refused)
      return [
        {
          id: 'cleanup-pattern-refused',
          severity: 'warning',
          message: `Cleanup of ${p.pattern} refused: the pattern is ${p.refused}.`,
          evidence: { pattern: p.pattern },
        },
      ];
    if (p.keys === 0)
      return [
        {
          id: 'cleanup-pattern-unmatched',
          severity: 'info',
          message: `Cleanup of ${p.pattern} asked for, but no key matches it among the ${p.dbKeys} keys of the db.`,
          evidence: { pattern: p.pattern, dbKeys: p.dbKeys },
        },
      ];
    return [];
  });

const commandRules: Rule = (e) => {
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

/** Share of used memory past which client buffers are a finding (and at least this much memory). */
const CLIENT_BUFFERS_SHARE = 0.1;
const CLIENT_BUFFERS_MIN = 32 * 1024 * 1024;
/** Share of maxmemory past which memory eviction does not count is a finding. */
const NOT_COUNTED_SHARE = 0.1;
/** A latency spike worth a finding, in ms. */
const LATENCY_SPIKE_MS = 100;

/** What newer servers (Redis 7) tell about client memory, memory eviction ignores, and latency spikes. */
const serverSignalRules: Rule = (e) => {
  const r = e.redis;
  const s = r?.signals;
  if (!r || !s) return [];
  const out: Finding[] = [];
  const used = r.memory.usedMemory;
  const clients = s.clientsMemory ?? 0;
  if (clients >= CLIENT_BUFFERS_MIN && clients >= used * CLIENT_BUFFERS_SHARE) {
    const largest = s.largestOutputBuffer
      ? `; the largest output buffer is ${mib(s.largestOutputBuffer.bytes)}, ${s.largestOutputBuffer.client}`
      : '';
    const cap =
      s.maxmemoryClients === '0'
        ? '; maxmemory-clients is 0 (unlimited): set it (e.g. 5%) so Redis drops the worst client instead of failing writes'
        : '';
    out.push({
      id: 'client-buffers-large',
      severity: 'warning',
      message: `Client buffers take ${mib(clients)} (${pct(clients / Math.max(used, 1))} of used memory): slow consumers (pub/sub, MONITOR, big replies) are filling memory${largest}${cap}.`,
      evidence: { clientsMemory: clients, usedMemory: used },
    });
  }
  const notCounted = s.notCountedForEvict ?? 0;
  const maxmemory = r.config.maxmemory;
  if (maxmemory > 0 && notCounted >= maxmemory * NOT_COUNTED_SHARE) {
    out.push({
      id: 'memory-not-counted-for-evict',
      severity: 'warning',
      message: `${mib(notCounted)} of replica and AOF buffers is not counted against maxmemory (${mib(maxmemory)}): used memory can pass maxmemory by that much, toward the container limit.`,
      evidence: { notCountedForEvict: notCounted, maxmemory },
    });
  }
  if ((s.evictedClients ?? 0) > 0) {
    out.push({
      id: 'clients-evicted',
      severity: 'warning',
      message: `Redis disconnected ${s.evictedClients} client(s) to keep client memory under maxmemory-clients (${s.maxmemoryClients ?? '?'}): those applications saw their connection drop.`,
      evidence: { evictedClients: s.evictedClients ?? 0 },
    });
  }
  const spikes = (s.latency ?? []).filter((l) => l.maxMs >= LATENCY_SPIKE_MS).sort((a, b) => b.maxMs - a.maxMs);
  if (spikes.length > 0) {
    out.push({
      id: 'latency-spikes',
      severity: 'warning',
      message: `The latency monitor saw spikes: ${spikes
        .slice(0, 3)
        .map((l) => `${l.event} up to ${l.maxMs} ms (latest ${l.latestMs} ms)`)
        .join(
          ', ',
        )}${spikes.some((l) => l.event === 'fork') ? '; a slow fork means a large dataset or too little free memory for BGSAVE' : ''}. LATENCY DOCTOR explains each.`,
      evidence: { events: spikes.length, worstMs: spikes[0]!.maxMs },
    });
  }
  return out;
};

/**
 * How the pod is set up (its spec, as `describePod` read it): a liveness probe that kills Redis while it loads its
 * data, a memory request below the limit, a floating image tag, a sidecar without a memory limit, the data directory
 * outside every volume. Each names the field to change and the value to put there.
 */
const deploymentRules: Rule = (e) => {
  const spec = e.pod?.spec;
  if (!spec) return [];
  const out: Finding[] = [];
  const redisName = e.limits?.container ?? spec.containers[0]?.name;
  const redis = spec.containers.find((c) => c.name === redisName) ?? spec.containers[0];
  if (!redis) return [];
  const workload = e.limits?.workload;
  const target = workload
    ? `${workload.kind.toLowerCase()}/${workload.name} -n ${workload.namespace}`
    : `the pod's owner`;
  const index = spec.containers.indexOf(redis);
  const load = e.logs?.loadSeconds;
  const live = redis.liveness;
  if (live && load !== undefined && !redis.startup) {
    // What the probe allows before it kills: the delay, then failureThreshold periods.
    const budget = live.initialDelaySeconds + live.periodSeconds * live.failureThreshold;
    if (budget < load * 1.5) {
      const delay = Math.ceil(load * 2);
      out.push({
        id: 'liveness-kills-loading',
        severity: 'critical',
        message: `The liveness probe gives Redis ${budget} s (initialDelaySeconds ${live.initialDelaySeconds} + ${live.failureThreshold} × periodSeconds ${live.periodSeconds}) but its last load took ${load} s: the kubelet kills it while it loads, a crash loop. Set livenessProbe.initialDelaySeconds to ${delay} (or add a startupProbe), with kubectl patch ${target} --type json -p '[{"op":"replace","path":"/spec/template/spec/containers/${index}/livenessProbe/initialDelaySeconds","value":${delay}}]'.`,
        evidence: { budgetSeconds: budget, loadSeconds: load, suggestedInitialDelaySeconds: delay },
      });
    }
  }
  if (redis.memoryLimitBytes !== undefined && (redis.memoryRequestBytes ?? 0) < redis.memoryLimitBytes) {
    out.push({
      id: 'memory-request-below-limit',
      severity: 'info',
      message: `Container ${redis.name} requests ${mib(redis.memoryRequestBytes ?? 0)} of memory under a ${mib(redis.memoryLimitBytes)} limit: under node memory pressure it is evicted before Guaranteed pods. Set resources.requests.memory to ${Math.round(redis.memoryLimitBytes / MiB)}Mi (equal to the limit).`,
      evidence: { requestBytes: redis.memoryRequestBytes ?? 0, limitBytes: redis.memoryLimitBytes },
    });
  }
  const tag = redis.image.includes('@') ? 'digest' : (/:([^:/]+)$/.exec(redis.image)?.[1] ?? 'latest');
  if (tag === 'latest') {
    out.push({
      id: 'image-latest',
      severity: 'warning',
      message: `Container ${redis.name} runs image ${redis.image} (tag latest): a restart can bring another Redis version than the data was written by. Pin the image to a version (e.g. redis:7.0.15).`,
      evidence: { image: redis.image },
    });
  }
  for (const c of spec.containers.filter((x) => x !== redis && x.memoryLimitBytes === undefined)) {
    out.push({
      id: 'sidecar-without-memory-limit',
      severity: 'warning',
      message: `Sidecar ${c.name} (${c.image}) has no memory limit: it competes with Redis for the node's memory, and the pod's total is unbounded. Set its resources.limits.memory.`,
      evidence: { container: c.name },
    });
  }
  const dir = e.redis?.config.dir;
  if (dir) {
    const onVolume = redis.mounts.some((m) => dir === m.path || dir.startsWith(`${m.path.replace(/\/$/, '')}/`));
    if (!onVolume)
      out.push({
        id: 'data-dir-not-on-volume',
        severity: 'warning',
        message: `Redis writes its data to ${dir}, which is on no volume of container ${redis.name}: every restart loses the RDB and AOF. Mount a PersistentVolumeClaim at ${dir} (volumeMounts).`,
        evidence: { dir },
      });
  }
  return out;
};

const rules: Rule[] = [
  podRules,
  logRules,
  memoryRules,
  keyRules,
  commandRules,
  serverSignalRules,
  deploymentRules,
  cleanupRules,
];
const order: Record<Finding['severity'], number> = { critical: 0, warning: 1, info: 2 };

/** Findings from the evidence, most severe first. Pure: the same evidence always gives the same findings. */
export function deriveFindings(evidence: Evidence, thresholds: Thresholds): Finding[] {
  return rules.flatMap((rule) => rule(evidence, thresholds)).sort((a, b) => order[a.severity] - order[b.severity]);
}
