/**
 * Worker-thread side of the latency probe: `PING` on its own connection every `intervalMs`, posting each round trip
 * (ms) to the parent. Its own event loop keeps the clock honest while the parent is busy with a batch's replies.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis, type RedisOptions } from 'ioredis';

const { options, intervalMs } = workerData as { options: RedisOptions; intervalMs: number };
const redis = new Redis({ ...options, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
redis.on('error', () => undefined);
let running = true;
parentPort?.on('message', (message) => {
  if (message === 'stop') running = false;
});

try {
  await redis.connect();
  while (running) {
    const sent = performance.now();
    await redis.ping();
    parentPort?.postMessage(performance.now() - sent);
    await sleep(intervalMs);
  }
} catch {
  // A failing probe paces nothing: the cleanup's own connection reports real failures.
} finally {
  redis.disconnect();
  parentPort?.close();
}
