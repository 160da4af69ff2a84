/**
 * Evidence of the seed crash (an OOMKilled, crash-looping Redis with noeviction at its maxmemory and Sidekiq keys),
 * and test doubles of the activities built from it. The doubles are for workflow-logic tests on the time-skipping
 * server only; every real activity is tested against a real server elsewhere.
 */
import type {
  ClaimSummary,
  NodeDescription,
  PodDescription,
  PodHealthSample,
  ResourceLimits,
} from '../../activities/kubernetes/types.js';
import type { RunbookEvent } from '../../activities/notify/events.js';
import type { BackupCopy, BackupResult, RedisDiagnostics } from '../../activities/redis/types.js';
import type { RunbookSettings } from '../../activities/settings/types.js';
import type { ActionResult } from '../../workflows/logic/actions.js';
import { Client } from '@temporalio/client';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { createIdentityActivities, type IdentityPolicy } from '../../activities/identity/index.js';
import { createTemporalActivities } from '../../activities/temporal/index.js';

const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

export function seedPod(): PodDescription {
  return {
    namespace: 'cache',
    name: 'redis-0',
    phase: 'Running',
    ready: false,
    conditions: [{ type: 'Ready', status: 'False', reason: 'ContainersNotReady' }],
    containers: [
      {
        name: 'redis',
        ready: false,
        restartCount: 14,
        state: { state: 'waiting', reason: 'CrashLoopBackOff' },
        lastState: { state: 'terminated', reason: 'OOMKilled', exitCode: 137 },
      },
    ],
    events: [{ type: 'Warning', reason: 'BackOff', message: 'Back-off restarting failed container', count: 40 }],
    failedProbes: 3,
    owner: { kind: 'StatefulSet', name: 'redis' },
  };
}

export function seedLimits(): ResourceLimits {
  return {
    container: 'redis',
    requests: { memoryBytes: GiB },
    limits: { memoryBytes: 2 * GiB },
    workload: { kind: 'StatefulSet', name: 'redis', namespace: 'cache' },
  };
}

export function seedRedis(overrides: Partial<RedisDiagnostics> = {}): RedisDiagnostics {
  return {
    collectedAt: '2026-11-23T00:00:00.000Z',
    version: '7.0.15',
    memory: {
      usedMemory: 99 * MiB,
      usedMemoryRss: 110 * MiB,
      usedMemoryPeak: 100 * MiB,
      fragmentationRatio: 1.1,
      maxmemory: 100 * MiB,
      maxmemoryPolicy: 'noeviction',
    },
    keyspace: [{ db: 0, keys: 10500, expires: 300 }],
    stats: { evictedKeys: 0, expiredKeys: 10, keyspaceHits: 100, keyspaceMisses: 5, rejectedConnections: 0 },
    clients: { connectedClients: 12, blockedClients: 0 },
    persistence: {
      rdbLastBgsaveStatus: 'ok',
      rdbLastSaveTime: 1,
      rdbBgsaveInProgress: false,
      rdbChangesSinceLastSave: 100,
      aofEnabled: false,
    },
    config: { maxmemory: 100 * MiB, maxmemoryPolicy: 'noeviction' },
    bigKeys: [{ key: 'dead', db: 0, type: 'zset', bytes: 3 * MiB, ttlSeconds: -1 }],
    prefixes: [{ prefix: 'stat:', keys: 5000, bytes: 400_000, keysWithoutTtl: 5000 }],
    sidekiq: {
      retry: 200,
      dead: 15000,
      schedule: 0,
      queues: [{ name: 'default', length: 20 }],
      statKeys: 5000,
      statKeysWithoutTtl: 5000,
    },
    scannedKeys: 10500,
    writable: false,
    writeError: "OOM command not allowed when used memory > 'maxmemory'.",
    ...overrides,
  };
}

/** What the seed looks like once the plan ran: room below maxmemory, volatile-lru, writes succeed. */
export function fixedRedis(): RedisDiagnostics {
  const before = seedRedis();
  return seedRedis({
    memory: { ...before.memory, maxmemory: 1536 * MiB, maxmemoryPolicy: 'volatile-lru' },
    config: { maxmemory: 1536 * MiB, maxmemoryPolicy: 'volatile-lru' },
    sidekiq: { ...before.sidekiq!, dead: 10000, statKeysWithoutTtl: 0 },
    prefixes: [{ prefix: 'stat:', keys: 5000, bytes: 400_000, keysWithoutTtl: 0 }],
    writable: true,
    writeError: undefined,
  });
}

