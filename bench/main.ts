/**
 * `npm run bench [-- --full]`: our diagnose and cleanup against reference tools on the same redis-server, in one run,
 * printed side by side as ratios. Default sizes finish in a few minutes; `--full` uses 1,000,000 keys.
 *
 * (a) big-key scan: keys/s of the diagnose code vs `redis-cli --memkeys`, its peak memory at two sizes, and a small set
 *     against the shell loop (one `redis-cli MEMORY USAGE` per key);
 * (b) pattern cleanup: keys/s and the p99 of a concurrent GET probe (another process), then with a tightened target;
 * (c) `redis-benchmark -P 16` as the physical ceiling.
 */
import { execFile, spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { Redis } from 'ioredis';
import { markerKey, unlinkByPattern, type CleanupState } from '../activities/redis/cleanup.js';
import { LatencyPacer, threadLatency, type PacingReport } from '../activities/redis/pacing.js';
import { detachedProgress } from '../activities/redis/progress.js';
import { startRedisServer, type RedisServer } from '../local-servers/redis-server.js';

const run = promisify(execFile);
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

const opts = new Command().option('--full', '1,000,000 keys (default 100,000)').parse().opts<{ full?: boolean }>();
const N = opts.full ? 1_000_000 : 100_000;
const SMALL = N / 10;
const SHELL_KEYS = 2_000;

/** N keys of mixed types and sizes: 80% strings by DEBUG POPULATE (two sizes), 20% hashes, lists and zsets. */
async function populate(redis: Redis, from: number, to: number): Promise<void> {
  const n = to - from;
  // DEBUG POPULATE skips names that exist, so each stage gets its own prefix.
  await redis.call('DEBUG', 'POPULATE', String(Math.round(n * 0.6)), `user:${from}`, '64');
  await redis.call('DEBUG', 'POPULATE', String(Math.round(n * 0.2)), `cache:${from}`, '1024');
  const collections = Math.round(n * 0.2);
  for (let start = 0; start < collections; start += 1000) {
    const p = redis.pipeline();
    for (let i = start; i < Math.min(collections, start + 1000); i++) {
      const id = from + i;
      if (i % 3 === 0) p.hset(`hash:${id}`, 'a', id, 'b', 'x'.repeat(i % 200), 'c', 'y');
      else if (i % 3 === 1) p.rpush(`list:${id}`, ...Array.from({ length: 1 + (i % 30) }, (_, j) => `item-${j}`));
      else p.zadd(`zset:${id}`, ...Array.from({ length: 1 + (i % 20) }, (_, j) => [j, `m-${j}`]).flat());
    }
    await p.exec();
  }
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t };
}

interface ChildScan {
  keys: number;
  ms: number;
  maxRssKiB: number;
  heapPeakKiB: number;
}

async function ourScan(server: RedisServer, extra: string[] = []): Promise<ChildScan> {
  const { stdout } = await run(
    process.execPath,
    [here('./diagnose-child.js'), '--port', String(server.port), ...extra],
    {
      maxBuffer: 1 << 20,
    },
  );
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as ChildScan;
}

async function memkeys(server: RedisServer): Promise<number> {
  return (await timed(() => run('redis-cli', ['-p', String(server.port), '--memkeys'], { maxBuffer: 1 << 24 }))).ms;
}

async function shellLoop(server: RedisServer): Promise<number> {
  const cli = `redis-cli -p ${server.port}`;
  const script = `${cli} --scan | while read -r k; do ${cli} MEMORY USAGE "$k" >/dev/null; done`;
  return (await timed(() => run('bash', ['-c', script]))).ms;
}

