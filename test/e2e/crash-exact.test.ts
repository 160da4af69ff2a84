/**
 * Promises that must hold when the worker dies: a real worker process, killed with SIGKILL at random moments (seeded:
 * KILL_SEED) during the BGSAVE, during the copy of the snapshot off the server, during the EXPIRE of 200,000 `stat:*` keys (KILL_COUNT times, 5 by default) and
 * during the dead-set trim and the UNLINK of an asked-for pattern, restarted each time. Asserts against Redis's own figures: one BGSAVE (INFO commandstats),
 * the exact count of keys given a TTL, the per-run cap held until a second approval, no key outside the pattern
 * touched, the dead set trimmed to exactly what the policy keeps.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Redis } from 'ioredis';
import { targetSlug } from '../../activities/backup/store.js';
import { markerKey } from '../../activities/redis/cleanup.js';
import { commandCalls, parseInfo, rdbStateOf } from '../../activities/redis/info.js';
import { readStatus, sendDecision, startRunbook } from '../../client/index.js';
import { startRedisServer, type RedisServer } from '../../local-servers/redis-server.js';
import type { SimulatedCluster } from '../../local-servers/simulated-cluster/index.js';
import { startSimulatedKubelet, type SimulatedKubelet } from '../../local-servers/simulated-kubelet.js';
import { installQuietRuntime } from '../../local-servers/temporal.js';
import { until } from './until.js';
import { killWorker as killProcess, startWorkerStack, type WorkerStack } from './worker-stack.js';
import type { RunbookReport, RunbookStatus } from '../../workflows/definitions.js';
import { toWorkflowId } from '../../workflows/definitions.js';

installQuietRuntime();

const STAT_KEYS = 200_000;
const CAP = 150_000;
const OTHER_KEYS = 1_000;
const TMP_KEYS = 100_000;
const UNLINK_KILLS = 2;
const UNLINK_ID = 'unlink-keys:tmp:*';
const DEAD = 20_000;
const KEEP = 1_000;
const KILLS = Number(process.env.KILL_COUNT ?? 5);
const SEED = Number(process.env.KILL_SEED ?? 20261202);
const TASK_QUEUE = 'crash-exact';

/** mulberry32: a small seeded PRNG, so a failing kill schedule can be replayed with its KILL_SEED. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('remediation survives SIGKILL of the worker at any moment', () => {
  const random = prng(SEED);
  let temporal: TestWorkflowEnvironment;
  let server: RedisServer;
  let redis: Redis;
  let cluster: SimulatedCluster;
  let kubelet: SimulatedKubelet | undefined;
  let probe: Redis | undefined;
  let stack: WorkerStack;
  let worker: ChildProcess | undefined;
  const kills: string[] = [];

  async function startWorker(): Promise<void> {
    worker = (await stack.startWorker()).child;
  }

  async function killWorker(why: string): Promise<void> {
    await killProcess(worker!);
    kills.push(why);
    await startWorker();
  }

  async function statusNow(): Promise<RunbookStatus> {
    return readStatus(temporal.client, temporal.client.workflow.getHandle(toWorkflowId('CRASH-1')), 20_000);
  }

  let run = '';
  /** The touched count of the progress marker of `actionId` in this run, if a batch of it ran. */
  async function markerTouched(actionId: string): Promise<number | undefined> {
    const touched = await redis.hget(markerKey(run, actionId), 'touched');
    return touched === null ? undefined : Number(touched);
  }

  /** Keys of `pattern` with a TTL and without, by SCAN and PTTL. */
  async function ttlCensus(pattern: string): Promise<{ withTtl: number; without: number }> {
    let cursor = '0';
    const census = { withTtl: 0, without: 0 };
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 5000);
      const pttls = (await keys.reduce((p, k) => p.pttl(k), redis.pipeline()).exec()) ?? [];
      for (const [, pttl] of pttls)
        if (pttl === -1) census.without++;
        else census.withTtl++;
      cursor = next;
    } while (cursor !== '0');
    return census;
  }

  before(async () => {
    server = await startRedisServer({ enableDebug: true });
    redis = new Redis({ host: server.host, port: server.port, maxRetriesPerRequest: 1 });
    await redis.call('DEBUG', 'POPULATE', String(STAT_KEYS), 'stat', '10');
    await redis.call('DEBUG', 'POPULATE', String(OTHER_KEYS), 'other', '10');
    await redis.call('DEBUG', 'POPULATE', String(TMP_KEYS), 'tmp', '10');
    // Jobs that died in the last few hours: within the age limit, so only the size limit trims them.
    const died = Number((await redis.time())[0]) - DEAD;
    for (let i = 0; i < DEAD; i += 5000) {
      const args = Array.from({ length: 5000 }, (_, j) => [died + i + j, `job-${i + j}`]).flat();
      await redis.zadd('dead', ...args);
    }
    // A slow save (µs per key), so that a kill lands while the fork writes.
    await redis.config('SET', 'rdb-key-save-delay', '15');
    stack = await startWorkerStack(TASK_QUEUE, [
      'approval: { approvers: ["sre@example.com"], timeoutSeconds: 600, reminderIntervalSeconds: 0, requireProof: false }',
      'verify: { windowSeconds: 1, intervalSeconds: 1 }',
      `thresholds: { maxKeysPerAction: ${CAP}, sidekiqDeadMax: ${KEEP}, cleanupP99TargetMs: 1000 }`,
    ]);
    ({ temporal, cluster } = stack);
    await startWorker();
  });

  after(async () => {
    await kubelet?.stop();
    probe?.disconnect();
    redis?.disconnect();
    await server?.stop();
    await stack?.stop();
  });

  it(`keeps one BGSAVE, exact counts and the cap across ${KILLS + UNLINK_KILLS + 3} kills (seed ${SEED})`, async () => {
    const started = await startRunbook(
      temporal.client,
      {
        incidentId: 'CRASH-1',
        startedBy: 'pagerduty',
        cleanup: ['tmp:*'],
        target: {
          namespace: 'cache',
          pod: 'redis-0',
          container: 'redis',
          redis: { host: server.host, port: server.port },
        },
      },
      { taskQueue: TASK_QUEUE },
    );
    const handle = temporal.client.workflow.getHandle(started.workflowId);
    run = `${started.workflowId}/${started.runId}`;

    // During the BGSAVE: the save goes on in Redis's fork; the retry must wait for it, not fork again.
    await until(
      'the BGSAVE',
      async () => rdbStateOf(parseInfo(await redis.info('persistence'))).inProgress || undefined,
    );
    await killWorker('during BGSAVE');
    // During the copy off the server: the killed attempt leaves at most a partial file; the retry starts over.
    const store = join(stack.backups, targetSlug(`cache/redis-0@${server.host}:${server.port}`));
    await until(
      'the copy off the server',
      async () => (await readdir(store).catch(() => [])).some((f) => f.endsWith('.partial')) || undefined,
    );
    await killWorker('during the backup copy');
    const waiting = await until('the approval', async () => {
      const s = await statusNow();
      return s.phase === 'awaiting-approval' ? s : undefined;
    });
    await redis.config('SET', 'rdb-key-save-delay', '0');
    assert.equal(waiting.backup?.confirmed, true, JSON.stringify(waiting.backup));
    assert.equal(waiting.backup?.copy?.verified, true);
    const files = await readdir(store);
    assert.deepEqual(
      files.filter((f) => !f.endsWith('.json')),
      [basename(waiting.backup.copy.path)],
      'one verified copy, no partial file that could pass for one',
    );
    const restored = waiting.backup.copy.restoreTest;
    assert.equal(restored.keys, restored.expectedKeys);
    assert.ok(restored.keys >= STAT_KEYS + OTHER_KEYS + TMP_KEYS, `${restored.keys} keys in the copy`);
    assert.equal(commandCalls(parseInfo(await redis.info('commandstats')))['bgsave'], 1, 'one fork for the backup');
    assert.ok(waiting.plan?.actions.some((a) => a.id === 'expire-stat-keys'));
    assert.match(waiting.plan?.actions.find((a) => a.id === UNLINK_ID)?.summary ?? '', /100000 keys/);
    // From here the kubelet's readiness probe reports what Redis does, so the verify window can pass.
    probe = new Redis({ host: server.host, port: server.port, maxRetriesPerRequest: 1 });
    kubelet = startSimulatedKubelet(cluster, { namespace: 'cache', pod: 'redis-0', container: 'redis', redis: probe });
    await sendDecision(
      temporal.client,
      handle,
      { decision: 'approve', by: 'sre@example.com', planId: waiting.plan!.id, via: 'test' },
      20_000,
    );

    // During the EXPIRE: each time a batch of the new attempt has run, wait a random moment and kill.
    let seen = 0;
    for (let i = 0; i < KILLS; i++) {
      seen = await until(`expire progress past ${seen}`, async () => {
        const touched = await markerTouched('expire-stat-keys');
        return touched !== undefined && touched > seen && touched < CAP ? touched : undefined;
      });
      await sleep(Math.floor(random() * 120));
      const at = (await markerTouched('expire-stat-keys')) ?? 0;
      if (at >= CAP) break;
      await killWorker(`during EXPIRE at ${at} keys`);
      // The next kill waits for a batch of the retry: past what the marker held when this one killed.
      seen = Math.max(at, (await markerTouched('expire-stat-keys')) ?? 0);
    }

    // At the cap the run asks again: nothing past the cap may have changed meanwhile.
    const continuation = await until('the continuation', async () => {
      const s = await statusNow();
      return s.phase === 'awaiting-approval' && s.plan?.id !== waiting.plan!.id ? s : undefined;
    });
    const first = continuation.results.find((r) => r.id === 'expire-stat-keys')!;
    assert.equal(first.keysTouched, CAP, first.detail);
    assert.equal(first.capReached, true);
    const atCap = await ttlCensus('stat:*');
    assert.deepEqual(atCap, { withTtl: CAP, without: STAT_KEYS - CAP }, 'Redis agrees, and the cap held');
    console.log(`# EXPIRE: reported ${first.keysTouched}, Redis shows ${atCap.withTtl} with a TTL, cap ${CAP}`);
    await sendDecision(
      temporal.client,
      handle,
      { decision: 'approve', by: 'sre@example.com', planId: continuation.plan!.id, via: 'test' },
      20_000,
    );

    // During the trim: kill once its first chunk has run.
    await until('the trim', () => markerTouched('trim-sidekiq-dead'));
    await sleep(Math.floor(random() * 20));
    await killWorker('during the dead-set trim');

    // During the UNLINK of the asked-for pattern: kill after a batch of each new attempt.
    let unlinked = 0;
    for (let i = 0; i < UNLINK_KILLS; i++) {
      unlinked = await until(`unlink progress past ${unlinked}`, async () => {
        const touched = await markerTouched(UNLINK_ID);
        return touched !== undefined && touched > unlinked && touched < TMP_KEYS ? touched : undefined;
      });
      await sleep(Math.floor(random() * 60));
      const at = (await markerTouched(UNLINK_ID)) ?? 0;
      if (at >= TMP_KEYS) break;
      await killWorker(`during UNLINK at ${at} keys`);
      unlinked = Math.max(at, (await markerTouched(UNLINK_ID)) ?? 0);
    }

    const report: RunbookReport = await handle.result();
    assert.equal(report.outcome, 'resolved', report.summary);
    const byId = new Map(report.results.map((r) => [r.id, r]));
    assert.equal(byId.get('expire-stat-keys+1')?.keysTouched, STAT_KEYS - CAP, 'the continuation counts the rest');
    assert.equal(byId.get('trim-sidekiq-dead')?.keysTouched, DEAD - KEEP, byId.get('trim-sidekiq-dead')?.detail);
    assert.deepEqual(await ttlCensus('stat:*'), { withTtl: STAT_KEYS, without: 0 });
    assert.deepEqual(await ttlCensus('other:*'), { withTtl: 0, without: OTHER_KEYS }, 'no key outside the pattern');
    assert.equal(byId.get(UNLINK_ID)?.keysTouched, TMP_KEYS, byId.get(UNLINK_ID)?.detail);
    assert.deepEqual(await ttlCensus('tmp:*'), { withTtl: 0, without: 0 }, 'every tmp key unlinked');
    assert.equal(await redis.zcard('dead'), KEEP);
    assert.equal(commandCalls(parseInfo(await redis.info('commandstats')))['bgsave'], 1);
    assert.ok(kills.length >= 3, kills.join('; '));
    console.log(`# kills (seed ${SEED}): ${kills.join('; ')}`);
  });
});
