import type { RedisAddress } from '../../workflows/definitions.js';
import type { ActionResult, PlannedAction } from '../../workflows/logic/actions.js';
import { applyKeysOnCluster, type ApplyOnNode } from './cluster-keys.js';
import { activityHeartbeat } from './progress.js';
import { configGet } from './config.js';
import { withRedis, type RedisConnector } from './connection.js';
import { homePrimary } from './topology-diagnosis.js';
import { discoverTopology, inSyncReplicaOf, nodeAddress, type RedisNode } from './topology.js';
import { nodeKey } from '../../workflows/logic/topology.js';

/** Actions that change a server's own settings or memory: every node of the set or Cluster takes them. */
const EVERY_NODE = new Set(['set-maxmemory', 'set-maxmemory-policy', 'memory-purge', 'config-rewrite']);

/** The setting a config action changes, read back on each node to verify it took. */
function expected(planned: PlannedAction): [string, string] | undefined {
  const { action } = planned;
  if (action.kind === 'set-maxmemory') return ['maxmemory', String(action.bytes)];
  if (action.kind === 'set-maxmemory-policy') return ['maxmemory-policy', action.policy];
  return undefined;
}

/**
 * The node a backup is taken on, and the primary its request marker is written to: a replica in sync when `from` is
 * `replica` (the default) and there is one, so the fork and the transfer spare the primary; else the primary.
 */
export async function backupNode(
  connect: RedisConnector,
  target: RedisAddress,
  from: 'replica' | 'primary' = 'replica',
): Promise<{ node: RedisAddress; role: 'primary' | 'replica'; primary: RedisAddress; readonly: boolean }> {
  const topology = await discoverTopology(connect, target);
  const primary = homePrimary(topology, target);
  const replica = from === 'replica' ? inSyncReplicaOf(topology, primary) : undefined;
  // A Cluster replica answers reads of its primary's slots (the restore test's samples) only after READONLY.
  const readonly = replica !== undefined && topology.kind === 'cluster';
  return replica
    ? { node: nodeAddress(target, replica), role: 'replica', primary, readonly }
    : { node: primary, role: 'primary', primary, readonly };
}

/**
 * Applies one action where it belongs. Settings and `MEMORY PURGE` go to every node, primaries first, replicas after
 * (a replica left at the old `maxmemory` is the next to fail, or evicts differently once promoted), each read back;
 * key actions go to the current primary (a replica would answer READONLY). Each node's change is idempotent, so a
 * retry, or a run that resumes after a Sentinel failover, finds the nodes already changed and says so. Key actions on
 * a Cluster go to every primary (see `applyKeysOnCluster`). `marker` is the action's progress marker.
 */
export async function applyOnTopology(
  connect: RedisConnector,
  target: RedisAddress,
  planned: PlannedAction,
  marker: string,
  applyOne: ApplyOnNode,
): Promise<ActionResult> {
  const topology = await discoverTopology(connect, target);
  const home = homePrimary(topology, target);
  const onHome = () => withRedis(connect, home, (redis) => applyOne(redis, { marker, countedElsewhere: 0 }));
  if (!EVERY_NODE.has(planned.action.kind)) {
    if (topology.kind === 'cluster') return applyKeysOnCluster(connect, topology, planned, marker, applyOne);
    return onHome();
  }
  if (topology.nodes.length <= 1) return onHome();
  const order = [...topology.nodes].sort((a, b) => rank(a) - rank(b));
  const check = expected(planned);
  const perNode: Array<{ node: RedisNode; result: ActionResult; took: boolean }> = [];
  for (const node of order) {
    const result = await withRedis(connect, nodeAddress(target, node), async (redis) => {
      const applied = await applyOne(redis, { marker, countedElsewhere: 0 });
      const took = check ? (await configGet(redis, check[0]))[check[0]] === check[1] : applied.ok;
      return { applied, took };
    });
    perNode.push({ node, result: result.applied, took: result.took });
  }
  const rejoin = await awaitRejoin(
    connect,
    target,
    order.filter((n) => n.reportsPrimary),
  );
  const primary = perNode.find((p) => p.node.role === 'primary' && nodeKey(p.node) === nodeKey(home));
  const failed = perNode.filter((p) => !p.took);
  const freed = perNode.reduce((n, p) => n + (p.result.bytesFreed ?? 0), 0);
  return {
    id: planned.id,
    ok: failed.length === 0,
    detail:
      `on ${perNode.length} nodes (${topology.kind}): ` +
      perNode
        .map((p) => `${p.node.role} ${nodeKey(p.node)}: ${p.result.detail}${p.took ? '' : ' (NOT TAKEN)'}`)
        .join('; ') +
      rejoin,
    ...(freed > 0 && { bytesFreed: freed }),
    ...(primary?.result.previous && { previous: primary.result.previous }),
  };
}

/** How long an old primary a failover left behind gets to rejoin once the settings freed it. */
const REJOIN_WAIT_MS = 20_000;

/**
 * Waits (bounded) for old primaries that Sentinel could not reconfigure to rejoin as replicas: one at its memory limit
 * refuses Sentinel until the new settings free it, and Sentinel retries on its own. Says what happened.
 */
async function awaitRejoin(connect: RedisConnector, target: RedisAddress, stale: RedisNode[]): Promise<string> {
  if (stale.length === 0) return '';
  const names = stale.map(nodeKey);
  const started = Date.now();
  const beat = activityHeartbeat();
  for (;;) {
    beat({ kind: 'rejoin', waitedMs: Date.now() - started });
    const now = await discoverTopology(connect, target);
    const linked = names.filter((name) =>
      now.nodes.some((n) => nodeKey(n) === name && n.role === 'replica' && n.linkStatus === 'up'),
    );
    if (linked.length === names.length)
      return `; old primary ${names.join(', ')} rejoined as a replica ${Math.round((Date.now() - started) / 1000)} s after the settings freed it`;
    if (Date.now() - started > REJOIN_WAIT_MS)
      return `; old primary ${names.filter((n) => !linked.includes(n)).join(', ')} has not rejoined as a replica within ${REJOIN_WAIT_MS / 1000} s`;
    await new Promise((r) => setTimeout(r, 500));
  }
}

function rank(n: RedisNode): number {
  return n.role === 'primary' ? 0 : 1;
}
