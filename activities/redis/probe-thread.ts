/**
 * Worker-thread side of the latency probes: one thread per process, probing every target a paced step is working on.
 * Each `watch` gets a connection of its own that sends `PING` every `intervalMs` and posts each round trip (ms) back
 * until `unwatch` (or a failure), then posts `done`. Its own event loop keeps the clock honest while the parent is busy
 * with a batch's replies; one thread, not one per step, keeps the worker's memory flat under many runs.
 */
import { parentPort } from 'node:worker_threads';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis, type RedisOptions } from 'ioredis';

export type ProbeRequest =
  { op: 'watch'; id: number; options: RedisOptions; intervalMs: number } | { op: 'unwatch'; id: number };
export type ProbeMessage = { id: number; ms: number } | { id: number; done: true };

const running = new Map<number, { on: boolean }>();

async function probe(id: number, options: RedisOptions, intervalMs: number, state: { on: boolean }): Promise<void> {
  const redis = new Redis({ ...options, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    while (state.on) {
      const sent = performance.now();
      await redis.ping();
      parentPort?.postMessage({ id, ms: performance.now() - sent } satisfies ProbeMessage);
      await sleep(intervalMs);
    }
  } catch {
    // A failing probe paces nothing: the step's own connection reports real failures.
  } finally {
    redis.disconnect();
    running.delete(id);
    parentPort?.postMessage({ id, done: true } satisfies ProbeMessage);
  }
}

parentPort?.on('message', (request: ProbeRequest) => {
  if (request.op === 'watch') {
    const state = { on: true };
    running.set(request.id, state);
    void probe(request.id, request.options, request.intervalMs, state);
  } else {
    const state = running.get(request.id);
    if (state) state.on = false;
    else parentPort?.postMessage({ id: request.id, done: true } satisfies ProbeMessage);
  }
});
