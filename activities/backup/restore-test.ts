/**
 * The restore test of a copy: loaded into a scratch `redis-server` of the same major version (which checks the RDB
 * checksum itself as it loads), its key count compared with the snapshot's own count, and a sample of its keys'
 * types compared with the live server's.
 */
import { basename, dirname } from 'node:path';
import { Redis } from 'ioredis';
import { startRedisServer } from '../../local-servers/redis-server.js';
import { infoString, parseInfo, parseKeyspaceValue } from '../redis/info.js';
import type { RestoreTest } from '../redis/types.js';

const SAMPLE = 50;

/**
 * Loads `path` into a scratch server and compares it. `source` is the live server (for versions and types),
 * `expectedKeys` the snapshot's key count of database `db` (its `RESIZEDB` hint).
 */
export async function restoreTest(
  path: string,
  source: Redis,
  expected: { db: number; keys: number } | undefined,
  timeoutMs: number,
): Promise<RestoreTest> {
  const t0 = performance.now();
  const sourceVersion = infoString(parseInfo(await source.info('server')), 'server', 'redis_version') ?? '';
  // The scratch server reads the file where it lies; with saving off it never writes to it.
  const scratch = await startRedisServer({
    args: ['--dir', dirname(path), '--dbfilename', basename(path)],
    readyTimeoutMs: timeoutMs,
  });
  const loadMs = Math.round(performance.now() - t0);
  const client = new Redis({ host: scratch.host, port: scratch.port, lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    const info = parseInfo(await client.info());
    const scratchVersion = infoString(info, 'server', 'redis_version') ?? '';
    const db = expected?.db ?? 0;
    const loaded = parseKeyspaceValue(infoString(info, 'keyspace', `db${db}`) ?? '').keys;
    const result: RestoreTest = {
      ok: false,
      scratchVersion,
      sourceVersion,
      keys: loaded,
      ...(expected && Number.isFinite(expected.keys) ? { expectedKeys: expected.keys } : {}),
      sampled: 0,
      typesMatched: 0,
      changedSince: 0,
      loadMs,
    };
    if (scratchVersion.split('.')[0] !== sourceVersion.split('.')[0]) {
      result.reason = `scratch redis-server ${scratchVersion} is not of the source's major version (${sourceVersion})`;
      return result;
    }
    if (result.expectedKeys !== undefined && loaded !== result.expectedKeys) {
      result.reason = `the copy loaded ${loaded} keys in db ${db}, the snapshot says ${result.expectedKeys}`;
      return result;
    }
    await client.select(db);
    const [, keys] = await client.scan('0', 'COUNT', SAMPLE * 4);
    const sample = keys.slice(0, SAMPLE);
    const pipeline = source.pipeline().select(db);
    for (const key of sample) pipeline.type(key);
    const live = ((await pipeline.exec()) ?? []).slice(1).map(([, type]) => String(type));
    const copied = await Promise.all(sample.map((k) => client.type(k)));
    for (let i = 0; i < sample.length; i++) {
      if (live[i] === 'none') result.changedSince++;
      else if (live[i] === copied[i]) result.typesMatched++;
    }
    result.sampled = sample.length;
    const mismatched = result.sampled - result.typesMatched - result.changedSince;
    if (mismatched > 0) result.reason = `${mismatched} of ${result.sampled} sampled keys have another type live`;
    result.ok = mismatched === 0;
    return result;
  } finally {
    client.disconnect();
    await scratch.stop();
  }
}
