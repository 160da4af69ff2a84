/**
 * Redis side of the runbook: diagnose, back up, remediate. Built from an injected {@link RedisConnector}; each call
 * opens its own short-lived connection. Long loops heartbeat and resume from the previous attempt's details.
 */
import { randomUUID } from 'node:crypto';
import type { BackupResult, CleanupPreview, RedisDiagnostics } from './types.js';
import type { RedisAddress } from '../../workflows/definitions.js';
import type { ActionResult, PlannedAction } from '../../workflows/logic/actions.js';
import { backupProgressSchema, takeBackup } from './backup.js';
import { cleanupStateSchema, markerKey, readMarker } from './cleanup.js';
import { previewPattern, previewStateSchema, type PreviewState } from './cleanup-preview.js';
import { mergePreviews, progressOnCluster } from './cluster-keys.js';
import { clusterShards, mergeBackups } from '../backup/shards.js';
import { withRedis, type RedisConnector } from './connection.js';
import { collectDiagnostics } from './diagnose.js';
import { activityHeartbeat, activityProgress, currentRun, detachedProgress, type Progress } from './progress.js';
import { threadLatency, type PacingOptions } from './pacing.js';
import { applyAction } from './remediate.js';
import { scanStateSchema } from './scan.js';
import { discoverTopology } from './topology.js';
import { applyOnTopology, backupNode } from './topology-actions.js';
import type { BackupSource } from '../backup/store.js';
import type { Redis } from 'ioredis';
import { homePrimary, scanPlan, shardMemory, withScanNodes } from './topology-diagnosis.js';

export { createRedisConnector, redisClientOptions, type RedisConnector, type RedisCredentials } from './connection.js';

/** Input of `diagnoseRedis`. */
export interface DiagnoseRedisInput {
  redis: RedisAddress;
  /** Biggest keys kept (default 20). */
  topKeys?: number;
  /** SCAN COUNT hint (default 1000). */
  scanCount?: number;
  /** `MEMORY USAGE … SAMPLES` (default 5). */
  memorySamples?: number;
  /** Latency pacing of the scan: pages wait while a probe's p99 is above the target (default 5 ms). */
  pacing?: PacingOptions;
}

/** Input of `previewCleanup`. */
export interface PreviewCleanupInput {
  redis: RedisAddress;
  pattern: string;
  /** SCAN COUNT hint (default 1000). */
  scanCount?: number;
}

/** Input of `backupRedis`. */
export interface BackupRedisInput {
  redis: RedisAddress;
  /** Limit on the whole backup, in seconds (default 300). */
  timeoutSeconds?: number;
}

/** Input of `applyRedisAction`. */
export interface ApplyRedisActionInput {
  redis: RedisAddress;
  action: PlannedAction;
  /** Latency pacing of key cleanups (probe p99 target, default 5 ms). */
  pacing?: PacingOptions;
}

/**
 * The Redis activities. Failures: `RedisUnreachable` (retryable) when the server cannot be reached, `RedisAuth`
 * (non-retryable) when it refuses the credentials, `BackupFailed` and `InvalidAction` (non-retryable) as each says.
 */
