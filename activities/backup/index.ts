/**
 * The backup store's activity: after a confirmed BGSAVE, the snapshot is streamed off the Redis server (replication
 * protocol), checked (CRC-64, length), written to the store under a partial name, restore-tested in a scratch
 * redis-server, and only then given its final name. Idempotent: a retry of the same run returns the copy an earlier
 * attempt verified, or starts over cleanly after removing that attempt's partial file.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { basename } from 'node:path';
import { once } from 'node:events';
import { ApplicationFailure } from '@temporalio/common';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { RunbookErrorType, type RedisAddress } from '../../workflows/definitions.js';
import { configGet } from '../redis/config.js';
import { withRedis, type RedisConnector } from '../redis/connection.js';
import { backupNode } from '../redis/topology-actions.js';
import { activityProgress, currentRun } from '../redis/progress.js';
import type { BackupCopy } from '../redis/types.js';
import { RdbVerifier } from './rdb.js';
import { streamSnapshot, type ReplicationEndpoint } from './replication.js';
import { restoreTest } from './restore-test.js';
import { S3Store } from './s3-store.js';
import { clusterShards, mergeCopies } from './shards.js';
import { DirectoryStore, type BackupStoreConfig } from './store.js';

export type { BackupStoreConfig } from './store.js';
export type { S3StoreConfig } from './s3-store.js';

export interface CopyBackupInput {
  redis: RedisAddress;
  incidentId: string;
  /** The target's label (`targetLabel`), which names its folder in the store. */
  target: string;
  /** Limit on the restore test's load, in seconds (default 300). */
  loadTimeoutSeconds?: number;
}

const copyProgressSchema = z.object({
  kind: z.literal('backup-copy'),
  /** Streaming off the server, then (with an S3 store) uploading the verified copy. */
  stage: z.enum(['stream', 'upload']).optional(),
  bytes: z.number(),
  total: z.number(),
});

/** Where ioredis was told to connect, for the replication connection (the password never leaves this process). */
function endpointOf(redis: Redis): ReplicationEndpoint {
  const o = redis.options;
  return {
    host: o.host ?? '127.0.0.1',
    port: o.port ?? 6379,
    ...(o.username ? { username: o.username } : {}),
    ...(o.password ? { password: o.password } : {}),
    ...(o.tls ? { tls: o.tls } : {}),
  };
}

/**
 * Heartbeats `state()` now and every second until `stop` is called (a long load reports nothing itself); `beat`
 * reports at once, for a new stage.
 */
function keepBeating(state: () => z.infer<typeof copyProgressSchema>): { stop: () => void; beat: () => void } {
  const progress = activityProgress(copyProgressSchema);
  const report = () => {
    try {
      progress.report(state());
    } catch {
      // Cancelled: the copy stops at its next step, and the activity fails with the cancellation.
    }
  };
  report();
  const timer = setInterval(report, 1000);
  return { stop: () => clearInterval(timer), beat: report };
}

/** One attempt: stream into the partial file, check it, restore-test it, name it. */
async function copyOnce(
  redis: Redis,
  store: DirectoryStore,
  input: CopyBackupInput,
  run: string,
  onBytes: (bytes: number, total: number) => void,
): Promise<BackupCopy> {
  const at = new Date();
  const reserved = await store.reserve(input.target, input.incidentId, at);
  const where: Record<string, string> = await configGet(redis, 'dir', 'dbfilename').catch(() => ({}));
  const verifier = new RdbVerifier();
  const sha = createHash('sha256');
  const out = createWriteStream(reserved.partial, { flags: 'w' });
  const t0 = performance.now();
  try {
    await streamSnapshot(
      endpointOf(redis),
      async (chunk) => {
        verifier.push(chunk);
        sha.update(chunk);
        if (!out.write(chunk)) await once(out, 'drain');
      },
      onBytes,
    );
    out.end();
    await once(out, 'finish');
  } catch (err) {
    out.destroy();
    await rm(reserved.partial, { force: true });
    throw ApplicationFailure.create({
      type: RunbookErrorType.BackupFailed,
      message: `could not stream the snapshot off the server: ${(err as Error).message}`,
      nonRetryable: /NOPERM|permission/i.test((err as Error).message),
    });
  }
  const copyMs = Math.round(performance.now() - t0);
  const rdb = verifier.result();
  if (!rdb.crcOk) {
    await rm(reserved.partial, { force: true });
    // A transfer error or `rdbchecksum no`: a retry copies again; the copy never counts as it is.
    throw ApplicationFailure.create({
      type: RunbookErrorType.BackupFailed,
      message: `the copy's CRC-64 (${rdb.crc64}) does not match the RDB's trailer (rdbchecksum off, or corrupted)`,
    });
  }
  const test = await restoreTest(reserved.partial, redis, rdb.firstDb, (input.loadTimeoutSeconds ?? 300) * 1000);
  const copy: BackupCopy = {
    path: reserved.path,
    bytes: rdb.bytes,
    sha256: sha.digest('hex'),
    crc64: rdb.crc64,
    rdbVersion: rdb.version,
    ...(rdb.aux['redis-ver'] ? { redisVersion: rdb.aux['redis-ver'] } : {}),
    copiedAt: at.toISOString(),
    copyMs,
    rate: Math.round((rdb.bytes / 1048576 / Math.max(copyMs, 1)) * 1000 * 10) / 10,
    restoreTest: test,
    verified: test.ok,
    restoreHint:
      `stop Redis, put ${basename(reserved.path)} in place of ${where['dir'] ?? '<dir>'}/${where['dbfilename'] ?? 'dump.rdb'} ` +
      'on its volume (with appendonly off, or rebuild the AOF after), and start it; check a file with redis-check-rdb',
    pruned: 0,
  };
  if (!test.ok) {
    await rm(reserved.partial, { force: true });
    return { ...copy, path: '' };
  }
  await store.commit(reserved, copy, run);
  copy.pruned = (await store.applyRetention(input.target)).length;
  return copy;
}

