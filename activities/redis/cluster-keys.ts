/**
 * Key actions on a Redis Cluster: a pattern's keys live on every primary, each serving its own slots, so a cleanup
 * walks each primary in turn (slot order), with its progress marker in that node's own slots and its pace set by that
 * node's latency; a sorted-set trim goes to the primary serving the set's slot. The cap spans the primaries: a node
 * may touch what the others' markers have not yet counted, and the markers, read again on a retry, keep the total
 * exact whatever moment a worker dies.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { Redis } from 'ioredis';
import { RunbookErrorType, type RedisAddress } from '../../workflows/definitions.js';
import type { ActionResult, PlannedAction } from '../../workflows/logic/actions.js';
import { nodeKey } from '../../workflows/logic/topology.js';
import { readMarker } from './cleanup.js';
import { withRedis, type RedisConnector } from './connection.js';
import { inRanges, slotOf } from './slots.js';
import { localKey, type RedisTopology } from './topology.js';
import type { CleanupPreview } from './types.js';

/** Where one node's share of a key action is counted, and how many keys the other nodes' markers already count. */
export interface NodeShare {
  marker: string;
  countedElsewhere: number;
}

/** Applies the action on one node, its progress on `share.marker`. */
export type ApplyOnNode = (redis: Redis, share: NodeShare) => Promise<ActionResult>;

/** A pattern cleanup on every primary in turn, or a trim on the primary serving the set; one result for the whole. */
export async function applyKeysOnCluster(
  connect: RedisConnector,
  topology: RedisTopology,
  planned: PlannedAction,
  marker: string,
  applyOne: ApplyOnNode,
): Promise<ActionResult> {
  const { action } = planned;
  if (action.kind === 'trim-sorted-set') {
    const owner = slotOwner(topology, action.key);
    return withRedis(connect, owner, async (redis) => {
      const result = await applyOne(redis, { marker: await localKey(redis, marker), countedElsewhere: 0 });
      return { ...result, detail: `on primary ${nodeKey(owner)} (slot ${slotOf(action.key)}): ${result.detail}` };
    });
  }
  const shares = await Promise.all(
    topology.primaries.map((addr) =>
      withRedis(connect, addr, async (redis) => {
        const key = await localKey(redis, marker);
        return { addr, key, touched: (await readMarker(redis, key)).touched };
      }),
    ),
  );
  const done: Array<{ addr: RedisAddress; result: ActionResult }> = [];
  for (const share of shares) {
    const countedElsewhere = shares.reduce((n, s) => n + (s === share ? 0 : s.touched), 0);
    const result = await withRedis(connect, share.addr, (redis) =>
      applyOne(redis, { marker: share.key, countedElsewhere }),
    );
    // The node's marker count, this attempt's and every earlier one's: what the next nodes' room is computed from.
    share.touched = result.keysTouched ?? 0;
    done.push({ addr: share.addr, result });
    if (!result.ok || result.capReached) break;
  }
  const touched = shares.reduce((n, s) => n + s.touched, 0);
  const bytes = done.reduce((n, d) => n + (d.result.bytesFreed ?? 0), 0);
  const capReached = done.some((d) => d.result.capReached);
  const skipped = shares.slice(done.length).map((s) => `primary ${nodeKey(s.addr)}: not reached`);
  return {
    id: planned.id,
    ok: done.every((d) => d.result.ok),
    detail:
      `on ${shares.length} primaries (cluster), ${touched} keys in all: ` +
      [...done.map((d) => `primary ${nodeKey(d.addr)}: ${d.result.detail}`), ...skipped].join('; '),
    keysTouched: touched,
    ...(action.kind === 'unlink-keys' && { bytesFreed: bytes }),
    ...(capReached && { capReached: true }),
  };
}

/** What an action changed on every primary together, from each one's marker. */
export async function progressOnCluster(
  connect: RedisConnector,
  topology: RedisTopology,
  marker: string,
): Promise<{ touched: number; bytes: number }> {
  const each = await Promise.all(
    topology.primaries.map((addr) =>
      withRedis(connect, addr, async (redis) => readMarker(redis, await localKey(redis, marker))),
    ),
  );
  return each.reduce((sum, m) => ({ touched: sum.touched + m.touched, bytes: sum.bytes + m.bytes }), {
    touched: 0,
    bytes: 0,
  });
}

/** The previews of every primary, summed into one. */
export function mergePreviews(previews: CleanupPreview[]): CleanupPreview {
  const [first, ...rest] = previews;
  if (!first) throw new Error('no preview to merge');
  return rest.reduce(
    (all, p) => ({
      ...all,
      keys: all.keys + p.keys,
      bytes: all.bytes + p.bytes,
      withTtl: all.withTtl + p.withTtl,
      samples: [...all.samples, ...p.samples].slice(0, 3),
      dbKeys: all.dbKeys + p.dbKeys,
    }),
    first,
  );
}

/** The primary serving `key`'s slot; retryable `RedisUnreachable` while no primary serves it (a failover, a reshard). */
function slotOwner(topology: RedisTopology, key: string): RedisAddress {
  const slot = slotOf(key);
  const owner = topology.primaries.find((p) =>
    topology.nodes.some((n) => n.role === 'primary' && nodeKey(n) === nodeKey(p) && inRanges(slot, n.slots ?? [])),
  );
  if (owner) return owner;
  throw ApplicationFailure.create({
    type: RunbookErrorType.RedisUnreachable,
    message: `no primary of the Cluster serves slot ${slot} (key ${key}) now`,
  });
}
