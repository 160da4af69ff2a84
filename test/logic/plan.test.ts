import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { deriveFindings } from '../../workflows/logic/findings.js';
import { actionsNeedingApproval, buildPlan, hasJobQueueKeys, raisedMemoryLimit } from '../../workflows/logic/plan.js';
import type { RedisDiagnostics } from '../../activities/redis/types.js';
import type { Evidence } from '../../workflows/logic/findings.js';
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
  void it('offers a paced, capped UNLINK for each previewed cleanup pattern, and none for refused or empty ones', () => {
    const preview = {
      pattern: 'sess:tmp:*',
      keys: 1200,
      bytes: 3 * MiB,
      withTtl: 0,
      samples: ['sess:tmp:1', 'sess:tmp:2', 'sess:tmp:3'],
      dbKeys: 9000,
    };
    const e: Evidence = {
      ...seed(),
      cleanup: [
        preview,
        { ...preview, pattern: '*', refused: 'too broad' },
        { ...preview, pattern: 'gone:*', keys: 0 },
      ],
    };
    const findings = deriveFindings(e, thresholds);
    const p = buildPlan(e, findings, thresholds);
    const unlinks = p.actions.filter((a) => a.action.kind === 'unlink-keys');
    assert.deepEqual(
      unlinks.map((a) => a.action),
      [{ kind: 'unlink-keys', pattern: 'sess:tmp:*', maxKeys: thresholds.maxKeysPerAction }],
    );
    const unlink = unlinks[0]!;
    assert.deepEqual([unlink.id, unlink.risk, unlink.destructive], ['unlink-keys:sess:tmp:*', 'risky', true]);
    assert.match(unlink.summary, /1200 keys, 3\.0 MiB; e\.g\. sess:tmp:1, sess:tmp:2, sess:tmp:3; none has a TTL/);
    assert.ok(actionsNeedingApproval(p).includes(unlink.id));
    assert.deepEqual(
      findings.filter((f) => f.id.startsWith('cleanup-')).map((f) => [f.id, f.evidence['pattern']]),
      [
        ['cleanup-pattern-refused', '*'],
        ['cleanup-pattern-unmatched', 'gone:*'],
      ],
    );
    assert.notEqual(p.id, plan(seed()).id, 'a cleanup changes the plan id, so it needs its own approval');
  });

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

  void it('trims dead jobs past the age limit by score, cut at the server time the diagnosis read, with sidekiq.rb advice', () => {
    const serverTime = 1_800_000_000;
    const old = seed({
      sidekiq: { ...seedRedis().sidekiq!, dead: 5000, oldestDeadAgeSeconds: 400 * 86_400, serverTime },
    });
    const trim = action(old, 'trim-sidekiq-dead')!;
    assert.deepEqual(trim.action, {
      kind: 'trim-sorted-set',
      key: 'dead',
      keep: 10_000,
      maxScore: serverTime - 180 * 86_400,
    });
    assert.match(trim.summary, /jobs that died before 2026-07-19 \(180 days\) and all but the newest 10000/);
    const plan = buildPlan(old, deriveFindings(old, thresholds), thresholds);
    assert.ok(plan.appAdvice?.some((a) => a.includes('dead_timeout_in_seconds] = 180 * 24 * 60 * 60')));
    // The same evidence gives the same cut-off, so the plan's id (and what an approval names) holds.
    assert.equal(buildPlan(old, deriveFindings(old, thresholds), thresholds).id, plan.id);
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

  void describe('when the data itself does not fit under the limit', () => {
    /** 2000 MiB used under the seed's 2 GiB limit: above 75% of it (1536 MiB), so no maxmemory can help. */
    const tooBig = (memory: Partial<RedisDiagnostics['memory']> = {}) =>
      seed({ memory: { ...seedRedis().memory, usedMemory: 2000 * MiB, maxmemory: 2000 * MiB, ...memory } });

    void it('raises the limit to the smallest 256 MiB step that holds the data, last, and sizes maxmemory on it', () => {
      const p = plan(tooBig());
      assert.deepEqual(
        p.actions.map((a) => a.id),
        [
          'set-maxmemory',
          'set-maxmemory-policy',
          'expire-stat-keys',
          'memory-purge',
          'config-rewrite',
          'raise-memory-limit',
        ],
      );
      const raise = p.actions.at(-1)!;
      // 2000 / 0.75 = 2666.7 MiB: 2560 MiB would hold only 1920 MiB, 2816 MiB holds 2112 MiB.
      assert.deepEqual(raise.action, {
        kind: 'set-memory-limit',
        workload: { kind: 'StatefulSet', name: 'redis', namespace: 'cache' },
        container: 'redis',
        bytes: 2816 * MiB,
      });
      assert.equal(raise.risk, 'risky');
      assert.equal(raise.destructive, true);
      assert.match(raise.summary, /from 2048 MiB to 2816 MiB/);
      assert.ok(actionsNeedingApproval(p).includes('raise-memory-limit'));
      // maxmemory from the new limit: 75% of 2816 MiB, even though 2000 MiB was below it and raising it.
      assert.deepEqual(action(tooBig(), 'set-maxmemory')?.action, { kind: 'set-maxmemory', bytes: 2112 * MiB });
      assert.match(p.actions[0]!.summary, /of the 2816 MiB new limit/);
      assert.deepEqual(p.persistAdvice, [
        'maxmemory 2112mb',
        'maxmemory-policy volatile-lru',
        'resources.limits.memory 2816Mi',
      ]);
      assert.notEqual(p.id, plan(seed()).id);
    });

    void it('judges by the dataset when INFO has it, and sizes on all of used_memory', () => {
      const datasetFits = tooBig({ usedMemory: 1700 * MiB, usedMemoryDataset: 1500 * MiB });
      assert.equal(raisedMemoryLimit(datasetFits, thresholds), undefined);
      assert.equal(action(datasetFits, 'raise-memory-limit'), undefined);
      const datasetTooBig = tooBig({ usedMemory: 1700 * MiB, usedMemoryDataset: 1600 * MiB });
      // 1700 / 0.75 = 2266.7 MiB → 2304 MiB (holds 1728 MiB).
      assert.equal(raisedMemoryLimit(datasetTooBig, thresholds), 2304 * MiB);
    });

    void it('does not fire at exactly the share of the limit, nor for the seed', () => {
      assert.equal(raisedMemoryLimit(tooBig({ usedMemory: 1536 * MiB }), thresholds), undefined);
      assert.equal(raisedMemoryLimit(tooBig({ usedMemory: 1536 * MiB + 1 }), thresholds), 2304 * MiB);
      assert.equal(raisedMemoryLimit(seed(), thresholds), undefined);
      assert.equal(action(seed(), 'raise-memory-limit'), undefined);
    });

    void it('does not fire when the workload or the limit is unknown, and maxmemory stays on the old limit', () => {
      const e = tooBig();
      const noWorkload: Evidence = { ...e, limits: { ...e.limits!, workload: undefined } };
      const p = plan(noWorkload);
      assert.equal(
        p.actions.find((a) => a.action.kind === 'set-memory-limit'),
        undefined,
      );
      assert.deepEqual(action(noWorkload, 'set-maxmemory')?.action, { kind: 'set-maxmemory', bytes: 1536 * MiB });
      const noLimit: Evidence = { ...e, limits: { ...e.limits!, limits: {} } };
      assert.equal(action(noLimit, 'raise-memory-limit'), undefined);
    });
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
