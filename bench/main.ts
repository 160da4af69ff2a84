/**
 * `npm run bench [-- --full] [-- --rounds N] [-- --markdown FILE]`: our diagnose and cleanup against reference tools
 * on the same redis-server, in one run. Every figure is the median of `--rounds` (default 3) interleaved runs (ours,
 * the reference, ours, the reference…) with its min and max and the load average; ratios are against the reference's
 * fastest run, so a slow draw of the reference never flatters us. `--full` uses 1,000,000 keys (default 100,000).
 * `--markdown FILE` writes the tables between the `bench:main` markers of FILE (docs/benchmarks.md).
 *
 * (a) big-key scan: keys/s of the diagnose code vs `redis-cli --memkeys`, and as a share of the server's pipelined
 *     GET rate (`redis-benchmark -P 16`, same run); peak memory; a small set against the shell loop;
 * (b) pattern cleanup (UNLINK and EXPIRE): keys/s and the p99 of a concurrent GET probe (another process) at three targets;
 * (c) `redis-benchmark -P 16` GET and SET as the physical ceiling;
 * (g), (h) with `--full`: many runs on one worker, and incident to plan on a 1M-key Redis (see {@link wholeRuns}).
 */
import { execFile, spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { Redis } from 'ioredis';
import { expireByPattern, markerKey, unlinkByPattern, type CleanupState } from '../activities/redis/cleanup.js';
import { LatencyPacer, threadLatency, type PacingReport } from '../activities/redis/pacing.js';
import { commandStat, parseInfo } from '../activities/redis/info.js';
import { detachedProgress } from '../activities/redis/progress.js';
import { startRedisServer, type RedisServer } from '../local-servers/redis-server.js';
import { loadNow, median, spread, writeMarkdown } from './stats.js';

const run = promisify(execFile);
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

const opts = new Command()
  .option('--full', '1,000,000 keys (default 100,000)')
  .option('--rounds <n>', 'interleaved runs of each figure', (v) => Math.max(1, Number(v)), 3)
  .option('--markdown <file>', 'write the tables between the bench:main markers of this file')
  .parse()
  .opts<{ full?: boolean; rounds: number; markdown?: string }>();
const ROUNDS = opts.rounds;
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

/** Redis's own time per key of the scan's commands since the last `CONFIG RESETSTAT` (INFO commandstats). */
async function redisUsecPerKey(redis: Redis, keys: number, commands: readonly string[]): Promise<number> {
  const stats = parseInfo(await redis.info('commandstats'));
  const usec = commands.reduce((sum, c) => {
    const { calls, usecPerCall } = commandStat(stats, c);
    return sum + calls * usecPerCall;
  }, 0);
  return usec / keys;
}
/** What the script's page costs Redis (its inner calls included), and the same lookups sent as commands. */
const SCRIPT_COMMANDS = ['evalsha'] as const;
const DIRECT_COMMANDS = ['scan', 'pttl', 'memory|usage', 'type'] as const;

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

type CleanupOp = 'UNLINK' | 'EXPIRE';

async function cleanup(server: RedisServer, redis: Redis, op: CleanupOp, count: number, p99TargetMs: number) {
  // EXPIRE leaves its keys behind (with a TTL): each round starts from keys without one.
  await redis.flushall();
  await redis.call('DEBUG', 'POPULATE', String(count), 'bench:clean', '32');
  const stopProbe = await startProbe(server);
  const pacer = new LatencyPacer(threadLatency({ port: server.port, host: '127.0.0.1' }), { p99TargetMs });
  await pacer.ready();
  const job = {
    actionId: 'bench',
    marker: markerKey(`bench-${Date.now()}`, 'bench'),
    pattern: 'bench:clean:*',
    maxKeys: count,
    pace: () => pacer.afterBatch(),
  };
  const progress = detachedProgress<CleanupState>();
  const { value, ms } = await timed(() =>
    op === 'UNLINK'
      ? unlinkByPattern(redis, job, progress)
      : expireByPattern(redis, { ...job, ttlSeconds: 7_776_000 }, progress),
  );
  const pacing: PacingReport = await pacer.stop();
  const external = await stopProbe();
  return { keys: value.touched, ms, batches: value.batches, pacing, external };
}

/** `redis-benchmark -P 16 -q` for GET and SET: requests per second of each. */
async function redisBenchmark(server: RedisServer): Promise<{ get: number; set: number }> {
  const { stdout } = await run('redis-benchmark', [
    '-p',
    String(server.port),
    '-P',
    '16',
    '-q',
    '-t',
    'get,set',
    '-n',
    String(N),
  ]);
  const rateOf = (name: string) => {
    const line = stdout.split(/[\r\n]/).find((l) => l.trim().startsWith(`${name}:`) && /requests per second/.test(l));
    return Number(/([\d.]+) requests per second/.exec(line ?? '')?.[1] ?? NaN);
  };
  return { get: rateOf('GET'), set: rateOf('SET') };
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const rate = (keys: number, ms: number) => (keys / ms) * 1000;
/** Keys/s figures: `median (min–max)` in thousands. */
const kps = (xs: number[]) =>
  `${spread(
    xs.map((x) => x / 1000),
    1,
  )}k`;

async function main(): Promise<void> {
  const machine = `${cpus().length} cores (${cpus()[0]?.model ?? '?'}), node ${process.version}, N = ${fmt(N)}, ${ROUNDS} rounds`;
  console.log(`machine: ${machine}`);
  const load: number[] = [];
  const md: string[] = [];
  const server = await startRedisServer({ enableDebug: true });
  const redis = new Redis({ port: server.port, host: '127.0.0.1' });
  try {
    console.log(`\n(a) big-key scan`);
    await populate(redis, 0, SMALL);
    const atSmall = await ourScan(server);
    await populate(redis, SMALL, N);
    const keys = await redis.dbsize();
    const cli: number[] = [];
    const ours: number[] = [];
    const plain: number[] = [];
    // The scan as the activity runs it (paced at 5 ms) and unpaced, each with a GET probe in another process.
    const kind = {
      paced: { rates: [] as number[], p99: [] as number[] },
      unpaced: { rates: [] as number[], p99: [] as number[] },
    };
    const gets: number[] = [];
    const sets: number[] = [];
    const rss: number[] = [];
    const usecPerKey = { script: [] as number[], direct: [] as number[] };
    for (let round = 0; round < ROUNDS; round++) {
      load.push(loadNow());
      cli.push(rate(keys, await memkeys(server)));
      await redis.config('RESETSTAT');
      const scan = await ourScan(server);
      ours.push(rate(scan.keys, scan.ms));
      rss.push(scan.maxRssKiB / 1024);
      usecPerKey.script.push(await redisUsecPerKey(redis, scan.keys, SCRIPT_COMMANDS));
      await redis.config('RESETSTAT');
      const p = await ourScan(server, ['--no-script']);
      plain.push(rate(p.keys, p.ms));
      usecPerKey.direct.push(await redisUsecPerKey(redis, p.keys, DIRECT_COMMANDS));
      for (const [name, extra] of [
        ['unpaced', []],
        ['paced', ['--paced', '5']],
      ] as const) {
        const stopProbe = await startProbe(server);
        const r = await ourScan(server, [...extra]);
        const probe = await stopProbe();
        kind[name].rates.push(rate(r.keys, r.ms));
        kind[name].p99.push(probe.p99);
      }
      const ceiling = await redisBenchmark(server);
      gets.push(ceiling.get);
      sets.push(ceiling.set);
    }
    const fastestCli = Math.max(...cli);
    const rows: Array<[string, string, string]> = [
      ['redis-cli --memkeys', kps(cli), 'reference'],
      ['runbook diagnose', kps(ours), `${(median(ours) / fastestCli).toFixed(2)}× its fastest`],
      ['runbook diagnose (no Lua)', kps(plain), `${(median(plain) / fastestCli).toFixed(2)}× its fastest`],
      ['redis-benchmark -P 16 GET', kps(gets), `scan = ${((median(ours) / median(gets)) * 100).toFixed(0)}% of it`],
    ];
    const probeRows = (['unpaced', 'paced'] as const).map(
      (name) =>
        `| ${name === 'paced' ? 'paced, target p99 5 ms (the activity)' : 'unpaced'} | ${kps(kind[name].rates)} | ${spread(kind[name].p99, 2)} |`,
    );
    console.log(`  keys: ${fmt(keys)}`);
    for (const [what, figure, vs] of rows) console.log(`  ${what.padEnd(27)} ${figure.padStart(24)} keys/s  ${vs}`);
    for (const row of probeRows) console.log(`  ${row}`);
    console.log(
      `  peak RSS at ${fmt(atSmall.keys)} keys ${fmt(atSmall.maxRssKiB / 1024)} MiB; at ${fmt(keys)} keys ${spread(rss, 0)} MiB`,
    );
    const usecLine = `Redis's time per key (INFO commandstats): ${spread(usecPerKey.script, 2)} µs in the page script, its calls included, against ${spread(usecPerKey.direct, 2)} µs for the same lookups sent as commands (the no-Lua path: SCAN, PTTL, MEMORY USAGE, TYPE of the candidates), the direct-command floor`;
    console.log(`  ${usecLine}`);
    md.push(
      `(a) Big-key scan, ${fmt(keys)} keys (keys/s; GET: requests/s)`,
      '',
      '| | median (min–max) | against |',
      '| --- | --- | --- |',
      ...rows.map(([w, f, v]) => `| ${w} | ${f} | ${v} |`),
      '',
      'With a GET probe in another process (its p99 is what an application sees during a diagnosis):',
      '',
      '| scan | keys/s median (min–max) | probe p99 ms |',
      '| --- | --- | --- |',
      ...probeRows,
      '',
      `Peak RSS of the scanning process: ${fmt(atSmall.maxRssKiB / 1024)} MiB at ${fmt(atSmall.keys)} keys, ${spread(rss, 0)} MiB at ${fmt(keys)}.`,
      '',
      `${usecLine}.`,
      '',
    );

    const small = await startRedisServer({ enableDebug: true });
    try {
      const s = new Redis({ port: small.port, host: '127.0.0.1' });
      await populate(s, 0, SHELL_KEYS);
      const total = await s.dbsize();
      s.disconnect();
      const loop: number[] = [];
      const o: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        loop.push(rate(total, await shellLoop(small)));
        const r = await ourScan(small);
        o.push(rate(r.keys, r.ms));
      }
      const line = `shell loop (one redis-cli MEMORY USAGE per key), ${fmt(total)} keys: ${spread(loop, 0)} keys/s; runbook diagnose ${spread(o, 0)} keys/s; ${(median(o) / Math.max(...loop)).toFixed(1)}× its fastest`;
      console.log(`  ${line}`);
      md.push(`The ${line}.`, '');
    } finally {
      await small.stop();
    }

    console.log(`\n(b) pattern cleanup (UNLINK, EXPIRE), GET probe in another process`);
    const configs = [
      ['UNLINK', 'target p99 5 ms', N, 5],
      ['EXPIRE', 'target p99 5 ms', N, 5],
      ['UNLINK', 'tightened, 0.2 ms', N / 10, 0.2],
      ['UNLINK', 'loose, 1000 ms', N / 10, 1000],
      ['EXPIRE', 'loose, 1000 ms', N / 10, 1000],
    ] as const;
    const results = configs.map(() => ({ rates: [] as number[], p99: [] as number[], pauses: [] as number[] }));
    for (let round = 0; round < ROUNDS; round++) {
      load.push(loadNow());
      for (const [i, [op, , count, target]] of configs.entries()) {
        const c = await cleanup(server, redis, op, count, target);
        results[i]!.rates.push(rate(c.keys, c.ms));
        results[i]!.p99.push(c.external.p99);
        results[i]!.pauses.push(c.pacing.pauses);
      }
    }
    md.push(
      `(b) Pattern cleanup (\`UNLINK\`, \`EXPIRE … NX\`, paced), a GET probe in another process`,
      '',
      '| command | pacing target | keys | keys/s median (min–max) | probe p99 ms | pacer pauses |',
      '| --- | --- | --- | --- | --- | --- |',
    );
    for (const [i, [op, label, count]] of configs.entries()) {
      const r = results[i]!;
      console.log(
        `  ${op} ${label.padEnd(18)} ${fmt(count)} keys: ${kps(r.rates)} keys/s; probe p99 ${spread(r.p99, 2)} ms; pauses ${spread(r.pauses, 0)}`,
      );
      md.push(`| ${op} | ${label} | ${fmt(count)} | ${kps(r.rates)} | ${spread(r.p99, 2)} | ${spread(r.pauses, 0)} |`);
    }
    md.push('');

    console.log(`\n(c) ceiling: redis-benchmark -P 16 -t get,set -n ${N}`);
    const ceilingLine = `GET ${kps(gets)} requests/s, SET ${kps(sets)} requests/s`;
    console.log(`  ${ceilingLine}`);
    md.push(`(c) Ceiling, \`redis-benchmark -P 16 -t get,set -n ${N}\` on the same server: ${ceilingLine}.`, '');
    const loadLine = `load average (1 min) at each round: ${spread(load, 2)}`;
    console.log(`\n${loadLine}`);
    md.push(`Machine: ${machine}; ${loadLine}.`);
    if (opts.markdown)
      await writeMarkdown(
        opts.markdown,
        'main',
        `npm run bench --${opts.full ? ' --full' : ''} --rounds ${ROUNDS} --markdown ${opts.markdown}`,
        md.join('\n'),
      );
  } finally {
    redis.disconnect();
    await server.stop();
  }
}

/**
 * `--full` goes on with the benches of whole runs, each in a process of its own (its own stack): many runs on one
 * worker (`many-runs.ts`) and incident to plan on a 1M-key Redis (`incident-to-plan.ts`), same rounds and markdown.
 */
async function wholeRuns(): Promise<void> {
  const shared = ['--rounds', String(ROUNDS), ...(opts.markdown ? ['--markdown', opts.markdown] : [])];
  for (const [title, script] of [
    ['(g) many runs on one worker', './many-runs.js'],
    ['(h) incident to plan, 1M keys', './incident-to-plan.js'],
  ] as const) {
    console.log(`\n${title}`);
    const child = spawn(process.execPath, [here(script), ...shared], { stdio: 'inherit' });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    if (code !== 0) throw new Error(`${script} exited with ${code}`);
  }
}

main()
  .then(() => (opts.full ? wholeRuns() : undefined))
  .catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
