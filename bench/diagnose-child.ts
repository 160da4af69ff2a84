/**
 * Runs the diagnose code once against `--port` in a process of its own and prints one JSON line: keys scanned, wall
 * time, and this process's peak memory (max RSS, peak heap sampled every 20 ms), so sizes can be compared.
 */
import { Command } from 'commander';
import { Redis } from 'ioredis';
import { collectDiagnostics } from '../activities/redis/diagnose.js';
import { detachedProgress } from '../activities/redis/progress.js';
import { LatencyPacer, threadLatency } from '../activities/redis/pacing.js';

const opts = new Command()
  .requiredOption('--port <n>', 'redis-server port', Number)
  .option('--no-script', 'plain pipelines instead of the Lua page script')
  .option('--paced <ms>', 'pace the scan as the activity does, at this probe p99 target', Number)
  .option('--count <n>', 'COUNT of each SCAN page', Number)
  .parse()
  .opts<{ port: number; script: boolean; paced?: number; count?: number }>();

let heapPeak = 0;
const sampler = setInterval(() => (heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed)), 20);
const redis = new Redis({ port: opts.port, host: '127.0.0.1' });
const pacer = opts.paced ? new LatencyPacer(threadLatency(redis.options), { p99TargetMs: opts.paced }) : undefined;
await pacer?.ready();
const started = performance.now();
const d = await collectDiagnostics(
  redis,
  {
    useScript: opts.script,
    ...(opts.count ? { scanCount: opts.count } : {}),
    ...(pacer ? { pace: () => pacer.afterBatch() } : {}),
  },
  detachedProgress(),
);
const ms = performance.now() - started;
const pacing = await pacer?.stop();
clearInterval(sampler);
heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
redis.disconnect();
console.log(
  JSON.stringify({
    keys: d.scannedKeys,
    ms,
    maxRssKiB: process.resourceUsage().maxRSS,
    heapPeakKiB: heapPeak >> 10,
    pauses: pacing?.pauses ?? 0,
    probeP99Ms: pacing?.p99Ms,
  }),
);
