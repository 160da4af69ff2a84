/**
 * The least privilege the runbook needs in Redis, as ACL rules (Redis ≥ 7.0): what a deployment that only diagnoses
 * needs, and what remediation adds. The README prints them, `k8s/` applies them, and a suite runs every Redis activity
 * as a user with exactly these rules, so a command the code starts to use without a rule here fails a test.
 */

/** What the runbook reads: INFO and settings, the paced scan (read-only Lua page script or its pipeline), Sidekiq. */
export const DIAGNOSE_COMMANDS = [
  // Connection: the client's handshake, the db of each step, topology (a Cluster replica's READONLY).
  '+ping',
  '+hello',
  '+auth',
  '+select',
  '+readonly',
  '+client|no-evict',
  '+client|list',
  '+client|setname',
  // Server state.
  '+info',
  '+time',
  '+dbsize',
  '+lastsave',
  '+config|get',
  '+memory|usage',
  '+memory|doctor',
  '+memory|stats',
  '+latency|latest',
  '+cluster|shards',
  '+cluster|info',
  '+cluster|nodes',
  // The scan: SCAN and lookups, or one read-only script per page.
  '+scan',
  '+type',
  '+pttl',
  '+exists',
  '+evalsha',
  '+eval',
  '+script|load',
  // Sidekiq's sets and counters, and a sample of its jobs.
  '+zcard',
  '+zcount',
  '+zrange',
  '+llen',
  '+scard',
  '+smembers',
  '+get',
  // The write probe on its own key (`runbook:probe:*`).
  '+set',
  '+unlink',
] as const;

/** What remediation adds: settings, snapshots and their copy, and the changes of key cleanups. */
export const REMEDIATE_COMMANDS = [
  '+config|set',
  '+config|rewrite',
  '+memory|purge',
  '+bgsave',
  // The backup copy streams the snapshot as a replica would (`redis-cli --rdb`).
  '+sync',
  '+replconf',
  // Cleanups: each batch and its progress marker in one script.
  '+expire',
  '+zremrangebyscore',
  '+zremrangebyrank',
  '+hset',
  '+hget',
  '+hgetall',
  '+hincrby',
] as const;

/** Keys the runbook writes for itself: the write probe, progress and backup markers. */
export const OWN_KEYS = ['~runbook:probe:*', '~redis-runbook:*'] as const;

/** What the runbook asks a Sentinel (ACLs there too, Redis ≥ 6.2): where the primary is, the replicas it counts. */
export const SENTINEL_COMMANDS = [
  '+ping',
  '+hello',
  '+auth',
  '+client|setname',
  // The client's ready check on connecting.
  '+info',
  '+sentinel|get-master-addr-by-name',
  '+sentinel|replicas',
] as const;

/** The rules of the runbook's user on each Sentinel (`user <name> reset on ><password> <rules…>` in sentinel.conf). */
export function runbookSentinelAclRules(): string[] {
  return ['resetchannels', '-@all', ...SENTINEL_COMMANDS];
}

export type AclProfile = 'diagnose' | 'remediate';

/**
 * The rules of the runbook's Redis user (`ACL SETUSER <user> reset on ><password> <rules…>`). Diagnose-only: read any
 * key (`%R~*`), write only its own. Remediate: write the keys of the cleanup patterns the deployment allows
 * (`cleanupPatterns`, e.g. `sess:tmp:*`; all keys when it allows any pattern, `['*']`) and Sidekiq's sets it trims.
 * `redisVersion` (default 7.0.0) adds `CLIENT NO-TOUCH` on servers that have it (7.2+; Valkey 8 answers 7.2.4).
 */
export function runbookAclRules(
  profile: AclProfile,
  options: { cleanupPatterns?: string[]; redisVersion?: string } = {},
): string[] {
  const { cleanupPatterns = ['*'], redisVersion = '7.0.0' } = options;
  // `CLIENT NO-TOUCH` came with 7.2: an older server refuses a rule that names a command it lacks.
  const [major = 0, minor = 0] = redisVersion.split('.').map(Number);
  const noTouch = major > 7 || (major === 7 && minor >= 2) ? ['+client|no-touch'] : [];
  const base = ['resetchannels', '-@all', ...DIAGNOSE_COMMANDS, ...noTouch, '%R~*', ...OWN_KEYS];
  if (profile === 'diagnose') return base;
  // Redis refuses any key pattern after `~*`: it covers them all.
  const writes = cleanupPatterns.includes('*') ? ['~*'] : [...cleanupPatterns.map((p) => `~${p}`), '~retry', '~dead'];
  return [...base, ...REMEDIATE_COMMANDS, ...writes];
}
