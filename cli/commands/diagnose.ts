/**
 * `runbook diagnose --redis <url> [--json] [--top N]`: the runbook's Redis diagnostics without Temporal, printed like
 * `redis-cli --bigkeys/--memkeys` would, with the findings under the worker's default thresholds. The same code as
 * the `diagnoseRedis` activity: SCAN (never KEYS), read-only lookups, one short-lived probe key.
 */
import { ApplicationFailure } from '@temporalio/common';
import { createRedisConnector, withRedis } from '../../activities/redis/connection.js';
import { collectDiagnostics } from '../../activities/redis/diagnose.js';
import { detachedProgress } from '../../activities/redis/progress.js';
import type { ScanState } from '../../activities/redis/scan.js';
import { DEFAULT_PASSWORD_ENV, runbookFileSchema } from '../../config/runbook-file.js';
import { RunbookErrorType } from '../../workflows/definitions.js';
import { deriveFindings } from '../../workflows/logic/findings.js';
import type { RedisDiagnostics } from '../../activities/redis/types.js';
import type { Thresholds } from '../../activities/settings/types.js';
import type { RedisAddress } from '../../workflows/definitions.js';
import type { Finding } from '../../workflows/logic/findings.js';
import { CliError, ExitCode, type Out } from '../client.js';
import { parseRedisAddress } from './start.js';

/** Options of `runbook diagnose`. */
export interface DiagnoseOptions {
  /** `host:port` or `redis://host:port[/db]`, without credentials (the password comes from `REDIS_PASSWORD`). */
  redis: string;
  json?: boolean;
  /** Biggest keys listed (default 20). */
  top?: number;
}

/** What `runbook diagnose` found. */
export interface DiagnoseResult {
  diagnostics: RedisDiagnostics;
  findings: Finding[];
}

const PROGRESS_EVERY_MS = 1000;
const MiB = 1024 * 1024;

/** The worker's default thresholds, from its config schema (a config file with nothing but approvers). */
export function defaultThresholds(): Thresholds {
  return runbookFileSchema.parse({ approval: { approvers: ['*'] } }).thresholds;
}

/**
 * Diagnoses the Redis at `opts.redis`, prints the report (or JSON) to `out` and progress to `err`.
 * @throws {CliError} exit code 2 for an address with credentials, a bad `--top` or refused credentials; 3 when Redis
 * cannot be reached.
 */
