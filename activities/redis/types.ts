/** What the Redis activities return: diagnostics (INFO, CONFIG GET, a SCAN's big keys and prefixes) and the backup. */
import type { RedisTopology } from './topology.js';

export interface BigKey {
  /** Key name, truncated to 200 characters. */
  key: string;
  db: number;
  type: string;
  bytes: number;
  /** Seconds to live; -1 when the key has none. */
  ttlSeconds: number;
}

export interface PrefixUsage {
  prefix: string;
  keys: number;
  bytes: number;
  keysWithoutTtl: number;
}

/** Step 4: Redis's own view. Built from INFO, CONFIG GET and a SCAN (never KEYS). */
export interface RedisDiagnostics {
  collectedAt: string;
  version: string;
  memory: {
    usedMemory: number;
    usedMemoryRss: number;
    usedMemoryPeak: number;
    usedMemoryDataset?: number;
    /** Memory Redis spends on its own structures (buffers, dict overhead, replication backlog…). */
    usedMemoryOverhead?: number;
    fragmentationRatio: number;
    allocatorFragRatio?: number;
    maxmemory: number;
    maxmemoryPolicy: string;
  };
  keyspace: Array<{ db: number; keys: number; expires: number }>;
  stats: {
    evictedKeys: number;
    expiredKeys: number;
    keyspaceHits: number;
    keyspaceMisses: number;
    rejectedConnections: number;
    totalErrorReplies?: number;
  };
  clients: { connectedClients: number; blockedClients: number };
  persistence: {
    rdbLastBgsaveStatus: string;
    rdbLastSaveTime: number;
    rdbBgsaveInProgress: boolean;
    rdbChangesSinceLastSave: number;
    aofEnabled: boolean;
    aofLastWriteStatus?: string;
    /** Whether Redis is still loading its data (`loading:1`), and how long it expects to go on. */
    loading?: boolean;
    loadingEtaSeconds?: number;
    aofRewriteInProgress?: boolean;
    /** How long the running AOF rewrite has taken so far (`aof_current_rewrite_time_sec`). */
    aofRewriteSeconds?: number;
    aofLastBgrewriteStatus?: string;
    /** Memory the last fork copied on write (`rdb_last_cow_size`, `aof_last_cow_size`): what the next save needs free. */
    rdbLastCowBytes?: number;
    aofLastCowBytes?: number;
  };
  /** Values of CONFIG GET that the runbook reasons about. */
  config: {
    maxmemory: number;
    maxmemoryPolicy: string;
    dir?: string;
    dbfilename?: string;
    appendonly?: string;
    /** Where the AOF lives under `dir` (Redis ≥ 7.0). */
    appenddirname?: string;
  };
  bigKeys: BigKey[];
  prefixes: PrefixUsage[];
  sidekiq?: {
    retry: number;
    dead: number;
    schedule: number;
    queues: Array<{ name: string; length: number }>;
    statKeys: number;
    statKeysWithoutTtl: number;
    /** Age of the oldest job in the dead set, in seconds (from its score, the time it died); absent when empty. */
    oldestDeadAgeSeconds?: number;
    /** The server's clock (`TIME`, epoch seconds) when read: the base of an age cut-off that a retry keeps. */
    serverTime?: number;
    /** Age of the oldest failure among the sampled retry jobs (`failed_at`), in seconds. */
    oldestRetryAgeSeconds?: number;
    /** Job classes of the newest dead and retry jobs (a sample), most failing first: which worker is failing. */
    failingClasses?: Array<{ name: string; dead: number; retry: number }>;
  };
  /** `MEMORY DOCTOR`'s advice, cut short. */
  memoryDoctor?: string;
  /** What newer servers tell where memory and latency go (each field only where the server has it). */
  signals?: ServerSignals;
  /** Calls since the last stats reset (`INFO commandstats`) of the commands that hurt a busy server. */
  commands?: {
    keys: number;
    del: number;
    /** Mean µs per DEL: high when big keys are deleted synchronously (UNLINK frees them in the background). */
    delUsecPerCall: number;
    monitor: number;
    flushall: number;
    flushdb: number;
  };
  scannedKeys: number;
  /** The set or Cluster the target belongs to, found first (absent in the diagnoses of older versions). */
  topology?: RedisTopology;
  /** Where the key scan ran and how many keys each node gave: a replica in sync spares a struggling primary. */
  scannedOn?: Array<{ host: string; port: number; role: 'primary' | 'replica'; keys: number }>;
  /** Why the scan ran where it did. */
  scanNote?: string;
  /** A Cluster's primaries: memory and keys of each, and the largest over the mean (1 = even). */
  shards?: Array<{ host: string; port: number; usedMemory: number; maxmemory: number; keys: number }>;
  shardSkew?: number;
  /** Whether a write succeeded (a probe key with a short TTL, removed afterwards). */
  writable: boolean;
  writeError?: string;
}

