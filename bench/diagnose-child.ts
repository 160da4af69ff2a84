/**
 * Runs the diagnose code once against `--port` in a process of its own and prints one JSON line: keys scanned, wall
 * time, and this process's peak memory (max RSS, peak heap sampled every 20 ms), so sizes can be compared.
 */
import { Command } from 'commander';
import { Redis } from 'ioredis';
import { collectDiagnostics } from '../activities/redis/diagnose.js';
import { detachedProgress } from '../activities/redis/progress.js';

const opts = new Command()
  .requiredOption('--port <n>', 'redis-server port', Number)
  .option('--no-script', 'plain pipelines instead of the Lua page script')
  .parse()
  .opts<{ port: number; script: boolean }>();

let heapPeak = 0;
const sampler = setInterval(() => (heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed)), 20);
const redis = new Redis({ port: opts.port, host: '127.0.0.1' });
const started = performance.now();
const d = await collectDiagnostics(redis, { useScript: opts.script }, detachedProgress());
const ms = performance.now() - started;
clearInterval(sampler);
heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
redis.disconnect();
console.log(
  JSON.stringify({ keys: d.scannedKeys, ms, maxRssKiB: process.resourceUsage().maxRSS, heapPeakKiB: heapPeak >> 10 }),
);