export function createRedisActivities(connect: RedisConnector, options: { backupFrom?: BackupSource } = {}) {
  const activities = {
    /** Redis's view of the incident: INFO, CONFIG, big keys and prefixes by SCAN, Sidekiq figures, a write probe. */
    async diagnoseRedis(input: DiagnoseRedisInput): Promise<RedisDiagnostics> {
      // The topology first: INFO is read of the primary the incident is about, the key scan runs on a replica in sync
      // where there is one, and a Cluster's scan covers every primary's slots.
      const topology = await discoverTopology(connect, input.redis);
      const home = homePrimary(topology, input.redis);
      const plan = scanPlan(topology, input.redis);
      return withRedis(connect, home, async (redis) =>
        // Paced always: a diagnosis must not add latency to the applications of a Redis that is already struggling.
        withScanNodes(
          connect,
          plan.nodes,
          { addr: home, redis },
          input.pacing,
          topology.kind === 'cluster',
          async (scanOn) => {
            const diagnostics = await collectDiagnostics(
              redis,
              {
                topKeys: input.topKeys,
                scanCount: input.scanCount,
                memorySamples: input.memorySamples,
                probeDb: input.redis.db,
                scanOn,
                // A Cluster node refuses a script that touches keys of several slots: its pages take the pipeline path.
                ...(topology.kind === 'cluster' && { scanDbs: [0], useScript: false }),
                heartbeat: activityHeartbeat(),
              },
              activityProgress(scanStateSchema),
            );
            return {
              ...diagnostics,
              topology,
              ...(plan.note && { scanNote: plan.note }),
              ...(topology.kind === 'cluster' && (await shardMemory(connect, topology.primaries))),
            };
          },
        ),
      );
    },

    /** What a cleanup of `pattern` would remove (keys, bytes, samples, TTLs), before anyone approves it. */
    async previewCleanup(input: PreviewCleanupInput): Promise<CleanupPreview> {
      const topology = await discoverTopology(connect, input.redis);
      const preview = (addr: RedisAddress, progress: Progress<PreviewState>) =>
        withRedis(connect, addr, async (redis) => {
          await redis.select(input.redis.db ?? 0);
          return previewPattern(redis, input.pattern, { scanCount: input.scanCount }, progress);
        });
      if (topology.kind !== 'cluster')
        return preview(homePrimary(topology, input.redis), activityProgress(previewStateSchema));
      // Every primary's slots; a heartbeat's cursor is one node's, so the nodes start over on a retry.
      const heartbeat = activityHeartbeat();
      const each: CleanupPreview[] = [];
      for (const addr of topology.primaries)
        each.push(await preview(addr, detachedProgress<PreviewState>(undefined, heartbeat)));
      return mergePreviews(each);
    },

    /**
     * A confirmed RDB snapshot (BGSAVE), or a `BackupFailed` failure: on a replica in sync where there is one (unless
     * `backupFrom` is `primary`), its request marker on the primary.
     */
    async backupRedis(input: BackupRedisInput): Promise<BackupResult> {
      // A Cluster: every shard's snapshot (a cleanup may touch every primary), each on its own replica in sync.
      const shards = await clusterShards(connect, input.redis);
      if (shards) return mergeBackups(await Promise.all(shards.map((s) => backupOne({ ...input, redis: s.primary }))));
      return backupOne(input);
    },

    /**
     * What an action of this run changed so far, from its progress marker (exact across attempts): what a run reports
     * for a cleanup it cancelled mid-way. Zero when no batch ran.
     */
    async actionProgress(input: {
      redis: RedisAddress;
      actionId: string;
    }): Promise<{ touched: number; bytes: number }> {
      const topology = await discoverTopology(connect, input.redis);
      const key = markerKey(currentRun() ?? '', input.actionId);
      if (topology.kind === 'cluster') return progressOnCluster(connect, topology, key);
      return withRedis(connect, homePrimary(topology, input.redis), async (redis) => {
        await redis.select(input.redis.db ?? 0);
        const marker = await readMarker(redis, key);
        return { touched: marker.touched, bytes: marker.bytes };
      });
    },

    /** Applies one planned remediation action (idempotent); key actions work on `redis.db` (default 0). */
    async applyRedisAction(input: ApplyRedisActionInput): Promise<ActionResult> {
      const marker = markerKey(currentRun() ?? `local-${randomUUID()}`, input.action.id);
      return applyOnTopology(connect, input.redis, input.action, marker, (redis, share) =>
        applyAction(
          redis,
          input.action,
          {
            db: input.redis.db,
            pacing: input.pacing,
            latency: () => threadLatency(redis.options),
            ...share,
          },
          activityProgress(cleanupStateSchema),
        ),
      );
    },
  };

  return activities;

  /** One set's snapshot, or one Cluster shard's. */
  async function backupOne(input: BackupRedisInput): Promise<BackupResult> {
    const { node, role, primary } = await backupNode(connect, input.redis, options.backupFrom);
    const take = (redis: Redis, markerOn?: Redis) =>
      takeBackup(
        redis,
        { timeoutSeconds: input.timeoutSeconds, markerScope: currentRun(), ...(markerOn && { markerOn }) },
        activityProgress(backupProgressSchema),
      );
    const result =
      role === 'primary'
        ? await withRedis(connect, node, (redis) => take(redis))
        : await withRedis(connect, primary, (onPrimary) => withRedis(connect, node, (redis) => take(redis, onPrimary)));
    return { ...result, takenOn: { host: node.host, port: node.port, role } };
  }
}

/** The activities {@link createRedisActivities} returns, for `proxyActivities<RedisActivities>`. */
export type RedisActivities = ReturnType<typeof createRedisActivities>;
