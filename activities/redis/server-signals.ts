/**
 * Where memory and latency go on a newer Redis: `MEMORY STATS` (client buffers, replication backlog), the fields of
 * INFO that 7.0 added (`mem_not_counted_for_evict`, `evicted_clients`), `maxmemory-clients`, the largest client
 * output buffer from `CLIENT LIST`, and `LATENCY LATEST`. Each read may be refused (an older server, an ACL): the
 * field is then left out, never an error.
 */
import type { Redis } from 'ioredis';
import { infoNumber, type InfoSections } from './info.js';
import type { ServerSignals } from './types.js';

/** Clients listed beyond this many are not looked at (`CLIENT LIST` of a huge fleet is itself a load). */
const MAX_CLIENTS_READ = 10_000;

const quietly = async <T>(read: () => Promise<T>): Promise<T | undefined> => {
  try {
    return await read();
  } catch {
    return undefined;
  }
};

/** `MEMORY STATS` as a map (a flat array of names and values; nested entries are left out). */
async function memoryStats(redis: Redis): Promise<Map<string, number> | undefined> {
  const reply = await quietly(() => redis.call('MEMORY', 'STATS') as Promise<unknown[]>);
  if (!Array.isArray(reply)) return undefined;
  const stats = new Map<string, number>();
  for (let i = 0; i + 1 < reply.length; i += 2) {
    const value = Number(reply[i + 1]);
    if (Number.isFinite(value)) stats.set(String(reply[i]), value);
  }
  return stats;
}

/** The client with the largest `omem` in `CLIENT LIST`, named by its name or address and last command. */
export function largestOutputBuffer(list: string): ServerSignals['largestOutputBuffer'] {
  let best: ServerSignals['largestOutputBuffer'];
  for (const line of list.split('\n').slice(0, MAX_CLIENTS_READ)) {
    const fields = Object.fromEntries(
      line
        .trim()
        .split(' ')
        .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    ) as Record<string, string>;
    const bytes = Number(fields['omem'] ?? 0);
    if (!(bytes > (best?.bytes ?? 0))) continue;
    const who = fields['name'] ? `${fields['name']} (${fields['addr'] ?? '?'})` : (fields['addr'] ?? '?');
    best = { bytes, client: `${who}, last command ${fields['cmd'] ?? '?'}`.slice(0, 200) };
  }
  return best;
}

/** Reads the signals; `sections` is the INFO the diagnosis read already. */
export async function readServerSignals(
  redis: Redis,
  sections: InfoSections,
  ownConnection?: ServerSignals['ownConnection'],
): Promise<ServerSignals> {
  const stats = await memoryStats(redis);
  const limitClients = await quietly(async () => {
    const reply = await redis.config('GET', 'maxmemory-clients');
    return reply.length === 2 ? String(reply[1]) : undefined;
  });
  const clients = await quietly(() => redis.client('LIST') as Promise<string>);
  const latency = await quietly(() => redis.call('LATENCY', 'LATEST') as Promise<unknown[]>);
  const num = (section: string, field: string) => infoNumber(sections, section, field);
  const fromStats = (name: string, info: string) => stats?.get(name) ?? num('memory', info);
  const out: ServerSignals = {
    clientsMemory: fromStats('clients.normal', 'mem_clients_normal'),
    replicaBuffersMemory: fromStats('clients.slaves', 'mem_clients_slaves'),
    replicationBacklog: fromStats('replication.backlog', 'mem_replication_backlog'),
    notCountedForEvict: num('memory', 'mem_not_counted_for_evict'),
    evictedClients: num('stats', 'evicted_clients'),
    maxmemoryClients: limitClients,
    largestOutputBuffer: clients ? largestOutputBuffer(clients) : undefined,
    latency: Array.isArray(latency)
      ? latency.flatMap((e) =>
          Array.isArray(e) && e.length >= 4
            ? [{ event: String(e[0]), latestMs: Number(e[2]), maxMs: Number(e[3]) }]
            : [],
        )
      : undefined,
    ownConnection,
  };
  // Only what the server told: absent fields stay out of the evidence (and out of the history).
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined));
}

/**
 * Asks that the runbook's own connection is never evicted under `maxmemory-clients` (7.0+) and never updates the
 * keys' LRU/LFU clocks (7.2+), so diagnosing neither drops a client nor disturbs eviction. Older servers refuse;
 * the answer says which took.
 */
export function protectOwnConnection(redis: Redis): Promise<{ noEvict: boolean; noTouch: boolean }> {
  // Once per connection: `withRedis` asks for every activity, and the diagnosis reads the answer for its evidence.
  let asked = protected_.get(redis);
  if (!asked) {
    asked = (async () => {
      const noEvict = (await quietly(() => redis.client('NO-EVICT', 'ON'))) !== undefined;
      const noTouch = (await quietly(() => redis.call('CLIENT', 'NO-TOUCH', 'ON'))) !== undefined;
      return { noEvict, noTouch };
    })();
    protected_.set(redis, asked);
  }
  return asked;
}

const protected_ = new WeakMap<Redis, Promise<{ noEvict: boolean; noTouch: boolean }>>();