type Progress = z.infer<typeof copyProgressSchema>;

/** Runs `fn` on the node the backup policy names (a replica in sync by default), ready to read a Cluster's keys. */
async function copyFrom<T>(
  connect: RedisConnector,
  target: RedisAddress,
  from: BackupStoreConfig['from'],
  fn: (redis: Redis) => Promise<T>,
): Promise<T> {
  const { node, readonly } = await backupNode(connect, target, from);
  return withRedis(connect, node, async (redis) => {
    if (readonly) await redis.call('READONLY');
    return fn(redis);
  });
}

export function createBackupActivities(connect: RedisConnector, config: BackupStoreConfig) {
  // With S3 the directory only stages each copy for its restore test: it keeps none once uploaded.
  const local = new DirectoryStore(config.s3 ? { ...config, keep: 1 } : config);
  const s3 = config.s3 ? new S3Store(config.s3, config.keep) : undefined;
  /** One snapshot (a set's, or one Cluster shard's), labelled `input.target` in the store. */
  const copyOne = async (input: CopyBackupInput, run: string): Promise<BackupCopy> => {
    const stored = s3 && (await s3.findCopyOf(input.target, run));
    if (stored) return stored;
    // A copy verified here by an attempt killed before (or during) its upload is uploaded, not taken again.
    const staged = await local.findCopyOf(input.target, run);
    if (staged && !s3) return staged;
    await local.removePartials(input.target, input.incidentId);
    if (s3) await s3.removePartials(input.target, input.incidentId);
    let state: Progress = { kind: 'backup-copy', stage: 'stream', bytes: 0, total: 0 };
    const { stop, beat } = keepBeating(() => state);
    try {
      const copy =
        staged ??
        (await copyFrom(connect, input.redis, config.from, (redis) =>
          copyOnce(redis, local, input, run, (bytes, total) => (state = { ...state, bytes, total })),
        ));
      if (!s3 || !copy.verified) return copy;
      state = { kind: 'backup-copy', stage: 'upload', bytes: 0, total: copy.bytes };
      beat();
      const stored = await s3.publish(input.target, copy, run, (bytes) => (state = { ...state, bytes }));
      await local.discard(copy.path);
      return { ...stored, pruned: (await s3.applyRetention(input.target)).length };
    } finally {
      stop();
    }
  };
  return {
    /**
     * Copies the current snapshot off the server into the backup store and restore-tests it; on a Cluster, every
     * shard's, one after the other (each labelled by its slots, each found again by a retry).
     */
    async copyBackup(input: CopyBackupInput): Promise<BackupCopy> {
      const run = currentRun() ?? `detached/${Date.now()}`;
      const shards = await clusterShards(connect, input.redis);
      if (!shards) return copyOne(input, run);
      const copies: BackupCopy[] = [];
      for (const shard of shards) {
        copies.push(await copyOne({ ...input, redis: shard.primary, target: `${input.target} ${shard.label}` }, run));
      }
      return mergeCopies(copies);
    },
  };
}