/** Starts the GET probe process; resolves its figures once told to stop. */
async function startProbe(server: RedisServer): Promise<() => Promise<{ gets: number; p50: number; p99: number }>> {
  const child = spawn(process.execPath, [here('./probe-child.js'), '--port', String(server.port)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  await new Promise<void>((resolve) => child.stderr.once('data', () => resolve()));
  return async () => {
    const exited = new Promise((r) => child.once('exit', r));
    child.stdin.end();
    await exited;
    return JSON.parse(out.trim()) as { gets: number; p50: number; p99: number };
  };
}

async function cleanup(server: RedisServer, redis: Redis, count: number, p99TargetMs: number, scanCount = 1000) {
  await redis.call('DEBUG', 'POPULATE', String(count), 'bench:clean', '32');
  const stopProbe = await startProbe(server);
  const pacer = new LatencyPacer(threadLatency({ port: server.port, host: '127.0.0.1' }), { p99TargetMs });
  await pacer.ready();
  const { value, ms } = await timed(() =>
    unlinkByPattern(
      redis,
      {
        actionId: 'bench',
        marker: markerKey(`bench-${Date.now()}`, 'bench'),
        pattern: 'bench:clean:*',
        maxKeys: count,
        scanCount,
        pace: () => pacer.afterBatch(),
      },
      detachedProgress<CleanupState>(),
    ),
  );
  const pacing: PacingReport = await pacer.stop();
  const external = await stopProbe();
  return { keys: value.touched, ms, batches: value.batches, pacing, external };
}

async function redisBenchmark(server: RedisServer): Promise<string> {
  const n = String(N);
  const { stdout } = await run('redis-benchmark', [
    '-p',
    String(server.port),
    '-P',
    '16',
    '-q',
    '-t',
    'get,set',
    '-n',
    n,
  ]);
  return stdout
    .split(/[\r\n]/)
    .filter((l) => /requests per second/.test(l))
    .map((l) => l.trim())
    .join('; ');
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const rate = (keys: number, ms: number) => (keys / ms) * 1000;

async function main(): Promise<void> {
  console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), node ${process.version}, N = ${fmt(N)}`);
  const server = await startRedisServer({ enableDebug: true });
  const redis = new Redis({ port: server.port, host: '127.0.0.1' });
  try {
    console.log(`\n(a) big-key scan`);
    await populate(redis, 0, SMALL);
    const atSmall = await ourScan(server);
    await populate(redis, SMALL, N);
    const keys = await redis.dbsize();
    const cliMs = await memkeys(server);
    const atN = await ourScan(server);
    const plain = await ourScan(server, ['--no-script']);
    const ours = rate(atN.keys, atN.ms);
    const cli = rate(keys, cliMs);
    console.log(`  keys: ${fmt(keys)}`);
    console.log(`  redis-cli --memkeys       ${fmt(cli).padStart(9)} keys/s (${(cliMs / 1000).toFixed(1)} s)`);
    console.log(
      `  runbook diagnose          ${fmt(ours).padStart(9)} keys/s (${(atN.ms / 1000).toFixed(1)} s)  ratio ${(ours / cli).toFixed(2)}`,
    );
    console.log(
      `  (plain pipelines, no Lua) ${fmt(rate(plain.keys, plain.ms)).padStart(9)} keys/s  ratio ${(rate(plain.keys, plain.ms) / cli).toFixed(2)}`,
    );
    console.log(
      `  peak memory at ${fmt(atSmall.keys)} keys: RSS ${fmt(atSmall.maxRssKiB / 1024)} MiB, heap ${fmt(atSmall.heapPeakKiB / 1024)} MiB`,
    );
    console.log(
      `  peak memory at ${fmt(atN.keys)} keys: RSS ${fmt(atN.maxRssKiB / 1024)} MiB, heap ${fmt(atN.heapPeakKiB / 1024)} MiB`,
    );

    const small = await startRedisServer({ enableDebug: true });
    try {
      const s = new Redis({ port: small.port, host: '127.0.0.1' });
      await populate(s, 0, SHELL_KEYS);
      const total = await s.dbsize();
      s.disconnect();
      const loopMs = await shellLoop(small);
      const oursSmall = await ourScan(small);
      const loop = rate(total, loopMs);
      const o = rate(oursSmall.keys, oursSmall.ms);
      console.log(
        `  shell loop, ${fmt(total)} keys: ${fmt(loop)} keys/s; runbook diagnose ${fmt(o)} keys/s; ratio ${(o / loop).toFixed(1)}`,
      );
    } finally {
      await small.stop();
    }

    console.log(`\n(b) pattern cleanup (UNLINK), GET probe in another process`);
    await redis.flushall();
    for (const [label, count, target] of [
      ['target p99 5 ms', N, 5],
      ['tightened, 0.2 ms', N / 10, 0.2],
      ['loose, 1000 ms', N / 10, 1000],
    ] as const) {
      const c = await cleanup(server, redis, count, target);
      console.log(
        `  ${label.padEnd(18)} ${fmt(c.keys)} keys in ${(c.ms / 1000).toFixed(2)} s = ${fmt(rate(c.keys, c.ms))} keys/s; ` +
          `${c.batches} batches, ${c.pacing.pauses} pauses (${fmt(c.pacing.pausedMs)} ms); ` +
          `probe p99 ${c.external.p99.toFixed(2)} ms (p50 ${c.external.p50.toFixed(2)}, ${c.external.gets} GETs), pacer probe (worker thread) p99 ${c.pacing.p99Ms} ms`,
      );
    }

    console.log(`\n(c) ceiling: redis-benchmark -P 16 -t get,set -n ${N}`);
    console.log(`  ${await redisBenchmark(server)}`);
  } finally {
    redis.disconnect();
    await server.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
