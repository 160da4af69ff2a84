/**
 * An application stand-in: `GET` in a loop on its own connection, in a process of its own (so our cleanup's event loop
 * does not colour its clock), until stdin closes; then prints one JSON line with the count and latency percentiles.
 */
import { Command } from 'commander';
import { Redis } from 'ioredis';
import { p99 } from '../activities/redis/pacing.js';

const opts = new Command().requiredOption('--port <n>', 'redis-server port', Number).parse().opts<{ port: number }>();
const redis = new Redis({ port: opts.port, host: '127.0.0.1' });
await redis.set('bench:probe', 'x');
const samples: number[] = [];
let running = true;
process.stdin.on('close', () => (running = false));
process.stdin.resume();
console.error('ready');
while (running) {
  const t = performance.now();
  await redis.get('bench:probe');
  samples.push(performance.now() - t);
  await new Promise((r) => setTimeout(r, 1));
}
redis.disconnect();
const sorted = [...samples].sort((a, b) => a - b);
console.log(
  JSON.stringify({
    gets: samples.length,
    p50: sorted[Math.floor(sorted.length / 2)] ?? 0,
    p99: p99(samples),
    max: sorted.at(-1) ?? 0,
  }),
);
