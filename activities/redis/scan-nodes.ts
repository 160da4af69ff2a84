import type { Redis } from 'ioredis';
import type { BigKey, PrefixUsage } from './types.js';
import { detachedProgress, type Progress } from './progress.js';
import { offerTopKey, scanKeyspace, type ScanOptions, type ScanResult, type ScanState } from './scan.js';

/** A node whose keys are scanned, paced by its own latency. */
export interface ScanNode {
  redis: Redis;
  pace?: () => Promise<unknown>;
  /** The node's address and role, for the report of where the scan ran. */
  at?: { host: string; port: number; role: 'primary' | 'replica' };
}

/** What several nodes' scans add up to, and the node that holds the Sidekiq keys, if any. */
export interface MergedScan {
  result: ScanResult;
  sidekiqOn?: Redis;
  /** Keys scanned on each node, in the order given. */
  perNode: number[];
}

/**
 * Scans `dbs` on each node in turn and merges the reports: the biggest keys across all of them, prefixes summed. One
 * node resumes from `progress` as a single scan does; several only `heartbeat` (a shape the scan never resumes from),
 * and a retried attempt scans them again from the start: one node's cursor means nothing on another.
 */
export async function scanNodes(
  nodes: ScanNode[],
  dbs: number[],
  options: ScanOptions,
  progress: Progress<ScanState>,
  heartbeat: (details: { kind: 'scan-nodes'; node: number; scanned: number }) => void = () => undefined,
): Promise<MergedScan> {
  if (nodes.length === 1) {
    const [node] = nodes as [ScanNode];
    const result = await scanKeyspace(node.redis, dbs, { ...options, pace: node.pace ?? options.pace }, progress);
    return { result, ...(result.sidekiqDb !== undefined && { sidekiqOn: node.redis }), perNode: [result.scannedKeys] };
  }
  const results: ScanResult[] = [];
  let sidekiqOn: Redis | undefined;
  for (const node of nodes) {
    // Heartbeats of another shape: one node's cursor and tallies must never be resumed on another.
    const at = results.length;
    const beat = detachedProgress<ScanState>(undefined, (s) =>
      heartbeat({ kind: 'scan-nodes', node: at, scanned: s.scanned }),
    );
    const result = await scanKeyspace(node.redis, dbs, { ...options, pace: node.pace ?? options.pace }, beat);
    if (result.sidekiqDb !== undefined && sidekiqOn === undefined) sidekiqOn = node.redis;
    results.push(result);
  }
  return {
    result: mergeScans(results, options.topKeys ?? 20),
    ...(sidekiqOn && { sidekiqOn }),
    perNode: results.map((r) => r.scannedKeys),
  };
}

/** One report of several nodes' scans: biggest keys first (at most `k`), prefixes summed, counts added. */
export function mergeScans(results: ScanResult[], k: number): ScanResult {
  const bigKeys: BigKey[] = [];
  for (const r of results) for (const key of r.bigKeys) offerTopKey(bigKeys, key, k);
  const prefixes = new Map<string, PrefixUsage>();
  for (const r of results) {
    for (const p of r.prefixes) {
      const sum = prefixes.get(p.prefix) ?? { prefix: p.prefix, keys: 0, bytes: 0, keysWithoutTtl: 0 };
      prefixes.set(p.prefix, {
        prefix: p.prefix,
        keys: sum.keys + p.keys,
        bytes: sum.bytes + p.bytes,
        keysWithoutTtl: sum.keysWithoutTtl + p.keysWithoutTtl,
      });
    }
  }
  const sidekiq = results.find((r) => r.sidekiqDb !== undefined);
  return {
    bigKeys,
    prefixes: [...prefixes.values()].sort((a, b) => b.bytes - a.bytes),
    scannedKeys: results.reduce((n, r) => n + r.scannedKeys, 0),
    ...(sidekiq && { sidekiqDb: sidekiq.sidekiqDb }),
    statKeys: results.reduce((n, r) => n + r.statKeys, 0),
    statKeysWithoutTtl: results.reduce((n, r) => n + r.statKeysWithoutTtl, 0),
  };
}
