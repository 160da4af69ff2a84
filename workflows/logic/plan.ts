import type { Thresholds } from '../../activities/settings/types.js';
import type { PlannedAction, RemediationPlan } from './actions.js';
import type { Evidence, Finding, FindingId } from './findings.js';
import { contentId } from './plan-id.js';

const MiB = 1024 * 1024;

/** Round down to whole MiB, so the value reads well in redis.conf and Helm values. */
function wholeMib(bytes: number): number {
  return Math.floor(bytes / MiB) * MiB;
}

/** Step of a raised memory limit: coarse enough to read well in a manifest, fine enough not to waste a node. */
const LIMIT_STEP = 256 * MiB;

/**
 * The memory limit to raise to when the data itself does not fit under `maxmemory` (the dataset, or used memory when
 * INFO has no dataset figure, is above `limit * share`): lowering or keeping maxmemory cannot help then, and Redis would
 * evict or refuse writes forever. The smallest multiple of 256 MiB whose share holds all of `used_memory`, or undefined
 * when the data fits or the limit is unknown.
 */
export function raisedMemoryLimit(evidence: Evidence, t: Thresholds): number | undefined {
  const limit = evidence.limits?.limits.memoryBytes;
  const m = evidence.redis?.memory;
  if (!limit || !m || t.maxmemoryShareOfLimit <= 0) return undefined;
  const data = m.usedMemoryDataset ?? m.usedMemory;
  if (data <= limit * t.maxmemoryShareOfLimit) return undefined;
  // Sized on all of used_memory, not just the dataset: maxmemory counts the overhead too.
  return Math.ceil(m.usedMemory / t.maxmemoryShareOfLimit / LIMIT_STEP) * LIMIT_STEP;
}

/** Whether job-queue keys (Sidekiq) share the instance: an allkeys-* policy could then evict jobs. */
export function hasJobQueueKeys(evidence: Evidence): boolean {
  const r = evidence.redis;
  if (!r) return false;
  if (r.sidekiq) return true;
  return r.prefixes.some((p) => p.prefix.startsWith('queue:') || p.prefix.startsWith('sidekiq'));
}

/**
 * The remediation plan for the findings. Pure: the plan and its id depend only on the evidence and thresholds, so
 * the same evidence gives the same plan id and a changed one needs a new approval.
 */