export function testSettings(
  overrides: {
    approval?: Partial<RunbookSettings['approval']>;
    verify?: Partial<RunbookSettings['verify']>;
    cooldown?: RunbookSettings['cooldown'];
  } = {},
): RunbookSettings {
  return {
    ...(overrides.cooldown ? { cooldown: overrides.cooldown } : {}),
    approval: {
      approvers: ['alice@example.com', 'bob@example.com'],
      requireDifferentApprover: true,
      timeoutSeconds: 3600,
      reminderIntervalSeconds: 900,
      onTimeout: 'reject',
      ...overrides.approval,
    },
    verify: { windowSeconds: 300, intervalSeconds: 30, ...overrides.verify },
    thresholds: {
      memoryNearLimitRatio: 0.9,
      maxmemoryShareOfLimit: 0.75,
      fragmentationRatio: 1.5,
      bigKeyBytes: 10 * MiB,
      statKeyTtlSeconds: 90 * 86400,
      sidekiqDeadMax: 10000,
      sidekiqDeadMaxAgeDays: 180,
      maxKeysPerAction: 100000,
      cleanupP99TargetMs: 5,
      scanP99TargetMs: 5,
    },
    temporalUiUrl: 'http://localhost:8233',
    namespace: 'default',
  };
}

/** Calls the doubles saw, by activity name, in order. */
export interface Recorder {
  calls: Array<{ name: string; args: unknown[] }>;
  events: RunbookEvent[];
  named(name: string): unknown[][];
}

export interface FakeOptions {
  settings?: RunbookSettings;
  backup?: BackupResult | Error;
  /** The copy off the server: verified unless given (an Error makes the activity fail). */
  copy?: Partial<BackupCopy> | Error;
  /** Restart counts podHealth returns, one per call (the last repeats). */
  restartCounts?: number[];
  ready?: boolean;
  /** What the first diagnosis finds (the seed by default). */
  before?: RedisDiagnostics;
  after?: RedisDiagnostics;
  failAction?: string;
  /** This action stops at its cap (more left to do) the first time it runs. */
  capReachedOnce?: string;
  /** Every diagnosis finds the first one's Redis (no remediation fixes it). */
  stillBroken?: boolean;
  /** How long the notifier takes for each event (to answer out of order). */
  notifyDelayMs?: (event: RunbookEvent) => number;
  identity?: IdentityPolicy;
  /** An action that runs until it is cancelled, heartbeating. */
  blockAction?: string;
  /** The first diagnosis cannot reach Redis (a crash-looping pod); later ones find `after`. */
  unreachableFirst?: boolean;
  /** The pod as described (the seed by default). */
  pod?: PodDescription;
  /** The data size the previous log reports (`RDB memory usage when created`). */
  loadedDataBytes?: number;
  /** How long the last load took, as the previous log reports it (`DB loaded from disk`). */
  loadSeconds?: number;
  /** The node describeNode finds (a healthy one unless given). */
  node?: NodeDescription;
}

/** A healthy node with room to spare and live figures. */
export function healthyNode(name = 'node-a'): NodeDescription {
  return {
    name,
    conditions: [
      { type: 'MemoryPressure', status: 'False' },
      { type: 'DiskPressure', status: 'False' },
      { type: 'PIDPressure', status: 'False' },
      { type: 'Ready', status: 'True' },
    ],
    allocatableMemoryBytes: 16 * GiB,
    capacityMemoryBytes: 16 * GiB,
    pods: {
      count: 4,
      memoryRequestsBytes: 6 * GiB,
      memoryLimitsBytes: 8 * GiB,
      withoutMemoryLimit: 0,
      evicted: { count: 0, pods: [] },
    },
    events: [],
    metrics: { available: true, nodeBytes: 7 * GiB, podBytes: 1900 * MiB },
  };
}

/** Activity doubles for the workflow-logic tests, recording every call. */
/** A copy off the server that passed its restore test. */
export function verifiedCopy(): BackupCopy {
  return {
    path: '/backups/cache_redis-0/20261203T000000Z-TS1.rdb',
    bytes: 1048576,
    sha256: 'ab'.repeat(32),
    crc64: '0123456789abcdef',
    rdbVersion: 10,
    redisVersion: '7.0.15',
    copiedAt: '2026-12-03T00:00:00.000Z',
    copyMs: 10,
    rate: 100,
    restoreTest: {
      ok: true,
      scratchVersion: '7.0.15',
      sourceVersion: '7.0.15',
      keys: 100,
      expectedKeys: 100,
      sampled: 50,
      typesMatched: 50,
      changedSince: 0,
      loadMs: 5,
    },
    verified: true,
    restoreHint: 'stop Redis, put it in place of /data/dump.rdb, start it',
    pruned: 0,
  };
}

