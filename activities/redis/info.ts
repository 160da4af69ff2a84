/**
 * INFO text → typed figures. Pure: no I/O, unit-tested on captured replies.
 */
import type { RedisDiagnostics } from './types.js';

/** INFO as sections (lower-case names, e.g. `memory`) of `field → raw value`. */
export type InfoSections = Record<string, Record<string, string>>;

/**
 * Parses the text of `INFO [section…]`. Section headers (`# Memory`) become lower-case keys; fields before any header
 * land in section `default`. Values stay strings: see {@link infoNumber}. CRLF and LF line ends are both accepted.
 */
export function parseInfo(text: string): InfoSections {
  const sections: InfoSections = {};
  let current: Record<string, string> = {};
  sections['default'] = current;
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      const name = line.slice(1).trim().toLowerCase();
      current = sections[name] ?? {};
      sections[name] = current;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    current[line.slice(0, colon)] = line.slice(colon + 1);
  }
  if (Object.keys(sections['default'] ?? {}).length === 0) delete sections['default'];
  return sections;
}

/** A field as a number, or `undefined` when absent or not numeric. Looks in `section` only. */
export function infoNumber(sections: InfoSections, section: string, field: string): number | undefined {
  const raw = sections[section]?.[field];
  if (raw === undefined || raw.trim() === '') return undefined;
  const value = Number(raw);
  return Number.isFinite(value) ? value : undefined;
}

/** A field as a string, or `undefined` when absent. */
export function infoString(sections: InfoSections, section: string, field: string): string | undefined {
  return sections[section]?.[field];
}

/**
 * Parses one keyspace value, `keys=12,expires=3,avg_ttl=0`, into its numbers (missing ones are 0).
 */
export function parseKeyspaceValue(value: string): { keys: number; expires: number; avgTtl: number } {
  const fields: Record<string, number> = {};
  for (const part of value.split(',')) {
    const [name, raw] = part.split('=');
    if (name !== undefined && raw !== undefined) fields[name.trim()] = Number(raw);
  }
  const num = (n: string) => (Number.isFinite(fields[n]) ? (fields[n] ?? 0) : 0);
  return { keys: num('keys'), expires: num('expires'), avgTtl: num('avg_ttl') };
}

/** The `# Keyspace` section as a list sorted by db number. Databases with no keys do not appear in INFO. */
export function keyspaceOf(sections: InfoSections): RedisDiagnostics['keyspace'] {
  const out: RedisDiagnostics['keyspace'] = [];
  for (const [name, value] of Object.entries(sections['keyspace'] ?? {})) {
    const match = /^db(\d+)$/.exec(name);
    if (!match) continue;
    const { keys, expires } = parseKeyspaceValue(value);
    out.push({ db: Number(match[1]), keys, expires });
  }
  return out.sort((a, b) => a.db - b.db);
}

/** The figures of INFO the runbook reasons about (everything of {@link RedisDiagnostics} that INFO alone gives). */
export type InfoSummary = Pick<
  RedisDiagnostics,
  'version' | 'memory' | 'keyspace' | 'stats' | 'clients' | 'persistence'
>;

/**
 * Builds the typed summary from `INFO server memory keyspace stats clients persistence`. Absent numeric fields become 0
 * (or stay undefined where the type allows), so an older or trimmed INFO still yields a summary.
 */
export function summarizeInfo(sections: InfoSections): InfoSummary {
  const n = (section: string, field: string) => infoNumber(sections, section, field) ?? 0;
  const opt = (section: string, field: string) => infoNumber(sections, section, field);
  return {
    version: infoString(sections, 'server', 'redis_version') ?? 'unknown',
    memory: {
      usedMemory: n('memory', 'used_memory'),
      usedMemoryRss: n('memory', 'used_memory_rss'),
      usedMemoryPeak: n('memory', 'used_memory_peak'),
      usedMemoryDataset: opt('memory', 'used_memory_dataset'),
      usedMemoryOverhead: opt('memory', 'used_memory_overhead'),
      fragmentationRatio: n('memory', 'mem_fragmentation_ratio'),
      allocatorFragRatio: opt('memory', 'allocator_frag_ratio'),
      maxmemory: n('memory', 'maxmemory'),
      maxmemoryPolicy: infoString(sections, 'memory', 'maxmemory_policy') ?? 'unknown',
    },
    keyspace: keyspaceOf(sections),
    stats: {
      evictedKeys: n('stats', 'evicted_keys'),
      expiredKeys: n('stats', 'expired_keys'),
      keyspaceHits: n('stats', 'keyspace_hits'),
      keyspaceMisses: n('stats', 'keyspace_misses'),
      rejectedConnections: n('stats', 'rejected_connections'),
      totalErrorReplies: opt('stats', 'total_error_replies'),
    },
    clients: {
      connectedClients: n('clients', 'connected_clients'),
      blockedClients: n('clients', 'blocked_clients'),
    },
    persistence: {
      rdbLastBgsaveStatus: infoString(sections, 'persistence', 'rdb_last_bgsave_status') ?? 'unknown',
      rdbLastSaveTime: n('persistence', 'rdb_last_save_time'),
      rdbBgsaveInProgress: n('persistence', 'rdb_bgsave_in_progress') === 1,
      rdbChangesSinceLastSave: n('persistence', 'rdb_changes_since_last_save'),
      aofEnabled: n('persistence', 'aof_enabled') === 1,
      aofLastWriteStatus: infoString(sections, 'persistence', 'aof_last_write_status'),
      ...persistenceExtras(sections),
    },
  };
}

