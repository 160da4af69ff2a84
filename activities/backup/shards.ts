/**
 * A Redis Cluster's backup is one snapshot per shard: each shard's keys are only in its own nodes' RDB. Every
 * destructive action of the runbook may touch every primary (a cleanup walks them all), so the backup covers every
 * shard, each taken and copied like a standalone one, and counts as confirmed only when each of them is.
 */
import type { RedisAddress } from '../../workflows/definitions.js';
import type { RedisConnector } from '../redis/connection.js';
import { discoverTopology } from '../redis/topology.js';
import type { BackupCopy, BackupResult } from '../redis/types.js';
import { nodeKey } from '../../workflows/logic/topology.js';

/** Each shard of a Cluster by its primary and slots; undefined outside a Cluster (one snapshot covers it all). */
export async function clusterShards(
  connect: RedisConnector,
  target: RedisAddress,
): Promise<Array<{ primary: RedisAddress; label: string }> | undefined> {
  const topology = await discoverTopology(connect, target);
  if (topology.kind !== 'cluster') return undefined;
  return topology.primaries.map((primary) => {
    const slots = topology.nodes.find((n) => n.role === 'primary' && nodeKey(n) === nodeKey(primary))?.slots ?? [];
    return { primary, label: `slots ${slots.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(',')}` };
  });
}

/** The shards' BGSAVEs as one: confirmed only if every one is; the first failure's error. */
export function mergeBackups(shards: BackupResult[]): BackupResult {
  const failed = shards.find((s) => !s.confirmed);
  const first = shards[0]!;
  return {
    confirmed: failed === undefined,
    lastSave: Math.min(...shards.map((s) => s.lastSave)),
    previousLastSave: Math.min(...shards.map((s) => s.previousLastSave)),
    status: failed?.status ?? first.status,
    rdbBytes: shards.reduce((n, s) => n + (s.rdbBytes ?? 0), 0),
    durationMs: Math.max(...shards.map((s) => s.durationMs)),
    ...(failed && {
      error: `shard ${shards.indexOf(failed) + 1} of ${shards.length}: ${failed.error ?? failed.status}`,
    }),
    ...(first.takenOn && { takenOn: first.takenOn }),
    shards,
  };
}

/** The shards' copies as one: verified only if every one is; sizes and restore-test figures summed. */
export function mergeCopies(shards: BackupCopy[]): BackupCopy {
  const failed = shards.find((s) => !s.verified);
  const first = shards[0]!;
  const sum = (f: (c: BackupCopy) => number) => shards.reduce((n, s) => n + f(s), 0);
  const bytes = sum((s) => s.bytes);
  const copyMs = sum((s) => s.copyMs);
  return {
    ...first,
    path: shards.map((s) => s.path).join(' '),
    bytes,
    sha256: shards.map((s) => s.sha256).join(','),
    crc64: shards.map((s) => s.crc64).join(','),
    copyMs,
    rate: copyMs > 0 ? Number((bytes / 1024 / 1024 / (copyMs / 1000)).toFixed(1)) : 0,
    restoreTest: {
      ...(failed ?? first).restoreTest,
      ok: shards.every((s) => s.restoreTest.ok),
      keys: sum((s) => s.restoreTest.keys),
      expectedKeys: sum((s) => s.restoreTest.expectedKeys ?? s.restoreTest.keys),
      sampled: sum((s) => s.restoreTest.sampled),
      typesMatched: sum((s) => s.restoreTest.typesMatched),
      changedSince: sum((s) => s.restoreTest.changedSince),
      loadMs: sum((s) => s.restoreTest.loadMs),
    },
    verified: failed === undefined,
    restoreHint: `a Cluster: each shard's RDB back on that shard's primary (${shards.length} shards). ${first.restoreHint}`,
    pruned: sum((s) => s.pruned),
    shards,
  };
}