export async function diagnoseCommand(
  opts: DiagnoseOptions,
  io: { out: Out; err: Out; env: NodeJS.ProcessEnv },
): Promise<DiagnoseResult> {
  const addr = parseRedisAddress(opts.redis);
  const top = opts.top ?? 20;
  if (!Number.isInteger(top) || top <= 0)
    throw new CliError('--top: expected a positive whole number', ExitCode.refused);
  const password = io.env[DEFAULT_PASSWORD_ENV];
  const connect = createRedisConnector(() => (password ? { password } : undefined));

  const started = Date.now();
  let lastReport = 0;
  const progress = detachedProgress<ScanState>(undefined, (s) => {
    if (Date.now() - lastReport < PROGRESS_EVERY_MS) return;
    lastReport = Date.now();
    io.err(`scanned ${s.scanned} keys (db ${s.db}) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });
  let diagnostics: RedisDiagnostics;
  try {
    diagnostics = await withRedis(connect, addr, (redis) =>
      collectDiagnostics(redis, { topKeys: top, probeDb: addr.db }, progress),
    );
  } catch (err) {
    if (err instanceof ApplicationFailure && err.type === RunbookErrorType.RedisUnreachable)
      throw new CliError(err.message, ExitCode.unreachable);
    if (err instanceof ApplicationFailure && err.type === RunbookErrorType.RedisAuth)
      throw new CliError(`${err.message} (the password comes from ${DEFAULT_PASSWORD_ENV})`, ExitCode.refused);
    throw err;
  }
  io.err(`scanned ${diagnostics.scannedKeys} keys in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const findings = deriveFindings({ redis: diagnostics }, defaultThresholds());
  if (opts.json) io.out(JSON.stringify({ diagnostics, findings }, null, 2));
  else for (const line of renderDiagnosis(addr, diagnostics, findings)) io.out(line);
  return { diagnostics, findings };
}

const size = (bytes: number) =>
  bytes >= MiB ? `${(bytes / MiB).toFixed(1)} MiB` : bytes >= 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${bytes} B`;

/** The text report: memory, keyspace, biggest keys (overall and per type), prefixes, Sidekiq, commands, findings. */
export function renderDiagnosis(addr: RedisAddress, d: RedisDiagnostics, findings: Finding[]): string[] {
  const m = d.memory;
  const lines = [
    `# Redis ${d.version} at ${addr.host}:${addr.port}: ${d.scannedKeys} keys scanned`,
    '',
    '-------- memory --------',
    `used ${size(m.usedMemory)} (dataset ${m.usedMemoryDataset !== undefined ? size(m.usedMemoryDataset) : '?'}, ` +
      `overhead ${m.usedMemoryOverhead !== undefined ? size(m.usedMemoryOverhead) : '?'}), rss ${size(m.usedMemoryRss)}, ` +
      `peak ${size(m.usedMemoryPeak)}`,
    `fragmentation ${m.fragmentationRatio.toFixed(2)}` +
      (m.allocatorFragRatio !== undefined ? ` (allocator ${m.allocatorFragRatio.toFixed(2)})` : '') +
      `, maxmemory ${m.maxmemory === 0 ? '0 (unbounded)' : size(m.maxmemory)}, policy ${m.maxmemoryPolicy}`,
    `writes: ${d.writable ? 'accepted' : `refused (${d.writeError ?? '?'})`}; last bgsave ${d.persistence.rdbLastBgsaveStatus}`,
    ...d.keyspace.map((k) => `db${k.db}: ${k.keys} keys, ${k.expires} with a TTL`),
    '',
    '-------- biggest keys --------',
    ...d.bigKeys.map(
      (k) =>
        `${size(k.bytes).padStart(10)}  ${k.type.padEnd(6)} db${k.db}  ${k.key}${k.ttlSeconds === -1 ? '  (no TTL)' : ''}`,
    ),
    '',
    '-------- biggest key per type (among those) --------',
    ...[...new Map([...d.bigKeys].reverse().map((k) => [k.type, k])).values()]
      .sort((a, b) => b.bytes - a.bytes)
      .map((k) => `${k.type.padEnd(6)} ${k.key} ${size(k.bytes)}`),
    '',
    '-------- prefixes by memory --------',
    ...d.prefixes.map(
      (p) =>
        `${size(p.bytes).padStart(10)}  ${String(p.keys).padStart(9)} keys  ${String(p.keysWithoutTtl).padStart(9)} without TTL  ${p.prefix}`,
    ),
  ];
  const sk = d.sidekiq;
  if (sk) {
    lines.push(
      '',
      '-------- sidekiq --------',
      `retry ${sk.retry}, dead ${sk.dead}` +
        (sk.oldestDeadAgeSeconds !== undefined ? ` (oldest ${Math.floor(sk.oldestDeadAgeSeconds / 86400)} days)` : '') +
        `, schedule ${sk.schedule}; stat:* ${sk.statKeys} (${sk.statKeysWithoutTtl} without TTL)`,
      `queues: ${sk.queues.map((q) => `${q.name}=${q.length}`).join(', ') || 'none'}`,
    );
  }
  const c = d.commands;
  if (c) {
    lines.push(
      '',
      '-------- commands since stats reset --------',
      `KEYS ${c.keys}, DEL ${c.del} (${c.delUsecPerCall.toFixed(1)} µs/call), MONITOR ${c.monitor}, ` +
        `FLUSHALL ${c.flushall}, FLUSHDB ${c.flushdb}; error replies ${d.stats.totalErrorReplies ?? '?'}`,
    );
  }
  if (d.memoryDoctor) lines.push('', '-------- MEMORY DOCTOR --------', d.memoryDoctor);
  lines.push('', `-------- findings (${findings.length}) --------`);
  for (const f of findings) lines.push(`[${f.severity}] ${f.id}: ${f.message}`);
  return lines;
}