export function buildPlan(
  evidence: Evidence,
  findings: Finding[],
  t: Thresholds,
  { withoutRedis = false, probeAction = false }: { withoutRedis?: boolean; probeAction?: boolean } = {},
): RemediationPlan {
  const has = (id: FindingId) => findings.some((f) => f.id === id);
  const r = evidence.redis;
  const actions: PlannedAction[] = [];
  const persistAdvice: string[] = [];
  const probe = (destructive: boolean) => (probeAction ? livenessDelayAction(evidence, findings, destructive) : []);
  if (!r && withoutRedis) return withOutsideAdvice(kubernetesOnlyPlan(evidence, has, probe(false)), findings);
  if (!r) return { id: contentId('plan', { actions }), actions, persistAdvice };

  const oldLimit = evidence.limits?.limits.memoryBytes;
  const workload = evidence.limits?.workload;
  const container = evidence.limits?.container;
  const raised = workload && container ? raisedMemoryLimit(evidence, t) : undefined;
  // maxmemory is sized for the limit the pods will run under, the raised one when the limit goes up.
  const limit = raised ?? oldLimit;
  const writesBlocked = has('noeviction-near-limit') || has('writes-rejected');

  if (limit) {
    const target = wholeMib(limit * t.maxmemoryShareOfLimit);
    const current = r.memory.maxmemory;
    // With a raised limit, a lower maxmemory was sized for the old limit and would keep the data from fitting.
    if (current === 0 || current > target || ((writesBlocked || raised !== undefined) && current < target)) {
      const of = raised === undefined ? 'limit' : 'new limit';
      actions.push({
        id: 'set-maxmemory',
        risk: 'risky',
        destructive: false,
        summary: `CONFIG SET maxmemory ${target} (${target / MiB} MiB, ${Math.round(t.maxmemoryShareOfLimit * 100)}% of the ${(limit / MiB).toFixed(0)} MiB ${of}; was ${(current / MiB).toFixed(0)} MiB)`,
        action: { kind: 'set-maxmemory', bytes: target },
      });
      persistAdvice.push(`maxmemory ${target / MiB}mb`);
    }
  }

  if (writesBlocked && r.memory.maxmemoryPolicy === 'noeviction') {
    const jobs = hasJobQueueKeys(evidence);
    const policy = jobs ? 'volatile-lru' : 'allkeys-lru';
    const keys = r.keyspace.reduce((sum, d) => sum + d.keys, 0);
    const expires = r.keyspace.reduce((sum, d) => sum + d.expires, 0);
    // volatile-lru can only evict what has a TTL: say how little that may be, so nobody expects miracles from it.
    const evictable = `${expires} of ${keys} keys have a TTL today`;
    actions.push({
      id: 'set-maxmemory-policy',
      risk: 'risky',
      destructive: true,
      summary: jobs
        ? `CONFIG SET maxmemory-policy volatile-lru: Sidekiq job keys share this instance, and allkeys-lru could evict queued jobs; only keys with a TTL become evictable (${evictable}). Better still: split the instance, Sidekiq on its own with noeviction, the cache on its own with allkeys-lru`
        : 'CONFIG SET maxmemory-policy allkeys-lru: a pure cache (no job-queue keys seen), any key may be evicted under pressure',
      action: { kind: 'set-maxmemory-policy', policy },
    });
    persistAdvice.push(`maxmemory-policy ${policy}`);
  }

  const sk = r.sidekiq;
  if (sk && sk.statKeysWithoutTtl > 0) {
    const days = Math.round(t.statKeyTtlSeconds / 86400);
    actions.push({
      id: 'expire-stat-keys',
      risk: 'risky',
      destructive: true,
      summary: `EXPIRE stat:* keys that have no TTL (${sk.statKeysWithoutTtl} keys) with a ${days}-day retention, at most ${t.maxKeysPerAction} keys`,
      action: { kind: 'expire-keys', pattern: 'stat:*', ttlSeconds: t.statKeyTtlSeconds, maxKeys: t.maxKeysPerAction },
    });
  }
  const tooOld = has('sidekiq-dead-old') && sk?.serverTime !== undefined && t.sidekiqDeadMaxAgeDays !== undefined;
  if (sk && (sk.dead > t.sidekiqDeadMax || tooOld)) {
    // Both limits remove from the oldest end: by rank beyond the newest `keep`, by score (death time) past the age.
    const maxScore = tooOld ? sk.serverTime! - t.sidekiqDeadMaxAgeDays! * 86400 : undefined;
    const byAge =
      maxScore !== undefined
        ? `jobs that died before ${new Date(maxScore * 1000).toISOString().slice(0, 10)} (${t.sidekiqDeadMaxAgeDays} days) and `
        : '';
    actions.push({
      id: 'trim-sidekiq-dead',
      risk: 'risky',
      destructive: true,
      summary: `Trim the Sidekiq dead set (${sk.dead} jobs) to what the policy keeps: ${byAge}all but the newest ${t.sidekiqDeadMax}`,
      action: {
        kind: 'trim-sorted-set',
        key: 'dead',
        keep: t.sidekiqDeadMax,
        ...(maxScore !== undefined ? { maxScore } : {}),
      },
    });
  }
  const appAdvice =
    sk && t.sidekiqDeadMaxAgeDays !== undefined && (tooOld || sk.dead > t.sidekiqDeadMax || sk.retry > t.sidekiqDeadMax)
      ? [
          `sidekiq.rb: config[:dead_timeout_in_seconds] = ${t.sidekiqDeadMaxAgeDays} * 24 * 60 * 60`,
          `sidekiq.rb: config[:dead_max_jobs] = ${t.sidekiqDeadMax}`,
          'sidekiq.rb: a lower sidekiq_options retry: (25 by default) for jobs that fail for good, so they leave the retry set sooner',
        ]
      : [];
  for (const p of evidence.cleanup ?? []) {
    if (p.refused || p.keys === 0) continue;
    const ttl = p.withTtl > 0 ? `; ${p.withTtl} of them have a TTL` : '; none has a TTL';
    actions.push({
      id: `unlink-keys:${p.pattern}`,
      risk: 'risky',
      destructive: true,
      summary: `UNLINK keys matching ${p.pattern} (${p.keys} keys, ${(p.bytes / MiB).toFixed(1)} MiB; e.g. ${p.samples.join(', ')}${ttl}), paced, at most ${t.maxKeysPerAction} keys`,
      action: { kind: 'unlink-keys', pattern: p.pattern, maxKeys: t.maxKeysPerAction },
    });
  }
  if (has('fragmentation-high') || actions.some((a) => a.destructive)) {
    actions.push({
      id: 'memory-purge',
      risk: 'safe',
      destructive: false,
      summary: 'MEMORY PURGE: return freed allocator pages to the OS',
      action: { kind: 'memory-purge' },
    });
  }
  if (persistAdvice.length > 0) {
    actions.push({
      id: 'config-rewrite',
      risk: 'risky',
      destructive: false,
      summary: 'CONFIG REWRITE so the new settings survive a restart (where redis.conf is writable)',
      action: { kind: 'config-rewrite' },
    });
  }
  // Last, the patches that roll the pods: the Redis changes above run on the live process and, rewritten to
  // redis.conf, come back with the new pod; placed first, they would hit a pod being replaced.
  actions.push(...probe(true));
  if (raised !== undefined && workload && container && oldLimit) {
    const mib = raised / MiB;
    actions.push({
      id: 'raise-memory-limit',
      risk: 'risky',
      destructive: true,
      summary: `Raise ${workload.kind} ${workload.namespace}/${workload.name} container ${container} memory limit from ${(oldLimit / MiB).toFixed(0)} MiB to ${mib} MiB: the data (${(r.memory.usedMemory / MiB).toFixed(0)} MiB used) does not fit under ${Math.round(t.maxmemoryShareOfLimit * 100)}% of the current limit; the pods restart to take it`,
      action: { kind: 'set-memory-limit', workload, container, bytes: raised },
    });
    persistAdvice.push(`resources.limits.memory ${mib}Mi`);
  }
  const content = actions.map(({ id, risk, destructive, action }) => ({ id, risk, destructive, action }));
  return withOutsideAdvice(
    { id: contentId('plan', content), actions, persistAdvice, ...(appAdvice.length ? { appAdvice } : {}) },
    findings,
  );
}