/** The loading, rewrite and copy-on-write fields of `INFO persistence`, where the server gives them. */
function persistenceExtras(sections: InfoSections): Partial<InfoSummary['persistence']> {
  const opt = (field: string) => infoNumber(sections, 'persistence', field);
  const flag = (field: string) => (opt(field) === undefined ? undefined : opt(field) === 1);
  const loading = flag('loading');
  const rewriting = flag('aof_rewrite_in_progress');
  const eta = opt('loading_eta_seconds');
  const rewriteSeconds = opt('aof_current_rewrite_time_sec');
  const bgrewrite = infoString(sections, 'persistence', 'aof_last_bgrewrite_status');
  const rdbCow = opt('rdb_last_cow_size');
  const aofCow = opt('aof_last_cow_size');
  return {
    ...(loading !== undefined && { loading }),
    ...(loading && eta !== undefined && { loadingEtaSeconds: eta }),
    ...(rewriting !== undefined && { aofRewriteInProgress: rewriting }),
    ...(rewriting && rewriteSeconds !== undefined && rewriteSeconds >= 0 && { aofRewriteSeconds: rewriteSeconds }),
    ...(bgrewrite !== undefined && { aofLastBgrewriteStatus: bgrewrite }),
    ...(rdbCow !== undefined && { rdbLastCowBytes: rdbCow }),
    ...(aofCow !== undefined && { aofLastCowBytes: aofCow }),
  };
}

/** The RDB fields of `INFO persistence` that {@link backupRedis} polls. */
export interface RdbState {
  inProgress: boolean;
  lastSaveTime: number;
  lastBgsaveStatus: string;
  /** Count of RDB saves started since boot (`rdb_saves`, Redis ≥ 7.0); undefined on older servers. */
  saves: number | undefined;
}

/** Reads {@link RdbState} from `INFO persistence`. */
export function rdbStateOf(sections: InfoSections): RdbState {
  return {
    inProgress: infoNumber(sections, 'persistence', 'rdb_bgsave_in_progress') === 1,
    lastSaveTime: infoNumber(sections, 'persistence', 'rdb_last_save_time') ?? 0,
    lastBgsaveStatus: infoString(sections, 'persistence', 'rdb_last_bgsave_status') ?? 'unknown',
    saves: infoNumber(sections, 'persistence', 'rdb_saves'),
  };
}

/** Per-command call counts from `INFO commandstats` (`cmdstat_get:calls=3,…` → `{ get: 3 }`; subcommands as `config|set`). */
export function commandCalls(sections: InfoSections): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, value] of Object.entries(sections['commandstats'] ?? {})) {
    if (!name.startsWith('cmdstat_')) continue;
    const calls = /(?:^|,)calls=(\d+)/.exec(value);
    out[name.slice('cmdstat_'.length)] = calls ? Number(calls[1]) : 0;
  }
  return out;
}

/** Calls and mean µs per call of one command in `INFO commandstats` (0 when it was never called). */
export function commandStat(sections: InfoSections, command: string): { calls: number; usecPerCall: number } {
  const value = sections['commandstats']?.[`cmdstat_${command}`] ?? '';
  const field = (name: string) => Number(new RegExp(`(?:^|,)${name}=([\\d.]+)`).exec(value)?.[1] ?? 0);
  return { calls: field('calls'), usecPerCall: field('usec_per_call') };
}

/** The {@link RedisDiagnostics} `commands` summary from `INFO commandstats`. */
export function riskyCommandsOf(sections: InfoSections): NonNullable<RedisDiagnostics['commands']> {
  const del = commandStat(sections, 'del');
  return {
    keys: commandStat(sections, 'keys').calls,
    del: del.calls,
    delUsecPerCall: del.usecPerCall,
    monitor: commandStat(sections, 'monitor').calls,
    flushall: commandStat(sections, 'flushall').calls,
    flushdb: commandStat(sections, 'flushdb').calls,
  };
}
