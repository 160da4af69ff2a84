import { Redis } from 'ioredis';
import { startRedisServer, type RedisServer, type StartRedisServerOptions } from './redis-server.js';

/**
 * The Redis that users run, started on loopback from `redis-server` alone: a primary with replicas watched by
 * Sentinels, and a Redis Cluster with its slots assigned. The suites and the benches start them; nothing here imports
 * a test framework.
 */

/** A primary, its replicas and the Sentinels that watch them. */
export interface ReplicatedSet {
  primary: RedisServer;
  replicas: RedisServer[];
  sentinels: RedisServer[];
  /** The name the Sentinels know the set by. */
  masterName: string;
  /** Stops every server. Safe to call twice. */
  stop(): Promise<void>;
}

export interface ReplicatedSetOptions {
  replicas?: number;
  /** Sentinels (default 0: a plain primary with replicas); quorum is a majority of them. */
  sentinels?: number;
  masterName?: string;
  /** Options of every data node (primary and replicas). */
  node?: StartRedisServerOptions;
  /** Extra Sentinel configuration lines, e.g. `sentinel auth-pass …`. */
  sentinelConfig?: (masterName: string) => string[];
  /** How the helper itself authenticates to the data nodes, where they need it. */
  auth?: { username?: string; password?: string };
}