export function fakeActivities(opts: FakeOptions = {}, client?: Client): { activities: object; recorder: Recorder } {
  const recorder: Recorder = {
    calls: [],
    events: [],
    named(name) {
      return this.calls.filter((c) => c.name === name).map((c) => c.args);
    },
  };
  let diagnoses = 0;
  let healthCalls = 0;
  let capped = false;
  const record = (name: string, args: unknown[]) => recorder.calls.push({ name, args });
  const activities = {
    loadSettings: () => Promise.resolve(opts.settings ?? testSettings()),
    describePod: (...args: unknown[]) => (record('describePod', args), Promise.resolve(opts.pod ?? seedPod())),
    fetchPreviousLogs: (...args: unknown[]) => (
      record('fetchPreviousLogs', args),
      Promise.resolve({
        available: true,
        bytesRead: 100,
        signals: [],
        lastLines: ['1:M fork: Cannot allocate memory'],
        ...(opts.loadedDataBytes ? { loadedDataBytes: opts.loadedDataBytes } : {}),
        ...(opts.loadSeconds ? { loadSeconds: opts.loadSeconds } : {}),
      })
    ),
    describeNode: (input: { node: string }) => (
      record('describeNode', [input]),
      Promise.resolve(opts.node ?? healthyNode(input.node))
    ),
    describeClaims: (input: { claims: string[] }): Promise<ClaimSummary[]> => (
      record('describeClaims', [input]),
      Promise.resolve(input.claims.map((name) => ({ name, phase: 'Bound', accessModes: ['ReadWriteOnce'] })))
    ),
    setLivenessDelay: (input: { actionId?: string; initialDelaySeconds: number }): Promise<ActionResult> => {
      record('setLivenessDelay', [input]);
      return Promise.resolve({
        id: input.actionId ?? 'set-liveness-delay',
        ok: true,
        detail: `initialDelaySeconds ${input.initialDelaySeconds}`,
      });
    },
    checkLimits: (...args: unknown[]) => (record('checkLimits', args), Promise.resolve(seedLimits())),
    diagnoseRedis: (...args: unknown[]) => {
      record('diagnoseRedis', args);
      diagnoses++;
      if (opts.unreachableFirst && diagnoses === 1)
        return Promise.reject(
          ApplicationFailure.create({ type: 'RedisUnreachable', message: 'connect ECONNREFUSED', nonRetryable: true }),
        );
      return Promise.resolve(
        diagnoses === 1 || opts.stillBroken ? (opts.before ?? seedRedis()) : (opts.after ?? fixedRedis()),
      );
    },
    backupRedis: (...args: unknown[]) => {
      record('backupRedis', args);
      if (opts.backup instanceof Error) return Promise.reject(opts.backup);
      return Promise.resolve(
        opts.backup ?? { confirmed: true, lastSave: 2, previousLastSave: 1, status: 'ok', durationMs: 5 },
      );
    },
    copyBackup: (...args: unknown[]): Promise<BackupCopy> => {
      record('copyBackup', args);
      if (opts.copy instanceof Error) return Promise.reject(opts.copy);
      return Promise.resolve({ ...verifiedCopy(), ...opts.copy });
    },
    applyRedisAction: async (input: {
      action: { id: string };
      pacing?: { p99TargetMs?: number };
    }): Promise<ActionResult> => {
      record('applyRedisAction', [input]);
      if (input.action.id === opts.blockAction) {
        const ctx = Context.current();
        for (;;) {
          ctx.heartbeat();
          await ctx.sleep(100); // rejects once the run cancels the activity
        }
      }
      if (input.action.id === opts.failAction)
        return Promise.resolve({ id: input.action.id, ok: false, detail: 'boom' });
      if (input.action.id === opts.capReachedOnce && !capped) {
        capped = true;
        return Promise.resolve({ id: input.action.id, ok: true, detail: 'stopped at the cap', capReached: true });
      }
      // The config changes say what they replaced, as the real activity does.
      const previous: Record<string, Record<string, string | number>> = {
        'set-maxmemory': { maxmemory: 100 * MiB },
        'set-maxmemory-policy': { 'maxmemory-policy': 'noeviction' },
      };
      const replaced = previous[input.action.id];
      return Promise.resolve({
        id: input.action.id,
        ok: true,
        detail: 'done',
        ...(replaced ? { previous: replaced } : {}),
      });
    },
    rollingRestart: (input: { workload: { name: string } }): Promise<ActionResult> => {
      record('rollingRestart', [input]);
      return Promise.resolve({ id: 'rolling-restart', ok: true, detail: `restarted ${input.workload.name}` });
    },
    setMemoryLimit: (input: { actionId?: string; bytes: number }): Promise<ActionResult> => {
      record('setMemoryLimit', [input]);
      return Promise.resolve({ id: input.actionId ?? 'set-memory-limit', ok: true, detail: `limit ${input.bytes}` });
    },
    podHealth: (...args: unknown[]): Promise<PodHealthSample> => {
      record('podHealth', args);
      const counts = opts.restartCounts ?? [14];
      const restartCount = counts[Math.min(healthCalls, counts.length - 1)] ?? 14;
      healthCalls++;
      return Promise.resolve({
        at: '2026-11-23T00:00:00.000Z',
        ready: opts.ready ?? true,
        restartCount,
        phase: 'Running',
      });
    },
    notify: async (event: RunbookEvent) => {
      // A notifier that answers out of order: the run must still tell the events in order.
      if (opts.notifyDelayMs) await new Promise((r) => setTimeout(r, opts.notifyDelayMs!(event)));
      recorder.events.push(event);
    },
    actionProgress: () => Promise.resolve({ touched: 0, bytes: 0 }),
    // The real lock and proof activities: the coordinator runs on the same worker, the proofs are pure computation.
    ...(client
      ? createTemporalActivities(new Client({ connection: client.connection, namespace: 'default' }), 'no-intake-here')
      : {}),
    ...createIdentityActivities(
      opts.identity ?? { acceptProofs: ['ssh', 'pagerduty'], allowedSigners: [], gatewaySecrets: [] },
    ),
  };
  return { activities, recorder };
}
