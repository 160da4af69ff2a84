import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { deriveFindings } from '../../workflows/logic/findings.js';
import { actionsNeedingApproval, buildPlan, hasJobQueueKeys } from '../../workflows/logic/plan.js';
import type { Evidence, RedisDiagnostics } from '../../workflows/types.js';
import { seedLimits, seedPod, seedRedis, testSettings } from '../workflows/fixtures.js';

const MiB = 1024 * 1024;
const thresholds = testSettings().thresholds;

/** The seed at scale 1: 5,000 dead jobs, below the dead-set limit. */
function seed(redis: Partial<RedisDiagnostics> = {}): Evidence {
  const r = seedRedis();
  return {
    pod: seedPod(),
    limits: seedLimits(),
    redis: { ...r, sidekiq: { ...r.sidekiq!, dead: 5000 }, ...redis },
  };
}

/** The same crash on a pure cache: no Sidekiq keys at all. */
function cache(): Evidence {
  return seed({
    sidekiq: undefined,
    prefixes: [{ prefix: 'Course#', keys: 4, bytes: 2 * MiB, keysWithoutTtl: 4 }],
    bigKeys: [],
  });
}

const plan = (e: Evidence, t = thresholds) => buildPlan(e, deriveFindings(e, t), t);
const action = (e: Evidence, id: string) => plan(e).actions.find((a) => a.id === id);

void describe('buildPlan', () => {
  void it("plans the seed's remedies, in order", () => {
    const p = plan(seed());
    assert.deepEqual(
      p.actions.map((a) => a.id),
      ['set-maxmemory', 'set-maxmemory-policy', 'expire-stat-keys', 'memory-purge', 'config-rewrite'],
    );
    assert.deepEqual(actionsNeedingApproval(p), [
      'set-maxmemory',
      'set-maxmemory-policy',
      'expire-stat-keys',
      'config-rewrite',
    ]);
    assert.deepEqual(action(seed(), 'set-maxmemory')?.action, { kind: 'set-maxmemory', bytes: 1536 * MiB });
    assert.deepEqual(p.persistAdvice, ['maxmemory 1536mb', 'maxmemory-policy volatile-lru']);
  });

  void it('trims the dead set only above its limit', () => {
    assert.equal(action(seed(), 'trim-sidekiq-dead'), undefined);
    const big = seed({ sidekiq: { ...seedRedis().sidekiq!, dead: 15_000 } });
    assert.deepEqual(action(big, 'trim-sidekiq-dead')?.action, { kind: 'trim-sorted-set', key: 'dead', keep: 10_000 });
  });

  void it('prefers volatile-lru where Sidekiq shares the instance, and says to split it', () => {
    assert.equal(hasJobQueueKeys(seed()), true);
    const policy = action(seed(), 'set-maxmemory-policy')!;
    assert.deepEqual(policy.action, { kind: 'set-maxmemory-policy', policy: 'volatile-lru' });
    assert.match(policy.summary, /allkeys-lru could evict queued jobs/);
    assert.match(policy.summary, /split the instance/);
    assert.match(policy.summary, /300 of 10500 keys have a TTL/);
  });

  void it('chooses allkeys-lru for a pure cache', () => {
    assert.equal(hasJobQueueKeys(cache()), false);
    const policy = action(cache(), 'set-maxmemory-policy')!;
    assert.deepEqual(policy.action, { kind: 'set-maxmemory-policy', policy: 'allkeys-lru' });
    assert.match(policy.summary, /pure cache/);
  });

  void it('treats queue:* keys as job-queue keys even without the Sidekiq markers', () => {
    const e = seed({ sidekiq: undefined, prefixes: [{ prefix: 'queue:', keys: 2, bytes: 1000, keysWithoutTtl: 2 }] });
    assert.deepEqual(action(e, 'set-maxmemory-policy')?.action, {
      kind: 'set-maxmemory-policy',
      policy: 'volatile-lru',
    });
  });

  void it('leaves the policy alone when writes are not blocked', () => {
    const calm = seed({
      memory: { ...seedRedis().memory, usedMemory: 10 * MiB },
      writable: true,
      writeError: undefined,
    });
    assert.equal(action(calm, 'set-maxmemory-policy'), undefined);
  });

  void it('plans nothing without Redis evidence', () => {
    assert.deepEqual(plan({ pod: seedPod(), redisError: 'unreachable' }).actions, []);
  });

  void it('gives equal evidence the same plan id, and a different plan a different id', () => {
    const a = plan(seed());
    const b = plan(structuredClone(seed({ collectedAt: '2030-01-01T00:00:00.000Z' })));
    assert.equal(a.id, b.id, 'when the evidence was collected does not change the plan');
    assert.match(a.id, /^plan-[0-9a-f]{12}$/);
    const cachePlan = plan(cache());
    assert.notEqual(cachePlan.id, a.id, 'allkeys-lru instead of volatile-lru');
    assert.notEqual(plan(seed(), { ...thresholds, maxKeysPerAction: 5 }).id, a.id, 'another cap');
    assert.notEqual(plan(seed({ sidekiq: { ...seedRedis().sidekiq!, dead: 15_000 } })).id, a.id, 'one more action');
  });
});