/** Starts a primary, `replicas` replicas in sync with it and `sentinels` Sentinels that all see the whole set. */
export async function startReplicatedSet(opts: ReplicatedSetOptions = {}): Promise<ReplicatedSet> {
  const masterName = opts.masterName ?? 'runbook';
  const started: RedisServer[] = [];
  const stop = async () => {
    await Promise.all(started.map((s) => s.stop()));
  };
  try {
    const primary = await startRedisServer(opts.node);
    started.push(primary);
    const auth = opts.auth?.password
      ? ['--masteruser', opts.auth.username ?? 'default', '--masterauth', opts.auth.password]
      : [];
    const replicas: RedisServer[] = [];
    for (let i = 0; i < (opts.replicas ?? 2); i++) {
      const node = opts.node ?? {};
      const replica = await startRedisServer({
        ...node,
        args: [...(node.args ?? []), '--replicaof', primary.host, String(primary.port), ...auth],
      });
      started.push(replica);
      replicas.push(replica);
    }
    await until(`${replicas.length} replicas online`, async () => {
      const info = await infoOf(primary, 'replication', opts.auth);
      return (info.match(/state=online/g) ?? []).length === replicas.length;
    });
    const sentinels: RedisServer[] = [];
    const count = opts.sentinels ?? 0;
    for (let i = 0; i < count; i++) {
      const sentinel = await startRedisServer({
        sentinelConfig: [
          `sentinel monitor ${masterName} ${primary.host} ${primary.port} ${Math.floor(count / 2) + 1}`,
          `sentinel down-after-milliseconds ${masterName} 1000`,
          `sentinel failover-timeout ${masterName} 4000`,
          `sentinel parallel-syncs ${masterName} 1`,
          ...(opts.sentinelConfig?.(masterName) ?? []),
        ],
      });
      started.push(sentinel);
      sentinels.push(sentinel);
    }
    for (const sentinel of sentinels) {
      await until(`sentinel ${sentinel.port} sees the set`, () =>
        withClient(sentinel, async (r) => {
          const reps = (await r.call('SENTINEL', 'REPLICAS', masterName)) as unknown[];
          const peers = (await r.call('SENTINEL', 'SENTINELS', masterName)) as unknown[];
          return reps.length === replicas.length && peers.length === sentinels.length - 1;
        }),
      );
    }
    return { primary, replicas, sentinels, masterName, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** A Redis Cluster: primaries with the 16,384 slots split between them, each with its replicas. */
export interface RedisClusterServers {
  primaries: RedisServer[];
  replicas: RedisServer[];
  /** Stops every node. Safe to call twice. */
  stop(): Promise<void>;
}

export interface RedisClusterOptions {
  primaries?: number;
  replicasEach?: number;
  node?: StartRedisServerOptions;
}

/** Starts a cluster (`--cluster-enabled yes`), assigns the slots, joins the nodes and waits for `cluster_state:ok`. */
export async function startRedisCluster(opts: RedisClusterOptions = {}): Promise<RedisClusterServers> {
  const started: RedisServer[] = [];
  const stop = async () => {
    await Promise.all(started.map((s) => s.stop()));
  };
  const clusterArgs = [
    '--cluster-enabled',
    'yes',
    '--cluster-config-file',
    'nodes.conf',
    '--cluster-node-timeout',
    '2000',
  ];
  const start = async () => {
    const node = opts.node ?? {};
    const server = await startRedisServer({ ...node, args: [...(node.args ?? []), ...clusterArgs] });
    started.push(server);
    return server;
  };
  try {
    const primaries: RedisServer[] = [];
    const replicas: RedisServer[] = [];
    const n = opts.primaries ?? 3;
    for (let i = 0; i < n; i++) primaries.push(await start());
    for (let i = 0; i < n * (opts.replicasEach ?? 1); i++) replicas.push(await start());
    const all = [...primaries, ...replicas];
    await Promise.all(
      primaries.map((p, i) => withClient(p, (r) => r.call('CLUSTER', 'ADDSLOTSRANGE', ...slotRange(i, n)))),
    );
    for (const node of all.slice(1))
      await withClient(node, (r) => r.call('CLUSTER', 'MEET', all[0]!.host, all[0]!.port));
    await until('every node knows every other', async () => {
      const known = await Promise.all(all.map((s) => withClient(s, (r) => r.call('CLUSTER', 'INFO'))));
      return known.every((text) => String(text).includes(`cluster_known_nodes:${all.length}`));
    });
    const ids = await Promise.all(primaries.map((p) => withClient(p, (r) => r.call('CLUSTER', 'MYID'))));
    for (const [i, replica] of replicas.entries()) {
      await withClient(replica, (r) => r.call('CLUSTER', 'REPLICATE', String(ids[i % n])));
    }
    await until('cluster_state:ok on every node, replicas in sync', async () => {
      const infos = await Promise.all(all.map((s) => withClient(s, (r) => r.call('CLUSTER', 'INFO'))));
      const links = await Promise.all(replicas.map((s) => infoOf(s, 'replication')));
      return (
        infos.every((text) => String(text).includes('cluster_state:ok')) &&
        links.every((text) => text.includes('master_link_status:up'))
      );
    });
    return { primaries, replicas, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

const SLOTS = 16384;

/** The slots primary `i` of `n` serves in a cluster {@link startRedisCluster} started: an even split, in order. */
function slotRange(i: number, n: number): [number, number] {
  return [Math.floor((i * SLOTS) / n), Math.floor(((i + 1) * SLOTS) / n) - 1];
}

/**
 * Which primary (index in `cluster.primaries`) serves each hash tag `{t0}`, `{t1}`, …: seeding writes keys named with
 * these tags to their primary by pipeline (a Cluster pipeline may only address one node).
 */
export async function tagOwners(cluster: RedisClusterServers, tags: number): Promise<number[]> {
  const n = cluster.primaries.length;
  return withClient(cluster.primaries[0]!, async (r) => {
    const owners: number[] = [];
    for (let t = 0; t < tags; t++) {
      const slot = Number(await r.call('CLUSTER', 'KEYSLOT', `{t${t}}`));
      owners.push(Array.from({ length: n }, (_, i) => i).find((i) => slot <= slotRange(i, n)[1])!);
    }
    return owners;
  });
}

type Auth = { username?: string; password?: string };

/** A client of `server` for `fn` alone, closed after it. */
async function withClient<T>(
  server: { host: string; port: number },
  fn: (r: Redis) => Promise<T>,
  auth?: Auth,
): Promise<T> {
  const r = new Redis({ host: server.host, port: server.port, maxRetriesPerRequest: 1, ...auth });
  try {
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

function infoOf(server: { host: string; port: number }, section: string, auth?: Auth): Promise<string> {
  return withClient(server, (r) => r.info(section), auth);
}

/** Polls `ok` every 100 ms for up to 30 s. */
async function until(what: string, ok: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 30_000;
  let last: unknown;
  for (;;) {
    try {
      if (await ok()) return;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`redis topology: ${what} not reached within 30 s`, { cause: last });
    await new Promise((r) => setTimeout(r, 100));
  }
}