export interface BackupResult {
  confirmed: boolean;
  lastSave: number;
  previousLastSave: number;
  status: string;
  dir?: string;
  dbfilename?: string;
  rdbBytes?: number;
  durationMs: number;
  error?: string;
  /** The copy streamed off the server and restore-tested; only a verified one makes the backup confirmed. */
  copy?: BackupCopy;
  /** The node that saved: a replica in sync spares the primary the fork. */
  takenOn?: { host: string; port: number; role: 'primary' | 'replica' };
  /** A Cluster: each shard's own snapshot, in slot order (the fields above sum or summarise them). */
  shards?: BackupResult[];
}

/** A snapshot copied off the Redis server into the backup store. */
export interface BackupCopy {
  /** Where it is, in the worker's backup store. */
  path: string;
  bytes: number;
  sha256: string;
  /** The RDB's own CRC-64, checked against its trailer. */
  crc64: string;
  rdbVersion: number;
  /** `redis-ver` of the server that wrote it. */
  redisVersion?: string;
  copiedAt: string;
  copyMs: number;
  /** MiB/s of the copy. */
  rate: number;
  restoreTest: RestoreTest;
  /** True when the checksum matched and the restore test passed: the only copy that counts. */
  verified: boolean;
  /** How to put it back, for the report. */
  restoreHint: string;
  /** Older copies of the target deleted by retention. */
  pruned: number;
  /** A Cluster: each shard's own copy, in slot order (the fields above sum or list them). */
  shards?: BackupCopy[];
}

/** A copy loaded into a scratch redis-server and compared. */
export interface RestoreTest {
  ok: boolean;
  reason?: string;
  scratchVersion: string;
  sourceVersion: string;
  /** Keys the scratch server loaded (in the snapshot's first database). */
  keys: number;
  /** The snapshot's own count (RESIZEDB). */
  expectedKeys?: number;
  sampled: number;
  typesMatched: number;
  /** Sampled keys gone from the live server since (not a mismatch). */
  changedSince: number;
  loadMs: number;
}

/** What a pattern cleanup would remove, shown before its approval. */
export interface CleanupPreview {
  pattern: string;
  /** Why the pattern may not be used (too broad…); nothing was scanned then. */
  refused?: string;
  /** Keys matching it in the target db. */
  keys: number;
  /** Their `MEMORY USAGE`, summed. */
  bytes: number;
  /** How many of them have a TTL (they would expire anyway). */
  withTtl: number;
  /** Up to three key names, cut to 100 characters. */
  samples: string[];
  /** Keys in the db (`DBSIZE`), to set the matches against. */
  dbKeys: number;
}

/** `MEMORY STATS`, `LATENCY LATEST`, `CLIENT LIST` and the client-memory fields of Redis 7. */
export interface ServerSignals {
  /** Client buffers (`MEMORY STATS` clients.normal): query and output buffers of ordinary clients. */
  clientsMemory?: number;
  /** Replicas' output buffers (`clients.slaves`). */
  replicaBuffersMemory?: number;
  replicationBacklog?: number;
  /** Memory `maxmemory` does not count (replica and AOF buffers): used memory can pass maxmemory by this much. */
  notCountedForEvict?: number;
  /** Clients Redis disconnected to keep `maxmemory-clients` (7.0+). */
  evictedClients?: number;
  /** `maxmemory-clients` (0: unlimited), where the server has it. */
  maxmemoryClients?: string;
  /** The client with the largest output buffer (`CLIENT LIST` omem). */
  largestOutputBuffer?: { bytes: number; client: string };
  /** `LATENCY LATEST`: events whose spikes the latency monitor saw (needs `latency-monitor-threshold`). */
  latency?: Array<{ event: string; latestMs: number; maxMs: number }>;
  /** Whether the runbook's own connection runs with `CLIENT NO-EVICT` / `NO-TOUCH` (refused by older servers). */
  ownConnection?: { noEvict: boolean; noTouch: boolean };
}
