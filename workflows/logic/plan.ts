import type { Evidence, Finding, PlannedAction, RemediationPlan, Thresholds } from '../types.js';
import { contentId } from './plan-id.js';

const MiB = 1024 * 1024;

/** Round down to whole MiB, so the value reads well in redis.conf and Helm values. */
function wholeMib(bytes: number): number {
  return Math.floor(bytes / MiB) * MiB;
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
export function buildPlan(evidence: Evidence, findings: Finding[], t: Thresholds): RemediationPlan {
  const has = (id: string) => findings.some((f) => f.id === id);
  const r = evidence.redis;
  const actions: PlannedAction[] = [];
  const persistAdvice: string[] = [];
  if (!r) return { id: contentId('plan', { actions }), actions, persistAdvice };

  const limit = evidence.limits?.limits.memoryBytes;
  const writesBlocked = has('noeviction-near-limit') || has('writes-rejected');

  if (limit) {
    const target = wholeMib(limit * t.maxmemoryShareOfLimit);
    const current = r.memory.maxmemory;
    if (current === 0 || current > target || (writesBlocked && current < target)) {
      actions.push({
        id: 'set-maxmemory',
        risk: 'risky',
        destructive: false,
        summary: `CONFIG SET maxmemory ${target} (${target / MiB} MiB, ${Math.round(t.maxmemoryShareOfLimit * 100)}% of the ${(limit / MiB).toFixed(0)} MiB limit; was ${(current / MiB).toFixed(0)} MiB)`,
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
  if (sk && sk.dead > t.sidekiqDeadMax) {
    actions.push({
      id: 'trim-sidekiq-dead',
      risk: 'risky',
      destructive: true,
      summary: `Trim the Sidekiq dead set from ${sk.dead} to the newest ${t.sidekiqDeadMax} jobs`,
      action: { kind: 'trim-sorted-set', key: 'dead', keep: t.sidekiqDeadMax },
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
  const content = actions.map(({ id, risk, destructive, action }) => ({ id, risk, destructive, action }));
  return { id: contentId('plan', content), actions, persistAdvice };
}

/** Ids of the actions a human must approve. */
export function actionsNeedingApproval(plan: RemediationPlan): string[] {
  return plan.actions.filter((a) => a.risk === 'risky').map((a) => a.id);
}
