/**
 * `npm run bench:cluster [-- --keys 1000000] [--rounds 3]`: the merged Cluster report (`diagnoseRedis` on one seed
 * node: every primary's slots, scanned on their replicas, merged) against `redis-cli --memkeys` run on each primary in
 * turn, interleaved (ours, the reference, …). Prints the total time of each as a median with min and max, and whether
 * the two agree on the biggest key of each type (what redis-cli 7.0 reports; it has no top-20 list).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { Redis } from 'ioredis';
import { createRedisActivities, createRedisConnector } from '../activities/redis/index.js';
import { startRedisCluster, tagOwners } from '../local-servers/redis-topology.js';
import { loadNow, median, spread, writeMarkdown } from './stats.js';

const run = promisify(execFile);
const opts = new Command()
  .option('--keys <n>', 'keys in the Cluster', '1000000')
  .option('--rounds <n>', 'interleaved rounds (at least 3)', '3')
  .option('--markdown <file>', 'write the table into this file (docs/benchmarks.md)')
  .parse()
  .opts<{ keys: string; rounds: string; markdown?: string }>();
const KEYS = Number(opts.keys);
const ROUNDS = Math.max(3, Number(opts.rounds));
const TAGS = 4096;
const BIG = 30;

async function main(): Promise<void> {
  const cluster = await startRedisCluster({ primaries: 3, replicasEach: 1 });
  try {
    const nodes = cluster.primaries.map((p) => new Redis({ host: p.host, port: p.port }));
    // Hash tags routed once, then each primary gets its own keys by pipeline (a Cluster pipeline spans one node).
    const owner = await tagOwners(cluster, TAGS);
    const t0 = performance.now();
    const BATCH = 5000;
    for (let start = 0; start < KEYS; start += BATCH) {
      const pipes = nodes.map((n) => n.pipeline());
      for (let i = start; i < Math.min(KEYS, start + BATCH); i++) {
        const t = i % TAGS;
        const p = pipes[owner[t]!]!;
        const kind = i % 10;
        if (kind < 6) p.set(`user:{t${t}}:${i}`, 'x'.repeat(64));
        else if (kind < 8) p.set(`page:{t${t}}:${i}`, 'y'.repeat(1024));
        else if (kind === 8) p.hset(`cart:{t${t}}:${i}`, 'a', '1', 'b', '2', 'c', 'x'.repeat(40));
        else p.zadd(`rank:{t${t}}:${i}`, 1, 'a', 2, 'b', 3, 'c');
      }
      await Promise.all(pipes.map((p) => p.exec()));
    }
    const bigKeys: Array<{ key: string; node: Redis }> = [];
    for (let b = 0; b < BIG; b++) {
      const t = (b * 131) % TAGS;
      const node = nodes[owner[t]!]!;
      const key = `${['blob', 'bighash', 'biglist'][b % 3]}:{t${t}}:${b}`;
      if (b % 3 === 0) await node.set(key, 'z'.repeat(100_000 + b * 3000));
      else if (b % 3 === 1) await node.hset(key, bigHash(200 + b * 10));
      else await node.rpush(key, ...Array.from({ length: 500 + b * 20 }, (_, i) => `item-${i}-xxxx`));
      bigKeys.push({ key, node });
    }
    // The truth to hold the top 20 against: every big key's exact size (the seed's other keys are all far smaller).
    const truth = await Promise.all(
      bigKeys.map(async ({ key, node }) => ({ key, bytes: Number(await node.memory('USAGE', key, 'SAMPLES', '0')) })),
    );
    truth.sort((a, b) => b.bytes - a.bytes);
    const twentieth = truth[19]!.bytes;
    for (const n of nodes) await n.call('WAIT', 1, 60_000);
    console.log(`seeded ${KEYS + BIG} keys in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const redis = createRedisActivities(createRedisConnector());
    const ours: number[] = [];
    const cli: number[] = [];
    let agreement = '';
    let topAgree = 0;
    let scanned = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const a = performance.now();
      const d = await redis.diagnoseRedis({
        redis: { host: cluster.primaries[0]!.host, port: cluster.primaries[0]!.port },
        topKeys: 20,
        // Unpaced (as `redis-cli` is): the paced figure is bench (a)'s concern.
        pacing: { p99TargetMs: 1000 },
      });
      ours.push(performance.now() - a);
      scanned = d.scannedKeys;
      const b = performance.now();
      const biggest = new Map<string, { key: string; bytes: number }>();
      for (const p of cluster.primaries) {
        const { stdout } = await run('redis-cli', ['-h', p.host, '-p', String(p.port), '--memkeys'], {
          maxBuffer: 1 << 24,
        });
        for (const m of stdout.matchAll(/Biggest\s+(\w+) found '"(.+)"' has (\d+) bytes/g)) {
          const [type, key, bytes] = [m[1]!, m[2]!, Number(m[3])];
          if ((biggest.get(type)?.bytes ?? -1) < bytes) biggest.set(type, { key, bytes });
        }
      }
      cli.push(performance.now() - b);
      const oursByType = new Map<string, string>();
      for (const k of d.bigKeys) if (!oursByType.has(k.type)) oursByType.set(k.type, k.key);
      const types = [...biggest.keys()].filter((t) => oursByType.has(t) || biggest.get(t)!.bytes > 50_000);
      const agree = types.filter((t) => oursByType.get(t) === biggest.get(t)!.key);
      agreement = `${agree.length} of ${types.length} types (${types.map((t) => `${t}: ${oursByType.get(t) === biggest.get(t)!.key ? 'same key' : `ours ${oursByType.get(t) ?? 'none'}, redis-cli ${biggest.get(t)!.key}`}`).join('; ')})`;
      // A key of ours agrees when its exact size is among the true top 20's (ties at the 20th count as agreeing).
      const exact = new Map(truth.map((k) => [k.key, k.bytes]));
      topAgree = d.bigKeys.filter((k) => (exact.get(k.key) ?? 0) >= twentieth).length;
      if (round === 0) console.log(`top 20 (ours): ${d.bigKeys.map((k) => `${k.key} ${k.bytes}`).join(', ')}`);
      console.log(`round ${round + 1}: ours ${ours.at(-1)!.toFixed(0)} ms, redis-cli ×3 ${cli.at(-1)!.toFixed(0)} ms`);
    }
    const fastestCli = Math.min(...cli);
    const table = [
      `Redis Cluster of 3 primaries with a replica each, ${scanned.toLocaleString('en')} keys scanned:`,
      '',
      '| | total s, median (min–max) | keys/s (median) |',
      '| --- | --- | --- |',
      `| runbook diagnose (one report, every shard, on the replicas) | ${spread(ours.map((x) => x / 1000))} | ${Math.round(scanned / (median(ours) / 1000)).toLocaleString('en')} |`,
      `| redis-cli --memkeys on each primary in turn | ${spread(cli.map((x) => x / 1000))} | ${Math.round(scanned / (median(cli) / 1000)).toLocaleString('en')} |`,
      '',
      `Ours against redis-cli's fastest round: ${(fastestCli / median(ours)).toFixed(2)}× its speed. Top 20: ${topAgree} of our 20 keys are in the true top 20 (each big key's \`MEMORY USAGE … SAMPLES 0\` on its primary). Biggest key per type, ours against redis-cli's largest across the primaries: ${agreement}. Load average (1 min) at the end: ${loadNow().toFixed(2)}.`,
    ].join('\n');
    console.log(`\n${table}`);
    if (opts.markdown)
      await writeMarkdown(
        opts.markdown,
        'cluster',
        `npm run bench:cluster -- --keys ${KEYS} --rounds ${ROUNDS}`,
        table,
      );
    for (const n of nodes) n.disconnect();
  } finally {
    await cluster.stop();
  }
}

function bigHash(fields: number): Record<string, string> {
  return Object.fromEntries(Array.from({ length: fields }, (_, i) => [`field-${i}`, 'v'.repeat(100)]));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
