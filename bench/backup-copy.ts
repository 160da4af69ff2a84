/**
 * `npm run bench:backup [-- --mib 1024] [--rounds 3]`: the backup copy off the server (replication protocol, CRC-64,
 * restore test) against `redis-cli --rdb` on the same redis-server, interleaved (ours, the reference, ours, …).
 * Prints medians with min and max: copy MiB/s for both, and the restore test's load time. The server keeps
 * `rdbcompression no` (incompressible data, the honest case) and `repl-diskless-sync-delay 0` (no handicap for
 * redis-cli's diskless transfer).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { Redis } from 'ioredis';
import { createBackupActivities } from '../activities/backup/index.js';
import { createRedisConnector } from '../activities/redis/index.js';
import { startRedisServer } from '../local-servers/redis-server.js';

const run = promisify(execFile);
const opts = new Command()
  .option('--mib <n>', 'snapshot size in MiB', '1024')
  .option('--rounds <n>', 'interleaved rounds (at least 3)', '3')
  .parse()
  .opts<{ mib: string; rounds: string }>();
const MIB = Number(opts.mib);
const ROUNDS = Math.max(3, Number(opts.rounds));

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const spread = (xs: number[], digits = 1) =>
  `median ${median(xs).toFixed(digits)} (min ${Math.min(...xs).toFixed(digits)}, max ${Math.max(...xs).toFixed(digits)})`;

async function main(): Promise<void> {
  const server = await startRedisServer({
    enableDebug: true,
    args: ['--rdbcompression', 'no', '--repl-diskless-sync-delay', '0'],
  });
  const redis = new Redis({ host: server.host, port: server.port });
  const store = await mkdtemp(join(tmpdir(), 'bench-backups-'));
  try {
    // 1 KiB values: MIB × 1024 keys make a snapshot of about MIB MiB.
    await redis.call('DEBUG', 'POPULATE', String(MIB * 1024), 'blob', '1024');
    const activities = createBackupActivities(createRedisConnector(), { directory: store, keep: 1 });
    const ours: number[] = [];
    const loads: number[] = [];
    const cli: number[] = [];
    let bytes = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const copy = await activities.copyBackup({
        redis: { host: server.host, port: server.port },
        incidentId: `BENCH${round}`,
        target: 'bench',
      });
      if (!copy.verified) throw new Error(`copy not verified: ${copy.restoreTest.reason}`);
      bytes = copy.bytes;
      ours.push(copy.rate);
      loads.push(copy.restoreTest.loadMs);
      const file = join(store, `cli-${round}.rdb`);
      const t0 = performance.now();
      await run('redis-cli', ['-p', String(server.port), '--rdb', file], { maxBuffer: 1 << 24 });
      const ms = performance.now() - t0;
      cli.push((await stat(file)).size / 1048576 / (ms / 1000));
      await rm(file);
    }
    console.log(
      `snapshot ${(bytes / 1048576).toFixed(0)} MiB, ${ROUNDS} interleaved rounds, load ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
    console.log(`  runbook copyBackup (SYNC + CRC-64 + sha256 + write)  MiB/s ${spread(ours)}`);
    console.log(`  redis-cli --rdb (reference)                          MiB/s ${spread(cli)}`);
    console.log(
      `  ratio to the reference's fastest run                 ${(median(ours) / Math.max(...cli)).toFixed(2)}`,
    );
    console.log(`  restore test (scratch redis-server load + checks)    ms ${spread(loads, 0)}`);
  } finally {
    redis.disconnect();
    await server.stop();
    await rm(store, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