/**
 * The probe fix as an approvable action: the liveness probe's initial delay raised to what the last load needs. It
 * rolls the pods, so it needs a backup first when Redis holds data (`destructive`), not when it crash-loops anyway.
 */
function livenessDelayAction(evidence: Evidence, findings: Finding[], destructive: boolean): PlannedAction[] {
  const finding = findings.find((f) => f.id === 'liveness-kills-loading');
  const delay = finding?.evidence['suggestedInitialDelaySeconds'];
  const workload = evidence.limits?.workload;
  const container = evidence.limits?.container;
  if (typeof delay !== 'number' || !workload || !container) return [];
  return [
    {
      id: 'delay-liveness-probe',
      risk: 'risky',
      destructive,
      summary: `Set ${workload.kind} ${workload.namespace}/${workload.name} container ${container} livenessProbe.initialDelaySeconds to ${delay} s (twice the ${String(finding!.evidence['loadSeconds'])} s its last load took), so the kubelet stops killing Redis while it loads; the pods restart to take it`,
      action: { kind: 'set-liveness-delay', workload, container, initialDelaySeconds: delay },
    },
  ];
}

/** Findings no Redis or pod-template action fixes: the node's. The plan says so, so nobody expects it to. */
const OUTSIDE_REDIS: ReadonlySet<FindingId> = new Set([
  'node-not-ready',
  'node-memory-pressure',
  'node-disk-pressure',
  'node-pid-pressure',
  'node-oom-events',
  'node-overcommitted',
  'node-memory-high',
]);

