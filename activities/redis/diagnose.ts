import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { PrefixUsage, RedisDiagnostics } from './types.js';
import { configGet, infoText } from './config.js';
import { parseInfo, riskyCommandsOf, summarizeInfo } from './info.js';
import { protectOwnConnection, readServerSignals } from './server-signals.js';
import type { Progress } from './progress.js';
import { OTHER_PREFIX, type ScanOptions, type ScanState } from './scan.js';
import { scanNodes, type ScanNode } from './scan-nodes.js';
import { readSidekiqFigures } from './sidekiq.js';
import { localKey } from './topology.js';

/** Prefixes returned in the diagnostics (most bytes first); the rest are folded into `(other)`. */
const REPORTED_PREFIXES = 50;
const MAX_ERROR_TEXT = 300;
/** MEMORY DOCTOR is a paragraph or two; the start says what matters and the history stays small. */
const MAX_DOCTOR_TEXT = 600;

export interface DiagnoseOptions extends ScanOptions {
  /** Db of the write probe (default 0). */
  probeDb?: number;
  /** Where the key scan runs (a replica in sync, every primary of a Cluster); the diagnosed server when absent. */
  scanOn?: ScanNode[];
  /** Dbs to scan when they are not the diagnosed server's own (a Cluster's other primaries hold keys it lacks). */
  scanDbs?: number[];
  /** Heartbeat of a scan over several nodes (see {@link scanNodes}). */
  heartbeat?: (details: unknown) => void;
}

/**
 * Redis's own view of the incident: `INFO` (server, memory, keyspace, stats, clients, persistence), the `CONFIG GET`
 * values the runbook reasons about, a resumable big-key/prefix scan of every db with keys, Sidekiq figures when
 * Sidekiq keys exist, and a write probe (`SET runbook:probe:<random> PX 10000`, then `UNLINK`). INFO is read
 * first, so the figures predate the probe. A refused probe is a finding, not an error: `writable: false`.
 */
export async function collectDiagnostics(
  redis: Redis,
  options: DiagnoseOptions,
  progress: Progress<ScanState>,
): Promise<RedisDiagnostics> {
  const own = await protectOwnConnection(redis);
  const sections = parseInfo(
    await infoText(redis, 'server', 'memory', 'keyspace', 'stats', 'clients', 'persistence', 'commandstats'),
  );
  const info = summarizeInfo(sections);
  const signals = await readServerSignals(redis, sections, own);
  const memoryDoctor = await doctor(redis);
  const config = await configGet(
    redis,
    'maxmemory',
    'maxmemory-policy',
    'dir',
    'dbfilename',
    'appendonly',
    'appenddirname',
  );

  const dbs = options.scanDbs ?? info.keyspace.filter((d) => d.keys > 0).map((d) => d.db);
  const merged = await scanNodes(options.scanOn ?? [{ redis }], dbs, options, progress, options.heartbeat);
  const scan = merged.result;

  let sidekiq: RedisDiagnostics['sidekiq'];
  if (scan.sidekiqDb !== undefined) {
    const holder = merged.sidekiqOn ?? redis;
    await holder.select(scan.sidekiqDb);
    sidekiq = await readSidekiqFigures(holder, scan);
  }

  await redis.select(options.probeDb ?? 0);
  const probe = await probeWrite(redis);

  const maxmemory = Number(config['maxmemory'] ?? info.memory.maxmemory);
  return {
    collectedAt: new Date().toISOString(),
    ...info,
    config: {
      maxmemory: Number.isFinite(maxmemory) ? maxmemory : info.memory.maxmemory,
      maxmemoryPolicy: config['maxmemory-policy'] ?? info.memory.maxmemoryPolicy,
      dir: config['dir'],
      dbfilename: config['dbfilename'],
      appendonly: config['appendonly'],
      ...(config['appenddirname'] !== undefined && { appenddirname: config['appenddirname'] }),
    },
    bigKeys: scan.bigKeys,
    prefixes: foldPrefixes(scan.prefixes, REPORTED_PREFIXES),
    sidekiq,
    ...(memoryDoctor ? { memoryDoctor } : {}),
    signals,
    commands: riskyCommandsOf(sections),
    scannedKeys: scan.scannedKeys,
    ...(options.scanOn?.every((n) => n.at) && {
      scannedOn: options.scanOn.map((n, i) => ({ ...n.at!, keys: merged.perNode[i] ?? 0 })),
    }),
    ...probe,
  };
}

/** Keeps the `limit` prefixes with the most bytes and folds the others (and any existing `(other)`) into one. */
export function foldPrefixes(prefixes: PrefixUsage[], limit: number): PrefixUsage[] {
  const named = prefixes.filter((p) => p.prefix !== OTHER_PREFIX).sort((a, b) => b.bytes - a.bytes);
  const rest = [...named.slice(limit), ...prefixes.filter((p) => p.prefix === OTHER_PREFIX)];
  const kept = named.slice(0, limit);
  if (rest.length === 0) return kept;
  const other = rest.reduce(
    (acc, p) => ({
      prefix: OTHER_PREFIX,
      keys: acc.keys + p.keys,
      bytes: acc.bytes + p.bytes,
      keysWithoutTtl: acc.keysWithoutTtl + p.keysWithoutTtl,
    }),
    { prefix: OTHER_PREFIX, keys: 0, bytes: 0, keysWithoutTtl: 0 },
  );
  return [...kept, other];
}

/** `MEMORY DOCTOR`, whitespace folded and cut; undefined where the command is refused (ACL, renamed). */
async function doctor(redis: Redis): Promise<string | undefined> {
  try {
    const text = String(await redis.memory('DOCTOR'))
      .replace(/\s+/g, ' ')
      .trim();
    return text.length > MAX_DOCTOR_TEXT ? `${text.slice(0, MAX_DOCTOR_TEXT - 1)}…` : text;
  } catch (err) {
    if (!(err instanceof Error) || err.name !== 'ReplyError') throw err;
    return undefined;
  }
}

/** Tries a tiny write that expires by itself even if the UNLINK never runs. */
async function probeWrite(redis: Redis): Promise<{ writable: boolean; writeError?: string }> {
  const key = await localKey(redis, `runbook:probe:${randomBytes(8).toString('hex')}`);
  try {
    await redis.set(key, '1', 'PX', 10_000);
  } catch (err) {
    // Only a reply from Redis (OOM, MISCONF, READONLY…) is a finding; a lost connection is an error.
    if (!(err instanceof Error) || err.name !== 'ReplyError') throw err;
    return { writable: false, writeError: err.message.slice(0, MAX_ERROR_TEXT) };
  }
  await redis.unlink(key);
  return { writable: true };
}
