import { mib, pct } from './model.js';
import type { Finding, Rule } from './model.js';

/** Share of used memory past which client buffers are a finding (and at least this much memory). */
const CLIENT_BUFFERS_SHARE = 0.1;
const CLIENT_BUFFERS_MIN = 32 * 1024 * 1024;
/** Share of maxmemory past which memory eviction does not count is a finding. */
const NOT_COUNTED_SHARE = 0.1;
/** A latency spike worth a finding, in ms. */
const LATENCY_SPIKE_MS = 100;

/** What newer servers (Redis 7) tell about client memory, memory eviction ignores, and latency spikes. */
export const serverSignalRules: Rule = (e) => {
  const r = e.redis;
  const s = r?.signals;
  if (!r || !s) return [];
  const out: Finding[] = [];
  const used = r.memory.usedMemory;
  const clients = s.clientsMemory ?? 0;
  if (clients >= CLIENT_BUFFERS_MIN && clients >= used * CLIENT_BUFFERS_SHARE) {
    const largest = s.largestOutputBuffer
      ? `; the largest output buffer is ${mib(s.largestOutputBuffer.bytes)}, ${s.largestOutputBuffer.client}`
      : '';
    const cap =
      s.maxmemoryClients === '0'
        ? '; maxmemory-clients is 0 (unlimited): set it (e.g. 5%) so Redis drops the worst client instead of failing writes'
        : '';
    out.push({
      id: 'client-buffers-large',
      severity: 'warning',
      message: `Client buffers take ${mib(clients)} (${pct(clients / Math.max(used, 1))} of used memory): slow consumers (pub/sub, MONITOR, big replies) are filling memory${largest}${cap}.`,
      evidence: { clientsMemory: clients, usedMemory: used },
    });
  }
  const notCounted = s.notCountedForEvict ?? 0;
  const maxmemory = r.config.maxmemory;
  if (maxmemory > 0 && notCounted >= maxmemory * NOT_COUNTED_SHARE) {
    out.push({
      id: 'memory-not-counted-for-evict',
      severity: 'warning',
      message: `${mib(notCounted)} of replica and AOF buffers is not counted against maxmemory (${mib(maxmemory)}): used memory can pass maxmemory by that much, toward the container limit.`,
      evidence: { notCountedForEvict: notCounted, maxmemory },
    });
  }
  if ((s.evictedClients ?? 0) > 0) {
    out.push({
      id: 'clients-evicted',
      severity: 'warning',
      message: `Redis disconnected ${s.evictedClients} client(s) to keep client memory under maxmemory-clients (${s.maxmemoryClients ?? '?'}): those applications saw their connection drop.`,
      evidence: { evictedClients: s.evictedClients ?? 0 },
    });
  }
  const spikes = (s.latency ?? []).filter((l) => l.maxMs >= LATENCY_SPIKE_MS).sort((a, b) => b.maxMs - a.maxMs);
  if (spikes.length > 0) {
    out.push({
      id: 'latency-spikes',
      severity: 'warning',
      message: `The latency monitor saw spikes: ${spikes
        .slice(0, 3)
        .map((l) => `${l.event} up to ${l.maxMs} ms (latest ${l.latestMs} ms)`)
        .join(
          ', ',
        )}${spikes.some((l) => l.event === 'fork') ? '; a slow fork means a large dataset or too little free memory for BGSAVE' : ''}. LATENCY DOCTOR explains each.`,
      evidence: { events: spikes.length, worstMs: spikes[0]!.maxMs },
    });
  }
  return out;
};