function withOutsideAdvice(plan: RemediationPlan, findings: Finding[]): RemediationPlan {
  const outside = findings.filter((f) => OUTSIDE_REDIS.has(f.id));
  if (outside.length === 0) return plan;
  return {
    ...plan,
    outsideAdvice: [
      `This plan does not fix the node: ${outside.map((f) => f.id).join(', ')}. A CONFIG SET, a cleanup or a new limit changes Redis, not the node's memory or disk; drain or cordon the node (kubectl drain), or free it of other pods, and see its events (kubectl describe node).`,
    ],
  };
}

/** How much a limit grows when Redis is down and the data's size is unknown: half again, in 256 MiB steps. */
const BLIND_LIMIT_FACTOR = 1.5;

/**
 * The plan when Redis cannot be reached (the usual state of a crash-looping pod): what the Kubernetes evidence alone
 * supports. A container killed for memory gets a higher limit, sized on the data Redis last loaded (its log says) or,
 * without that, half again the limit. Anything else is for a person.
 */
function kubernetesOnlyPlan(
  evidence: Evidence,
  has: (id: FindingId) => boolean,
  probe: PlannedAction[],
): RemediationPlan {
  const actions: PlannedAction[] = [...probe];
  const persistAdvice: string[] = [];
  const limit = evidence.limits?.limits.memoryBytes;
  const workload = evidence.limits?.workload;
  const container = evidence.limits?.container;
  if (has('pod-oomkilled') && limit && workload && container) {
    const loaded = evidence.logs?.loadedDataBytes;
    // The loaded data plus Redis's overhead and a fork's copy-on-write: twice the data, at least half again the limit.
    const wanted = Math.max(limit * BLIND_LIMIT_FACTOR, loaded ? loaded * 2 : 0);
    const raised = Math.ceil(wanted / LIMIT_STEP) * LIMIT_STEP;
    const mib = raised / MiB;
    const basis = loaded
      ? `the last RDB load reported ${(loaded / MiB).toFixed(0)} MiB of data (twice that leaves room for overhead and a fork)`
      : `the data's size is unknown, so half again`;
    actions.push({
      id: 'raise-memory-limit',
      risk: 'risky',
      // Not destructive here: the pod crash-loops already, so its restart loses nothing it holds; Redis comes back
      // from the data on its volume, as it does at each crash.
      destructive: false,
      summary: `Raise ${workload.kind} ${workload.namespace}/${workload.name} container ${container} memory limit from ${(limit / MiB).toFixed(0)} MiB to ${mib} MiB: Redis cannot be reached and the container was killed for memory; ${basis}. The pods restart to take it, and the run diagnoses Redis once the pod is up`,
      action: { kind: 'set-memory-limit', workload, container, bytes: raised },
    });
    persistAdvice.push(`resources.limits.memory ${mib}Mi`);
  }
  const content = actions.map(({ id, risk, destructive, action }) => ({ id, risk, destructive, action }));
  return { id: contentId('plan', content), actions, persistAdvice };
}

/** Ids of the actions a human must approve. */
export function actionsNeedingApproval(plan: RemediationPlan): string[] {
  return plan.actions.filter((a) => a.risk === 'risky').map((a) => a.id);
}
